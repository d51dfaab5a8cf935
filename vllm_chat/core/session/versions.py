"""Versions, forks and other windows: the conversation as a tree, seen from the session.

A regenerated reply or an edited prompt keeps the earlier versions
(`core/tree.py`); the session shows one version of each message and the
conversation below follows it. A fork starts a new saved session from any
message. And since the same session can be open in several windows, the
session reports what its saves had to merge (`take_save_outcomes`), notices
when another process changed the file (`disk_change`), and shows the file as
it is now on request (`reload`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vllm_chat.core import tree
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.session.conversations import ConversationsPart

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.store import DiskChange, SaveOutcome


class VersionsPart(ConversationsPart):
    """Versions of messages, forks, and keeping up with other windows."""

    _reported_change: DiskChange | None = None  # the last change of the file offered

    def alternatives(self, message_id: str) -> tuple[int, int]:
        """(k, n): the shown message is version k of n (1 of 1 when it has no alternatives).
        Raises KeyError for a message that is not shown."""
        return tree.version(self.conversation, message_id)

    def versions(self) -> dict[str, tuple[int, int]]:
        """(k, n) for every shown message that has alternatives (for `‹ k/n ›` marks)."""
        return tree.versions(self.conversation)

    def choose_alternative(self, message_id: str, k: int) -> Message:
        """Show version `k` (1-based) of the shown message `message_id`; the conversation
        below follows the branch last shown under it. Saved at once; returns the message now
        shown there. Raises KeyError / IndexError for a message or version that isn't, and
        RuntimeError while a turn runs (it is writing into the branch shown)."""
        self._not_while_running("switch versions")
        message = tree.choose(self.conversation, message_id, k)
        self._context_used = self._last_usage()
        self._changed()
        return message

    def step_alternative(self, message_id: str, step: int) -> Message | None:
        """Show the previous (`step` -1) or next (+1) version of a shown message; None when
        there is none that way (nothing changes)."""
        k, n = self.alternatives(message_id)
        if not 1 <= k + step <= n:
            return None
        return self.choose_alternative(message_id, k + step)

    def fork(self, message_id: str | None = None) -> Conversation:
        """Continue in a new session holding this conversation up to `message_id` (with the
        results of its tool calls), or all of it; the original stays saved as it is, and the
        new one records where it came from. Saved at once. Raises `StoreError` when there
        is nothing to fork or it can't be saved, `NoStore` when this run saves nothing."""
        from vllm_chat.core.store import StoreError

        store = self._saved()
        if self._engine.running:
            raise StoreError("a reply is still streaming: stop it first, then fork")
        conv = self.conversation
        try:
            count = tree.cut_after(conv, message_id) if message_id else len(conv.messages)
            forked = tree.fork_at(conv, count)
        except (KeyError, ValueError) as exc:
            raise StoreError(str(exc).strip("'\"")) from None
        self._flush()
        store.save(forked)
        self.open_conversation(forked)
        return forked

    def take_save_outcomes(self) -> list[SaveOutcome]:
        """Saves since the last call that merged another window's changes in, or had to make
        this conversation a session of its own (its id changed); each has a `notice` for the
        user. The front end shows the conversation again when there are any."""
        return self._recorder.take_outcomes() if self._recorder is not None else []

    def disk_change(self) -> DiskChange | None:
        """How this conversation's file was changed by another process since this one last
        read or wrote it (None: no change, or nothing new since the last report: a reply
        streaming in the other window is reported once, not at every save). Cheap: one
        `stat` when nothing changed. Offer `reload` when it returns something."""
        if self._store is None or self._engine.running:
            return None
        change = self._store.disk_change(self.conversation)
        if change is None or (change.new_messages == 0 and not change.deleted):
            self._reported_change = None
            return None
        last = self._reported_change
        if last is not None and last.deleted == change.deleted and change.new_messages <= last.new_messages:
            return None  # the other window is still streaming, or saved again with nothing new
        self._reported_change = change
        return change

    def reload(self) -> Conversation:
        """Show the conversation as its file holds it now, with the branch holding the newest
        message shown (what another window added). Unsaved changes here are saved (merged)
        first; tools allowed "for this session" stay allowed. Raises `StoreError` when the
        file can't be read, RuntimeError while a turn runs."""
        self._not_while_running("reload the conversation")
        store = self._saved()
        if self._recorder is not None:
            self._recorder.save_now()  # whatever this window has that the file lacks is merged in
        conv = store.load(self.conversation.id)
        tree.show_latest(conv)
        if not conv.model:
            conv.model = self.conversation.model
        self.conversation = conv
        self._recorder = self._recorder_for(conv)
        self._reported_change = None
        self._context_used = self._last_usage()
        self._status_changed()
        return conv

    def _not_while_running(self, what: str) -> None:
        if self._engine.running:
            raise RuntimeError(f"can't {what} while a reply is streaming: stop it first")
