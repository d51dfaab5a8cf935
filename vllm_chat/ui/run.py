"""Start the TUI: build the session from the settings and run the app."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from vllm_chat.core.config import Settings
from vllm_chat.core.conversation import Conversation

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.session import ChatSession


def run_tui(settings: Settings, *, conversation: Conversation | None = None, demo: bool = False) -> int:
    """Run the app until the user quits; returns the exit status."""
    from vllm_chat.core.model_prefetch import prefetch_for

    # Asked before anything heavy is imported: the answer is in by the first frame.
    models = prefetch_for(settings)
    from vllm_chat.ui.images import prepare_terminal

    # textual-image asks the terminal what it can draw, which must happen before
    # Textual takes over stdin. The questions wait up to ~0.1 s for answers, so
    # they are asked while the rest of the app is imported and built.
    probe = threading.Thread(target=prepare_terminal, args=(settings.attachments.image_protocol,),
                             name="terminal-probe", daemon=True)
    probe.start()

    from vllm_chat.core.history import PromptHistory
    from vllm_chat.core.paths import history_file
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.store import SessionStore
    from vllm_chat.ui.app import VllmChatApp

    session = ChatSession(settings, conversation=conversation, store=SessionStore(), demo=demo,
                          models_prefetch=models)
    app = VllmChatApp(session, prompt_history=PromptHistory(history_file()))
    probe.join()
    result = app.run()
    if session.save_problem:
        _say_unsaved(session)
        return 1
    return int(result or 0)


def _say_unsaved(session: ChatSession) -> None:
    """After the app ends: the conversation could not be saved, so say where a copy went."""
    import sys

    from vllm_chat.core.text import inert

    rescued = session.rescue()
    where = (f"A copy is in {rescued}; move it into the sessions folder once it can be written."
             if rescued else "No copy could be written anywhere.")
    print(f"vllm-chat: the last changes to the conversation were not saved: "
          f"{inert(session.save_problem)}. {where}", file=sys.stderr)
