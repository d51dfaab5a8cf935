"""Saving the open session as the engine works, so a crash loses almost nothing.

`SessionRecorder.observe(event)` is called for every engine event (the
engine has already applied it to the conversation). It saves at once on the
events that end a step (a request sent (50 ms later, so the request goes
first), a reply's tool calls ready (once per round), approval asked, a tool
result, the turn finished / stopped / failed; for several replies to one turn: their start, each one's end, and the
end of them all) and, while a reply streams, at most once per `interval` seconds,
checking the clock on every delta. `idle()` covers stalls: the engine calls
it when no event came for a while, after copying the text streamed so far into
the reply (deltas are joined into it only now and then). So a `kill -9` mid-reply loses at most
the last `interval` seconds of that reply and never an earlier message; the
reply is on disk with status `streaming` and comes back `stopped`
("interrupted ...") on load.

A save is one pydantic serialization and one small atomic write: a few
milliseconds for a typical session, cheap enough for the UI loop. But a session
may hold a huge reply, so within a turn (while a reply streams, the prompt's
save just after the turn starts, a round's tool calls, a tool's result) the
write and its fsync run in a thread (`BACKGROUND_WRITES`), one at a time, a
save asked for meanwhile following the one under way; the loop is where keys
are echoed. So is the save at a turn's end; `settled()` waits for it (a session's
turn does, before its last event is followed by the end of the iteration).
Errors (a full disk, a read-only folder) never escape `observe`: they are kept in
`last_error`, the conversation stays dirty so the next save tries again, and
`on_state` hears when saving starts failing, fails differently, or works again.

Another window may save the same session. The store notices before every
write and merges the other window's messages in (or, when the two versions
can't be merged, saves this one as a new session: the conversation's id
changes). What the user should hear about that is kept in `outcomes` until
the session takes it (`take_outcomes`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from vllm_chat.core.conversation import Conversation, new_id
from vllm_chat.core.events import (
    CandidateEvent,
    CandidatesDone,
    CandidatesStarted,
    Event,
    ToolApprovalNeeded,
    ToolCallReady,
    ToolResult,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnStopped,
)
from vllm_chat.core.loop_share import WAIT_STEP, LoopShare
from vllm_chat.core.store import (
    SaveOutcome,
    SessionChanged,
    SessionIdConflict,
    SessionStore,
    StoreError,
)

START_SAVE_DELAY = 0.05
"""Seconds from a turn's start to the save that puts its prompt on disk. The engine starts
the turn just before it sends the request; saving at once (JSON, an atomic write, fsync:
2-18 ms) held the request back by that much on the way from Enter to the first token."""


BACKGROUND_WRITES = True
"""Whether the saves made while a reply streams are written in a thread. Serializing stays
on the event loop (the conversation changes there); the write and its fsync do not: for a
reply of 1.5 MB they held the loop 50-100 ms every `interval`, and every key typed then."""


class SessionRecorder:
    """Keeps one conversation's file up to date from the engine's events."""

    def __init__(
        self,
        store: SessionStore,
        conversation: Conversation,
        interval: float = 2.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_state: Callable[[StoreError | None], None] | None = None,
        loop_share: LoopShare | None = None,
    ) -> None:
        """Record `conversation` into `store`, saving at least every `interval` seconds while streaming.

        `clock` gives seconds (monotonic; tests pass a fake). `on_state` is
        called with the error when saving starts failing or fails differently,
        and with None when a save works again (not on every attempt). A save
        made later (`_save_later`) waits while `loop_share` says the user's input
        is on its way.
        """
        self.store = store
        """Where the session is saved."""
        self.conversation = conversation
        """The conversation being recorded (its id may change, see `save_now`)."""
        self.interval = interval
        """Most seconds of a streaming reply that a crash can lose."""
        self.last_error: StoreError | None = None
        """The error of the last save attempt, or None if it worked."""
        self.saves = 0
        """How many saves reached the disk."""
        self.outcomes: list[SaveOutcome] = []
        """Saves that merged another window's changes or had to become a new session, not yet
        reported to the user (see `take_outcomes`)."""
        self._clock = clock
        self._on_state = on_state
        self._last_attempt = float("-inf")
        self._changes = 0
        self._saved_changes = 0
        self._calls_saved = False
        self._later: asyncio.TimerHandle | None = None
        self._loop_share = loop_share or LoopShare()
        self._held_since: float | None = None  # when a save made later began to wait for input
        self._writing: asyncio.Future[None] | None = None
        self._again = False  # a save was asked for while a write was under way

    @property
    def dirty(self) -> bool:
        """Whether events arrived since the last successful save."""
        return self._changes != self._saved_changes

    def observe(self, event: Event) -> None:
        """Take note of one engine event and save if it is time to. Never raises."""
        self._changes += 1
        match event:
            case TurnStarted():
                # It saves the user's prompt before a possibly long wait for the first token,
                # once the request is on its way (see `START_SAVE_DELAY`).
                self._calls_saved = False
                self._save_later(START_SAVE_DELAY)
            case ToolCallReady() if not self._calls_saved:
                # The engine has put every call of the reply into the message by now, and the
                # tools may run for a long time: the round's calls are saved at once, once (when
                # this turn of the loop's events are in: a refused or unknown tool answers at
                # once, and its calls and result then make one save of the history, not two).
                self._calls_saved = True
                self._save_later(0)
            case ToolApprovalNeeded() | ToolResult():
                self._save_later(0)  # an approval may wait long for the user; a result ends a step
            case TurnFinished() | TurnStopped() | TurnFailed():
                # Written in a thread like the saves within a turn (a long history's write and
                # fsync held the loop, and a key typed as the turn ended, 20-40 ms); the turn's
                # consumer awaits `settled()` for a file that is complete.
                self._save_later(0)
            case CandidatesStarted() | CandidatesDone() | CandidateEvent(
                    event=TurnFinished() | TurnStopped() | TurnFailed()):
                self.save_now()  # several replies: the prompt before the wait, and each reply's end
            case _:
                self.tick()  # deltas, usage, a tool starting: at most once per interval

    def _save_later(self, delay: float) -> None:
        """Save, written in a thread like a streaming save, `delay` seconds from now (or
        sooner if a save is already due sooner); at once outside an event loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save_now()
            return
        due = loop.time() + delay
        if self._later is not None and self._later.when() <= due:
            return
        if self._later is not None:
            self._later.cancel()
        self._later = loop.call_at(due, self._saved_later)

    def _saved_later(self) -> None:
        self._later = None
        since = self._held_since or time.monotonic()
        if self._loop_share.holds(since):
            # Serializing a long history holds the loop: the key on its way is shown first.
            self._held_since = since
            self._later = asyncio.get_running_loop().call_later(WAIT_STEP, self._saved_later)
            return
        self._held_since = None
        if self.dirty:
            self._save_off_loop()

    async def settled(self) -> None:
        """Wait until the saves asked for so far are made (or have failed: see `last_error`).

        Cancelling the wait leaves them to finish on their own."""
        while self._later is not None or self._writing is not None:
            if self._writing is not None:
                # Its own callback (`_written`, added first) has run when this wakes up.
                await asyncio.wait([self._writing])
            else:
                await asyncio.sleep(WAIT_STEP)

    def mark_changed(self) -> None:
        """Note a change made outside the engine (title, model, params); the next save writes it."""
        self._changes += 1

    def idle(self, synced: bool) -> None:
        """No event came for a while; the engine has just copied the text streamed so far into
        the messages (`synced`: it brought something new, which no event announced). Save it
        if it is time to."""
        if synced:
            self._changes += 1
        self.tick()

    def tick(self) -> None:
        """Save if there are unsaved changes and `interval` has passed since the last attempt.

        `observe` calls this on every delta, and `idle` when no event came for a
        while (a stalled stream, a long tool run).
        """
        if self.dirty and self._clock() - self._last_attempt >= self.interval:
            self._save_off_loop()

    def _save_off_loop(self) -> None:
        """A save within a turn: serialized here, written and fsynced in a thread (see
        `BACKGROUND_WRITES`); at once where there is no event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.save_now()
            return
        if not BACKGROUND_WRITES or self._nothing_to_keep():
            self.save_now()
            return
        if self._writing is not None:
            self._again = True  # the write under way is followed by another
            return
        self._last_attempt = self._clock()
        changes = self._changes
        try:
            prepared = self.store.prepare(self.conversation)
        except Exception:  # the plain save says what went wrong, as always
            self.save_now()
            return
        self._writing = asyncio.ensure_future(asyncio.to_thread(self.store.commit_for, self.conversation, prepared))
        self._writing.add_done_callback(lambda done: self._written(done, changes))

    def _written(self, done: asyncio.Future[None], changes: int) -> None:
        """Back on the loop after a write in a thread (then the write asked for meanwhile)."""
        self._writing = None
        again, self._again = self._again, False
        if done.cancelled():
            return
        error = done.exception()
        if isinstance(error, (SessionChanged, SessionIdConflict)):
            self.save_now()  # another window wrote the file: merge (or fork) here, on the loop
        elif isinstance(error, Exception):
            self._failed(self._as_store_error(error))
        else:
            self._succeeded(changes)
        if again and self.dirty:
            self._save_off_loop()

    def save_now(self) -> bool:
        """Save the conversation now; True if it reached the disk.

        If the conversation's id belongs to a file that can't be read, that
        file is left alone and the conversation gets a new id. A conversation
        that never had a message is not written (a new chat that was left
        empty leaves no file behind).
        """
        if self._later is not None:
            self._later.cancel()
            self._later = None
        self._held_since = None
        self._last_attempt = self._clock()
        changes = self._changes
        if self._nothing_to_keep():
            self._succeeded(changes, written=False)
            return True
        try:
            try:
                outcome = self.store.save(self.conversation)
            except SessionIdConflict:
                self.conversation.id = new_id()
                outcome = self.store.save(self.conversation)
        except Exception as exc:  # a bug in saving must not end the chat; it is reported instead
            self._failed(self._as_store_error(exc))
            return False
        if outcome.merged is not None or outcome.forked_from is not None:
            self.outcomes.append(outcome)
        self._succeeded(changes)
        return True

    def take_outcomes(self) -> list[SaveOutcome]:
        """The merges and forced forks since the last call (and forget them)."""
        taken, self.outcomes = self.outcomes, []
        return taken

    def _as_store_error(self, exc: Exception) -> StoreError:
        if isinstance(exc, StoreError):
            return exc
        return StoreError(f"can't save session {self.conversation.id}: {exc!r}")

    def _nothing_to_keep(self) -> bool:
        return not self.conversation.messages and self.saves == 0

    def _succeeded(self, changes: int, written: bool = True) -> None:
        self._saved_changes = max(self._saved_changes, changes)
        recovered = self.last_error is not None
        self.last_error = None
        if written:
            self.saves += 1
        if recovered and self._on_state is not None:
            self._on_state(None)

    def _failed(self, exc: StoreError) -> None:
        repeated = self.last_error is not None and str(self.last_error) == str(exc)
        self.last_error = exc
        if self._on_state is not None and not repeated:
            self._on_state(exc)

