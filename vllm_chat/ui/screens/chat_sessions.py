"""What the chat screen does with saved sessions: browse, open, rename, export.

A mixin of `ChatScreen`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.ui.screens.chat import ChatScreen


class SessionActions:
    """Saved conversations from inside the app."""

    def action_browse_sessions(self: ChatScreen) -> None:
        """Saved conversations: filter, open, rename, delete."""
        from vllm_chat.ui.screens.sessions import SessionBrowserScreen

        store = self.session.store
        if store is None:
            self.notify("This run does not save sessions.", severity="warning")
            return

        def chosen(choice: tuple[str, str] | None) -> None:
            if choice and choice[0] == "open":
                self.open_session(choice[1])

        self.app.push_screen(SessionBrowserScreen(store, self.session.conversation.id), chosen)

    def open_session(self: ChatScreen, session_id: str) -> None:
        """Load a saved conversation and show it (the current one stays saved)."""
        from vllm_chat.core.store import StoreError

        assert self.session.store is not None
        try:
            conv = self.session.store.load(session_id)
        except StoreError as exc:
            self.notify(str(exc), title="Can't open", severity="error", markup=False)
            return
        self.session.stop()
        self.session.open_conversation(conv)
        self.show_conversation()
        self.status.model = self.session.conversation.model
        self.status.context_max = self.session.context_window
        self.status.tools = self.session.tools_on
        self.prompt.focus()

    def on_session_browser_screen_renamed(self: ChatScreen, event: object) -> None:
        conv = self.session.conversation
        if getattr(event, "session_id", None) == conv.id:
            conv.title = event.title  # type: ignore[attr-defined]
            self.session.save()  # or the next autosave would bring the old title back

    def action_export(self: ChatScreen) -> None:
        """Write this conversation to a Markdown or JSON file."""
        from vllm_chat.ui.screens.export import ExportScreen

        def written(path: object) -> None:
            if path:
                self.notify(f"Exported to {path}", title="Export", markup=False)

        self.app.push_screen(ExportScreen(self.session.conversation), written)
