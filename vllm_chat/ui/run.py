"""Start the TUI: build the session from the settings and run the app."""

from __future__ import annotations

import threading

from vllm_chat.core.config import Settings
from vllm_chat.core.conversation import Conversation


def run_tui(settings: Settings, *, session: Conversation | None = None, demo: bool = False) -> int:
    """Run the app until the user quits; returns the exit status."""
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

    chat = ChatSession(settings, conversation=session, store=SessionStore())
    app = VllmChatApp(chat, demo=demo, prompt_history=PromptHistory(history_file()))
    probe.join()
    result = app.run()
    return int(result or 0)
