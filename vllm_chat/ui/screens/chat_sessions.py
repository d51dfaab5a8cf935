"""What the chat screen does with saved sessions: browse, open, export, fork, switch
versions, and keep up with other windows on the same session.

A mixin of `ChatScreen`. Every change goes through `ChatSession`; here are
only the notices and the redrawing. Other windows: every `DISK_CHECK_SECONDS`
the screen asks the session whether the conversation's file changed (one
`stat`) and offers to reload it, and shows what the session's own saves had to
merge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vllm_chat.ui.keys import key_hint

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.ui.screens.chat import ChatScreen
    from vllm_chat.ui.widgets.message_views import MessageView

DISK_CHECK_SECONDS = 2.0
"""How often the screen looks for changes another window made to the conversation's file."""


class SessionActions:
    """Saved conversations from inside the app."""

    _redraw_after_turn = False  # a save merged another window's messages while a reply streamed

    def action_browse_sessions(self: ChatScreen) -> None:
        """Saved conversations: filter, search, open, rename, delete."""
        from vllm_chat.ui.screens.sessions import SessionBrowserScreen

        if not self.session.saves:
            self.notify("This run does not save sessions.", severity="warning", markup=False)
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

    # -- versions, forks, other windows --------------------------------------------------

    def show_version(self: ChatScreen, view: MessageView, step: int) -> None:
        """Show the previous (-1) or next (+1) version of a message, keeping it focused."""
        message = self.session.step_alternative(view.message.id, step)
        if message is None:
            return
        self.show_conversation()
        self.messages.focus_message_id(message.id)

    def fork_conversation(self: ChatScreen, message_id: str | None = None) -> None:
        """Continue in a new session holding the conversation up to `message_id` (all of it
        when None); the original stays saved as it is."""
        from vllm_chat.core.session import NoStore
        from vllm_chat.core.store import StoreError

        if self.session.running:
            self.notify("A reply is still streaming: esc stops it, then fork.", severity="warning", markup=False)
            return
        original = self.session.conversation.title
        try:
            forked = self.session.fork(message_id)
        except (StoreError, NoStore) as exc:
            self.notify(str(exc), title="Can't fork", severity="error", markup=False)
            return
        self.show_conversation()
        self.prompt.focus()
        self.notify(f"This is a new session with the first {len(forked.messages)} messages of “{original}”, "
                    "which stays as it was.", title="Forked", markup=False)

    def action_fork_conversation(self: ChatScreen) -> None:
        """Continue in a new session holding this whole conversation."""
        self.fork_conversation(None)

    def action_reload_conversation(self: ChatScreen) -> None:
        """Show the conversation as its file holds it now (what another window added)."""
        from vllm_chat.core.store import StoreError

        if self.session.running:
            self.notify("A reply is still streaming: reload once it is done.", severity="warning", markup=False)
            return
        try:
            self.session.reload()
        except StoreError as exc:
            self.notify(str(exc), title="Can't reload", severity="error", markup=False)
            return
        self.show_conversation()

    def check_disk(self: ChatScreen) -> None:
        """Say what saves merged from other windows, and offer a reload when the file changed."""
        outcomes = self.session.take_save_outcomes()
        for outcome in outcomes:
            if outcome.notice:
                self.notify(outcome.notice, title="Another window", timeout=12, markup=False)
        if outcomes:
            self._redraw_after_turn = True
        if self.session.running:
            return
        if self._redraw_after_turn:
            self._redraw_after_turn = False
            self.show_conversation()
        change = self.session.disk_change()
        if change is None:
            return
        if change.deleted:
            self.notify("This conversation's file was deleted by another program; it is written again "
                        "at the next save.", title="Another window", severity="warning", markup=False)
            return
        count = f"{change.new_messages} new message{'s' if change.new_messages != 1 else ''}"
        self.notify(f"This conversation changed in another window ({count}). "
                    f"{key_hint(self.app, 'reload-conversation')} shows them.",
                    title="Another window", timeout=15, markup=False)

