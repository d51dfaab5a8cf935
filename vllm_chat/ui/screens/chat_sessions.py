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

        if not self.session.saves:
            self.notify("This run does not save sessions.", severity="warning")
            return

        def chosen(choice: tuple[str, str] | None) -> None:
            if choice and choice[0] == "open":
                self.open_session(choice[1])

        self.app.push_screen(SessionBrowserScreen(self.session), chosen)

    def open_session(self: ChatScreen, session_id: str) -> None:
        """Load a saved conversation and show it (the current one stays saved)."""
        from vllm_chat.core.store import StoreError

        try:
            self.session.open_saved(session_id)
        except StoreError as exc:
            self.notify(str(exc), title="Can't open", severity="error", markup=False)
            return
        self.show_conversation()
        self.prompt.focus()

    def action_export(self: ChatScreen) -> None:
        """Write this conversation to a Markdown or JSON file."""
        from vllm_chat.ui.screens.export import ExportScreen

        def written(path: object) -> None:
            if path:
                self.notify(f"Exported to {path}", title="Export", markup=False)

        self.app.push_screen(ExportScreen(self.session), written)
