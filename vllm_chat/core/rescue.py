"""The last way not to lose a conversation: a private copy in the temporary folder.

When the data folder can't be written (full disk, read-only, removed), the
session keeps the conversation in memory and keeps trying; when the program
is about to end without a successful save, `rescue_copy` writes the session
document where it still can and the front end says where.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from vllm_chat.core.conversation import Conversation


def rescue_copy(conv: Conversation) -> Path | None:
    """Write `conv` as a session file (mode 0600) in the temporary folder; None if even that fails.

    The file is named after the session id, so `vllm-chat` can be pointed at it
    once the data folder works again (copy it into the sessions folder)."""
    from vllm_chat.core.store import session_json

    folder = Path(tempfile.gettempdir())
    path = folder / f"vllm-chat-rescued-{conv.id}.json"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(session_json(conv))
    except OSError:
        return None
    return path
