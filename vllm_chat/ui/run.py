"""Start the TUI: build the session from the settings and run the app."""

from __future__ import annotations

from vllm_chat.core.config import Settings
from vllm_chat.core.conversation import Conversation


def run_tui(settings: Settings, *, session: Conversation | None = None, demo: bool = False) -> int:
    """Run the app until the user quits; returns the exit status."""
    from vllm_chat.core.history import PromptHistory
    from vllm_chat.core.paths import history_file
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.store import SessionStore
    from vllm_chat.ui.app import VllmChatApp

    from vllm_chat.ui.images import prepare_terminal

    # textual-image asks the terminal what it can draw; that must happen before
    # Textual takes over stdin.
    prepare_terminal(settings.attachments.image_protocol)
    chat = ChatSession(settings, conversation=session, store=SessionStore())
    app = VllmChatApp(chat, demo=demo, prompt_history=PromptHistory(history_file()))
    result = app.run()
    return int(result or 0)
