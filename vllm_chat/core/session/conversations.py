"""Which conversation the session holds: a new one, a saved one, and the saved
conversations around it (list, search, rename, delete, export)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vllm_chat.core.conversation import Conversation
from vllm_chat.core.session.base import SessionBase
from vllm_chat.core.session.controls import ControlsPart

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.export import ExportFormat
    from vllm_chat.core.store import SessionStore, SessionSummary, UnreadableSession
    from vllm_chat.core.store.search import SearchHit


class NoStore(Exception):
    """This session does not save conversations (one-shot mode without --save)."""


class ConversationsPart(ControlsPart, SessionBase):
    """Moving between conversations, and managing the saved ones."""

    def _saved(self) -> SessionStore:
        if self._store is None:
            raise NoStore("This run does not save conversations.")
        return self._store

    def _switch_to(self, conv: Conversation) -> None:
        self._flush()
        self._forget_approvals()
        self.conversation = conv
        self._recorder = self._recorder_for(conv)
        self._context_used = self._last_usage()
        self._status_changed()

    def new_conversation(self) -> Conversation:
        """Start over with an empty conversation on the same model (the old one stays
        saved); tools allowed "for this session" need approval again."""
        self._engine.stop()
        model = self.conversation.model
        conv = self._fresh_conversation()
        conv.model = model or conv.model
        self._switch_to(conv)
        return conv

    def open_conversation(self, conv: Conversation) -> None:
        """Show and continue `conv` (the current one stays saved); tools allowed "for this
        session" need approval again. A conversation without a model keeps the current one."""
        self._engine.stop()
        if not conv.model and self.conversation.model:
            conv.model = self.conversation.model
        self._switch_to(conv)

    def open_saved(self, session_id: str) -> Conversation:
        """Load the saved conversation `session_id` and continue it (raises `StoreError`
        with the reason when it can't be read, `NoStore` when this run saves nothing)."""
        conv = self._saved().load(session_id)
        self.open_conversation(conv)
        return conv

    def list_saved(self) -> tuple[list[SessionSummary], list[UnreadableSession]]:
        """The saved conversations (newest first) and the files that can't be read."""
        return self._saved().list()

    def search_saved(self, query: str, *, everywhere: bool = True, limit: int = 100) -> list[SearchHit]:
        """Saved conversations holding every word of `query` (title or any message; with
        `everywhere` also reasoning and tool calls and results), best first, each with a
        snippet. May read many files the first time: call it from a worker thread."""
        return self._saved().search(query, everywhere=everywhere, limit=limit)

    def prepare_search(self) -> bool:
        """Bring the saved conversations' search index up to date now, if one exists (False
        when none does: the first search builds it), so that the next `search_saved` answers
        at once. Call it from a worker thread, e.g. when a list of saved conversations opens."""
        return self._saved().prepare_search()

    def rename_saved(self, session_id: str, title: str) -> None:
        """Give a saved conversation a new title (the one shown, if it is that one);
        whitespace is collapsed, and an empty title is refused (`StoreError`)."""
        from vllm_chat.core.store import StoreError

        clean = " ".join(title.split())
        if not clean:
            raise StoreError("a title can't be empty")
        if session_id == self.conversation.id:
            self.conversation.title = clean
            self._changed()
            return
        self._saved().rename(session_id, clean)

    def delete_saved(self, session_id: str) -> None:
        """Delete a saved conversation's file. Deleting the one shown starts a new one."""
        self._saved().delete(session_id)
        if session_id == self.conversation.id:
            self._recorder = None  # or the switch would save the deleted conversation again
            self.new_conversation()

    def export(self, path: Path, fmt: ExportFormat | None = None) -> Path:
        """Write the conversation to `path` as Markdown or JSON (from the suffix when `fmt`
        is None); returns the path written, or raises `StoreError` saying why not."""
        from vllm_chat.core.export import export

        return export(self.conversation, path, fmt)
