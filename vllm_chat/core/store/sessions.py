"""`SessionStore`: the sessions folder. Save, load, list, search, rename, fork and delete.

Each session is `<id>.json` in the sessions folder (`paths.sessions_dir()`),
written atomically with mode 0600. Nothing that could hold the API key is
written: the conversation has no key field, and a `user:password@` in the
server URL is removed before saving.

Several processes may write the folder at once (two windows on one session,
`vllm-chat -p --save` loops, `sessions delete`). Every write happens under the
folder lock and first checks that the file is still what this process last
read or wrote (`DiskState` on the conversation: generation, stat key, bytes).
If another process saved in between, `save` merges the two versions
(`merge.py`); if they can't be merged, this process's version is saved as a
new session that records where it came from, and the outcome says which file
holds it. Nothing is ever overwritten blindly.

A file that can't be read (not JSON, wrong shape, a newer schema) is listed
as unreadable with the reason and is never overwritten or deleted, except by
an explicit `delete()`. Older schemas are upgraded on load (`migrations.py`).
"""

from __future__ import annotations

import builtins
import dataclasses
import itertools
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vllm_chat.core import paths, tree
from vllm_chat.core.conversation import Conversation, Origin, new_id
from vllm_chat.core.store.changes import noted
from vllm_chat.core.store.documents import (
    DiskState,
    SessionSummary,
    SummaryRow,
    UnreadableSession,
    parse_document,
    parse_session,
    session_json,
    summarize,
)
from vllm_chat.core.store.errors import SessionChanged, SessionIdConflict, StoreError
from vllm_chat.core.store.files import (
    LOCK_TIMEOUT,
    FolderLock,
    StatKey,
    atomic_write,
    read_with_key,
    stat_key,
)
from vllm_chat.core.store.listing import SESSION_ID, Entry, Listing
from vllm_chat.core.store.merge import MergeResult, merge

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.store.search import SearchHit, SearchIndex


@dataclass(frozen=True)
class PreparedSave:
    """A conversation serialized for saving, so the disk write can run in another thread."""

    id: str
    """The session id."""
    payload: bytes
    """The file content."""
    summary: SummaryRow
    """The summary of this content, as the listing keeps it."""
    seq: int
    """Order of preparation: an older snapshot is never written over a newer one."""
    generation: int
    """The `generation` written into the file."""
    expected: DiskState | None
    """What the file must still be for this write to go ahead (None: nothing known)."""


@dataclass(frozen=True)
class SaveOutcome:
    """What a save did besides writing the conversation."""

    path: Path
    """The file written."""
    merged: MergeResult | None = None
    """Another process had saved this session meanwhile; its changes were merged in."""
    forked_from: str | None = None
    """The two versions couldn't be merged, so this one was saved as a new session
    (the conversation's id changed); this is the session id it had."""
    conflict: str = ""
    """Why they couldn't be merged."""

    @property
    def notice(self) -> str | None:
        """What to tell the user, or None when there is nothing to tell."""
        if self.forked_from is not None:
            return (f"This conversation was changed in another window in a way that can't be merged "
                    f"({self.conflict}), so nothing there was overwritten: this window's version is now "
                    f"a session of its own, {self.path.stem}, in {self.path}. The other version stays "
                    f"in session {self.forked_from}.")
        merged = self.merged
        if merged is None or not (merged.added or merged.deleted):
            return None
        parts = []
        if merged.added:
            count = f"{merged.added} message{'s' if merged.added != 1 else ''}"
            if merged.shown_added == merged.added:
                parts.append(f"{count} from another window were added to this conversation")
            elif merged.fork_at is not None:
                parts.append(f"{count} from another window are kept as another version of message "
                             f"{merged.fork_at} (switch versions on that message)")
            else:
                parts.append(f"{count} from another window are kept in this conversation")
        if merged.deleted:
            parts.append(f"{merged.deleted} message{'s' if merged.deleted != 1 else ''} deleted in "
                         "another window left this conversation (the file keeps them)")
        return "; ".join(parts) + "."


@dataclass(frozen=True)
class DiskChange:
    """The session's file changed since this process last read or wrote it."""

    new_messages: int
    """Messages in the file that this conversation doesn't have."""
    deleted: bool = False
    """The file is gone (the next save writes it again)."""
    stat: StatKey | None = None
    """The stat key of the file as seen (two reports of one change are equal)."""


class SessionStore:
    """The sessions folder: save, load, list, search, rename, fork and delete sessions.

    Safe to use from several threads (e.g. saves on the UI loop while a
    search runs in a worker) and alongside other vllm-chat processes.
    """

    def __init__(self, root: Path | None = None, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        """Use `root` as the sessions folder (default: `paths.sessions_dir()`); a write waits
        at most `lock_timeout` seconds for another process's write."""
        # Created by the first save, not here: listing must not create folders.
        self.root: Path = paths.sessions_dir() if root is None else Path(root).expanduser()
        """The sessions folder."""
        self.lock = FolderLock(self.root, lock_timeout)
        """The folder's write lock, shared with other processes."""
        self.listing = Listing(self.root, self.lock)
        """The summaries of every session file, cached in `.index.json`."""
        self._lock = threading.RLock()
        self._seq = itertools.count()
        self._committed: dict[str, int] = {}  # session id -> seq of the last snapshot written
        self._search: SearchIndex | None = None
        # Each summary made once: file name -> the listing's result it was made from, and the summary
        # (two dicts rather than one of pairs: 10,000 pairs would be 10,000 more objects for the GC).
        self._sources: dict[str, SummaryRow] = {}
        self._summaries: dict[str, SessionSummary] = {}

    # paths and ids

    def path_for(self, session_id: str) -> Path:
        """The file of a session id; raises `StoreError` for an id that is not a plain name."""
        if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
            raise StoreError(
                f"{session_id!r} is not a session id (ids are letters, digits, '-' and '_')"
            )
        return self.root / f"{session_id}.json"

    # saving

    def prepare(self, conv: Conversation, *, expected: DiskState | None = None,
                generation: int | None = None) -> PreparedSave:
        """Serialize `conv` for `commit()` (cheap; run it where `conv` is being changed).

        The file must still be as `conv` last saw it (or as `expected` says).
        """
        self.path_for(conv.id)
        tree.link(conv)
        known = _state_of(conv)
        if expected is None:
            expected = known
        if generation is None:
            generation = max(known.generation if known else 0, expected.generation if expected else 0) + 1
        payload = session_json(conv, generation).encode("utf-8")
        return PreparedSave(conv.id, payload, summarize(conv), next(self._seq), generation, expected)

    def commit(self, prepared: PreparedSave) -> DiskState | None:
        """Write a prepared session atomically, update the index, and return the file's new state
        (None when a newer snapshot was written already and this one was dropped).

        Raises `SessionChanged` if another process changed the file since (call
        `save` to merge), `SessionIdConflict` if a file with this id exists and
        can't be read (it is never overwritten), `StoreLocked` if another
        process holds the lock too long, `StoreError` if the write fails.
        """
        path = self.path_for(prepared.id)
        self._ensure_folder(path)
        with self._lock, self.lock.held(doing=f"save session {prepared.id} to {path}"):
            if self._committed.get(prepared.id, -1) > prepared.seq:
                return None
            self._check_unchanged(path, prepared.expected)
            try:
                with noted(self.root, path.name):
                    atomic_write(path, prepared.payload)
                key = stat_key(os.stat(path))
            except OSError as exc:
                raise StoreError(f"can't save session {prepared.id} to {path}: {exc.strerror or exc}") from None
            self._committed[prepared.id] = prepared.seq
            self.listing.note(path.name, key, prepared.summary)  # in the lock: see listing.py
        return DiskState(prepared.id, prepared.generation, key, prepared.payload, prepared.seq)

    def commit_for(self, conv: Conversation, prepared: PreparedSave) -> None:
        """`commit` from a writer thread, noting the new state on `conv` before the lock is let
        go, so a `save` of `conv` on its own thread never takes this write for another's."""
        with self._lock:
            state = self.commit(prepared)
            known = _state_of(conv)
            if state is not None and conv.id == prepared.id and (known is None or known.seq < state.seq):
                conv._disk = state

    def save(self, conv: Conversation) -> SaveOutcome:
        """Write `conv` to its file atomically (mode 0600), never over another writer's work.

        If another process saved the session since `conv` was read or last
        saved, its changes are merged into `conv` (which changes in place)
        before writing; if they can't be merged, `conv` gets a new id and is
        saved as a session of its own (`SaveOutcome.forked_from`). Raises like
        `commit`, except `SessionChanged`.
        """
        path = self.path_for(conv.id)
        self._ensure_folder(path)
        with self._lock, self.lock.held(doing=f"save session {conv.id} to {path}"):
            try:
                state = self.commit(self.prepare(conv))
            except SessionChanged:
                return self._merge_and_save(conv, path)
            if state is not None:
                conv._disk = state
            return SaveOutcome(path)

    def _ensure_folder(self, path: Path) -> None:
        try:
            paths.ensure_private_dir(self.root)
        except OSError as exc:
            raise StoreError(f"can't save session {path.stem} to {path}: {exc.strerror or exc}") from None

    def _check_unchanged(self, path: Path, expected: DiskState | None) -> None:
        """Raise unless writing `path` would overwrite nothing this process hasn't seen."""
        try:
            st = os.stat(path)
        except OSError:
            return  # nothing there (a new session, or deleted meanwhile: written again)
        if expected is not None and expected.stat == stat_key(st):
            return
        try:
            data, _ = read_with_key(path)
        except OSError as exc:
            raise StoreError(f"can't read {path} to check it before saving: {exc.strerror or exc}") from None
        if expected is not None and data == expected.base:
            return
        try:
            parse_document(data)
        except StoreError as exc:
            raise SessionIdConflict(
                f"{path} exists and can't be read ({exc}); it is left untouched, "
                "so this conversation needs a new id"
            ) from None
        raise SessionChanged(f"{path} was changed by another process")

    def _merge_and_save(self, conv: Conversation, path: Path) -> SaveOutcome:
        """Under the lock: merge the file into `conv` and write, or save `conv` on its own."""
        try:
            data, key = read_with_key(path)
        except OSError as exc:
            raise StoreError(f"can't read {path} to merge it: {exc.strerror or exc}") from None
        theirs, their_generation = parse_document(data, conv.id)
        known = _state_of(conv)
        base = None
        if known is not None:
            try:
                base = parse_session(known.base, conv.id)
            except StoreError:
                base = None
        result = merge(base, conv, theirs)
        if result.conflict is not None:
            original = conv.id
            conv.id = new_id()
            conv.origin = Origin(session_id=original, message_id=conv.messages[-1].id if conv.messages else None,
                                 messages=len(conv.messages), title=conv.title, reason="conflict")
            conv._disk = None
            state = self.commit(self.prepare(conv))
            conv._disk = state
            return SaveOutcome(self.path_for(conv.id), forked_from=original, conflict=result.conflict)
        now = DiskState(conv.id, their_generation, key, data)
        generation = max(their_generation, known.generation if known else 0) + 1
        state = self.commit(self.prepare(conv, expected=now, generation=generation))
        conv._disk = state
        return SaveOutcome(path, merged=result)

    # loading

    def load(self, session_id: str) -> Conversation:
        """The session with this id, upgraded to the current schema.

        Raises `StoreError` if there is no such session or it can't be read
        (the message gives the reason).
        """
        path = self.path_for(session_id)
        try:
            data, key = read_with_key(path)
        except FileNotFoundError:
            raise StoreError(f"no session {session_id}") from None
        except OSError as exc:
            raise StoreError(f"session {session_id} can't be read: {exc.strerror or exc}") from None
        try:
            conv, generation = parse_document(data, session_id)
        except StoreError as exc:
            raise StoreError(f"session {session_id} can't be read: {exc}") from None
        conv._disk = DiskState(session_id, generation, key, data)
        self.listing.note(path.name, key, summarize(conv))
        return conv

    def disk_change(self, conv: Conversation) -> DiskChange | None:
        """How the file of `conv` changed since `conv` was read or saved (None: it didn't).

        Cheap when nothing changed (one `stat`); reads the file only when it did.
        """
        known = _state_of(conv)
        if known is None:
            return None
        path = self.path_for(conv.id)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return DiskChange(0, deleted=True)
        except OSError:
            return None
        if stat_key(st) == known.stat:
            return None
        try:
            data, key = read_with_key(path)
            theirs, _ = parse_document(data, conv.id)
        except (OSError, StoreError):
            return None  # the next save says what is wrong with the file
        if data == known.base:
            conv._disk = dataclasses.replace(known, stat=key)
            return None
        mine = {m.id for m in (*conv.messages, *conv.aside, *conv.removed)}
        return DiskChange(sum(1 for m in (*theirs.messages, *theirs.aside) if m.id not in mine), stat=key)

    # listing

    def list(self) -> tuple[list[SessionSummary], list[UnreadableSession]]:
        """Every session, newest `updated_at` first, and every file that can't be read.

        Only files that are new or changed since the index was written are
        parsed. Raises `StoreError` only if the folder itself can't be read.
        """
        return self._listed(self.listing.refresh())

    def _listed(self, entries: builtins.list[Entry]) -> tuple[builtins.list[SessionSummary],
                                                           builtins.list[UnreadableSession]]:
        summaries: builtins.list[SessionSummary] = []
        unreadable: builtins.list[UnreadableSession] = []
        root, sources, made = self.root, self._sources, self._summaries
        kept_sources: dict[str, SummaryRow] = {}
        kept: dict[str, SessionSummary] = {}
        for name, _key, result in entries:
            if isinstance(result, str):
                unreadable.append(UnreadableSession(root / name, result))
                continue
            summary = made.get(name)
            if summary is None or sources.get(name) is not result:  # the listing made a new summary
                summary = SessionSummary(*result, folder=root)
            kept_sources[name] = result
            kept[name] = summary
            summaries.append(summary)
        self._sources, self._summaries = kept_sources, kept
        summaries.sort(key=lambda s: (s.updated_at, s.id), reverse=True)
        unreadable.sort(key=lambda u: u.path.name)
        return summaries, unreadable

    def most_recent(self) -> SessionSummary | None:
        """The session changed last, or None when there is none."""
        summaries, _ = self.list()
        return summaries[0] if summaries else None

    def resolve(self, id_or_prefix: str) -> str:
        """The one session id that is `id_or_prefix` or starts with it.

        Raises `StoreError` ("no session ..." or "ambiguous: ... matches a, b").
        Unreadable files count too, so that loading one reports why it fails.
        """
        wanted = id_or_prefix.strip()
        if not wanted:
            raise StoreError("no session id given")
        if SESSION_ID.match(wanted) and (self.root / f"{wanted}.json").is_file():
            return wanted
        summaries, unreadable = self.list()
        ids = [s.id for s in summaries] + [u.path.stem for u in unreadable]
        matches = sorted({i for i in ids if i.startswith(wanted)})
        if not matches:
            raise StoreError(f"no session matches {wanted!r} (`vllm-chat sessions list` lists them)")
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (f" and {len(matches) - 5} more" if len(matches) > 5 else "")
            raise StoreError(f"ambiguous: {wanted!r} matches {shown}; give more characters")
        return matches[0]

    # changing

    def delete(self, session_id: str) -> None:
        """Remove the session's file (also an unreadable one) and its index entry."""
        path = self.path_for(session_id)
        if not path.exists():
            raise StoreError(f"no session {session_id}")
        with self._lock, self.lock.held(doing=f"delete {path}"):
            try:
                with noted(self.root, path.name):
                    path.unlink()
            except FileNotFoundError:
                raise StoreError(f"no session {session_id}") from None
            except OSError as exc:
                raise StoreError(f"can't delete {path}: {exc.strerror or exc}") from None
            self.listing.forget(path.name)

    def rename(self, session_id: str, title: str) -> None:
        """Give a saved session a new title (whitespace collapsed; must not be empty).

        A window that has the session open picks the new title up at its next
        save (the merge takes the side that changed the title).
        """
        clean = " ".join(title.split())
        if not clean:
            raise StoreError("a title can't be empty")
        if not self.path_for(session_id).exists():
            raise StoreError(f"no session {session_id}")
        with self._lock, self.lock.held(doing=f"rename session {session_id}"):
            conv = self.load(session_id)
            conv.title = clean
            self.save(conv)

    def fork(self, session_id: str, at: int | None = None) -> Conversation:
        """Save a new session holding the first `at` shown messages of `session_id` (all
        when None) and return it; it records where it came from (`Conversation.origin`).

        Raises `StoreError` for a missing session or a count that doesn't fit
        (the message says which would).
        """
        original = self.load(session_id)
        try:
            fork = tree.fork_at(original, len(original.messages) if at is None else at)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        self.save(fork)
        return fork

    # searching

    def search(self, query: str, *, everywhere: bool = True, limit: int = 50) -> builtins.list[SearchHit]:
        """Sessions with every word of `query` in their title or messages, best first, each
        with a snippet around a hit. `everywhere`: also reasoning and tool calls and results.

        Uses a full-text index of the folder (`.search/index.sqlite`, derived data:
        updated from the files before each search, rebuilt when missing or
        broken). The first search after many changes reads the changed files,
        so run it in a worker thread from a UI.
        """
        return self._search_index().search(query, everywhere=everywhere, limit=limit)


    def prepare_search(self) -> bool:
        """Bring the search index up to date with the folder now, if there is one (False when
        there isn't: the first search builds it), so that the next search answers at once.
        Meant for a worker thread (e.g. when the session browser opens)."""
        return self._search_index().refresh()

    def _search_index(self) -> SearchIndex:
        from vllm_chat.core.store.search import SearchIndex

        with self._lock:
            if self._search is None:
                self._search = SearchIndex(self.root)
            return self._search


def _state_of(conv: Conversation) -> DiskState | None:
    state = conv._disk
    return state if isinstance(state, DiskState) and state.session_id == conv.id else None
