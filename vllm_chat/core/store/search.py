"""Full-text search over every saved session, with a snippet around each hit.

The JSON files are the truth; `.search/index.sqlite` in the sessions folder is a
SQLite FTS5 index derived from them (standard library `sqlite3`). Before each
search the index is brought up to date with the folder, as cheaply as the
folder allows:

- nothing changed (the folder's mtime is what the last look saw, and the change
  log `.search/changes` has no new line): nothing to do;
- only vllm-chat wrote (every change of the folder since the last look is in the
  change log, see `changes.py`): just the files named there are checked and
  indexed again, or dropped;
- anything else (another program changed the folder, the log was lost, or the
  last full scan is over `FULL_SCAN_EVERY` seconds old, which also finds files
  edited in place): every file's stat key is compared with the one indexed, and
  new or changed files are read again, deleted ones dropped. A folder changed
  within the last second is not trusted after such a scan (its timestamp may
  not have ticked yet), so the next search scans again.

A missing index is built from scratch; one that SQLite reports as broken is
deleted and rebuilt. Several processes may search (and so update the index) at
once: SQLite serializes the writes, and each file's row is re-checked inside
the write transaction.

The index holds three columns per session (`searchable.document`): `title`,
`text` and `extra`, ranked by BM25 with the title weighing most. It is
contentless (the text itself stays only in the session files, private): a
changed file's old row can't be deleted from it, so it is left behind unlinked
and skipped, and the index is rebuilt once such rows outnumber the live ones.
Snippets are cut from the session files of the hits (`searchable.snippet_of`).

Files are indexed oldest first (by `updated_at`) and a changed file is indexed
again at the end, so the index's row order follows recency. A word found in
more than `RANK_CAP` sessions (a word nearly every conversation has) is ranked
among the `RANK_CAP` most recent of them: ranking every match would cost time
in proportion to all of them, and the result would not be more useful.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from vllm_chat.core.store.changes import changes_since, end_of_log, folder_key, is_racy
from vllm_chat.core.store.documents import SUMMARY_FIELDS, SessionSummary
from vllm_chat.core.store.errors import StoreError
from vllm_chat.core.store.files import StatKey
from vllm_chat.core.store.listing import SESSION_ID
from vllm_chat.core.store.searchable import (
    SNIPPET_CHARS,
    Indexed,
    Snippet,
    cut_snippet,
    document,
    fold,
    parse_key,
    query_words,
    snippet_of,
)

__all__ = ["FULL_SCAN_EVERY", "INDEX_FILE", "RANK_CAP", "SNIPPET_CHARS", "SearchHit", "SearchIndex", "Snippet",
           "cut_snippet", "fold", "query_words"]

INDEX_FILE = ".search/index.sqlite"
"""The search index, in a hidden folder of the sessions folder (derived data, safe to delete).
Its own folder, so that SQLite's journal files never change the sessions folder's mtime."""

RANK_CAP = 1000
"""A query matching more sessions than this ranks the most recent this many of them."""

FULL_SCAN_EVERY = 60.0
"""Seconds after which the folder is scanned even though its mtime did not change."""

_RACY = 1.0  # seconds: a folder mtime this recent may still change within the same tick

_FORMAT = "4"
_BATCH = 200
_REBUILD_DEAD = 2000
_BUSY_MS = 15000
_WEIGHTS = "10.0, 1.0, 0.5"  # title, text, extra
_SUMMARY_COLUMNS = ", ".join(f"files.{name}" for name in SUMMARY_FIELDS)
_FOLLOW_MAX = 500  # more changed files than this: one scan of the folder costs less
_T = TypeVar("_T")


@dataclass(frozen=True)
class SearchHit:
    """One session that matches a search."""

    summary: Any
    """The session's `SessionSummary`."""
    snippet: Snippet
    """The best line around a hit."""
    where: str
    """Where the snippet comes from: "title", "prompt", "reply", "reasoning", "tool call",
    "tool result", "mentioned file"; "(another version)" is added for a branch that is not shown."""
    score: float
    """BM25 relevance (higher is better)."""


class SearchIndex:
    """The full-text index of one sessions folder."""

    def __init__(self, root: Path) -> None:
        """Index the sessions in `root` (the index file is `root/.search/index.sqlite`)."""
        self.root = root
        """The sessions folder."""
        self.path = root / INDEX_FILE
        """The index file."""
        self.rebuilt = 0
        """How many times this object had to build the index from scratch (missing or broken)."""
        self._known: dict[str, StatKey | None] | None = None  # file name -> stat key indexed
        self._build = ""  # meta 'build' of the database `_known` was read from
        self._conn: sqlite3.Connection | None = None
        self._conn_inode: int | None = None
        self._conn_lock = threading.Lock()

    def search(self, query: str, *, everywhere: bool = True, limit: int = 50) -> list[SearchHit]:
        """The sessions that hold every word of `query`, best first, after bringing the index
        up to date with the folder. Raises `StoreError` when the folder can't be read."""
        words = query_words(query)
        if not words or not self.root.is_dir():
            return []  # nothing to find (and a search never creates the folder)
        match = " ".join(f'"{w}"*' for w in words)
        if not everywhere:
            match = f"{{title text}} : ({match})"
        ranked = self._using_index(lambda conn: self._ranked(conn, match, limit))
        hits = []
        for name, score, summary in ranked:
            found = snippet_of(self.root / name, words, everywhere)
            if found is None:
                continue  # changed since it was indexed and no longer matches
            snippet, where = found
            hits.append(SearchHit(SessionSummary(folder=self.root, **summary), snippet, where, -score))
        return hits

    def refresh(self) -> bool:
        """Bring an existing index up to date with the folder now, without searching: run in
        the background (a worker thread), it spares the next search that work. Never builds
        an index (for 10,000 sessions that reads every file: the first search does it).
        False when there is no index. Raises `StoreError` when the folder can't be read or
        the index can't be used."""
        if not self.path.exists():
            return False
        self._using_index(lambda conn: None)
        return True

    # -- the database -----------------------------------------------------------------

    def _using_index(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """`work` done on the index once it is up to date; an index SQLite can't use is
        deleted and built again (it is only derived data)."""
        for attempt in (1, 2):
            try:
                with self._connect() as conn:
                    self._sync(conn)
                    return work(conn)
            except sqlite3.DatabaseError as exc:
                if attempt == 2:
                    raise StoreError(f"the search index {self.path} can't be used: {exc}") from None
                self._discard()
                self.rebuilt += 1
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _ranked(conn: sqlite3.Connection, match: str, limit: int) -> list[tuple[str, float, dict[str, Any]]]:
        row = conn.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                           (match, RANK_CAP - 1)).fetchone()
        rows = conn.execute(
            f"SELECT files.name, bm25(fts, {_WEIGHTS}) AS score, {_SUMMARY_COLUMNS} FROM fts "
            "JOIN files ON files.doc = fts.rowid WHERE fts MATCH ? AND fts.rowid >= ? "
            "ORDER BY score LIMIT ?", (match, row[0] if row else 0, limit)).fetchall()
        return [(r[0], r[1], dict(zip(SUMMARY_FIELDS, r[2:], strict=True))) for r in rows]

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """The index's connection, kept open between searches (closing one that wrote costs a
        checkpoint) unless the file was replaced or deleted meanwhile; one search at a time."""
        with self._conn_lock:
            try:
                inode = os.stat(self.path).st_ino
            except OSError:
                inode = None
            if self._conn is None or inode != self._conn_inode:
                self._close()
                if inode is None:
                    self.rebuilt += 1
                    self.path.parent.mkdir(mode=0o700, exist_ok=True)
                    with contextlib.suppress(FileExistsError):
                        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                conn = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None,
                                       check_same_thread=False)  # searches run in worker threads, one at a time
                try:
                    conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=OFF")  # derived data: a broken index is rebuilt
                    self._ensure_schema(conn)
                except BaseException:
                    conn.close()
                    raise
                self._conn, self._conn_inode = conn, os.stat(self.path).st_ino
            try:
                yield self._conn
            except sqlite3.DatabaseError:
                self._close()
                raise

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if row is not None and row[0] == _FORMAT:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is None or row[0] != _FORMAT:
                self._create(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM meta")  # what the last look at the folder saw is not in the new tables
        conn.execute("DROP TABLE IF EXISTS files")
        conn.execute("DROP TABLE IF EXISTS fts")
        conn.execute("CREATE TABLE files(name TEXT PRIMARY KEY, stat TEXT NOT NULL, doc INTEGER NOT NULL, "
                     "id TEXT, title TEXT, model TEXT, created_at REAL, updated_at REAL, message_count INTEGER, "
                     "preview TEXT)")
        conn.execute("CREATE INDEX files_doc ON files(doc)")
        conn.execute("CREATE VIRTUAL TABLE fts USING fts5(title, text, extra, content='', "
                     "tokenize='unicode61 remove_diacritics 2')")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?), ('dead', '0'), ('build', ?)",
                     (_FORMAT, os.urandom(8).hex()))

    def _scan(self) -> dict[str, StatKey]:
        """Every session file of the folder with its stat key (the search's own cheap listing)."""
        found: dict[str, StatKey] = {}
        try:
            entries = os.scandir(self.root)
        except OSError as exc:
            raise StoreError(f"can't list sessions in {self.root}: {exc.strerror or exc}") from None
        with entries:
            for entry in entries:
                name = entry.name
                if name[0] == "." or not name.endswith(".json") or not SESSION_ID.match(name[:-5]):
                    continue
                try:
                    st = entry.stat()
                except OSError:
                    continue  # deleted while we looked
                if stat.S_ISREG(st.st_mode):
                    found[name] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        return found

    def _sync(self, conn: sqlite3.Connection) -> None:
        """Bring the index up to date with the folder (see the module's docstring for how)."""
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if time.time() - float(meta.get("scanned", "0")) < FULL_SCAN_EVERY:
            folder = folder_key(self.root)
            changes = changes_since(self.root, meta.get("log", ""), meta.get("folder", ""))
            if changes is not None and changes.folder == folder and len(changes.names) <= _FOLLOW_MAX:
                if changes.names:
                    self._follow(conn, changes.names, changes.folder, changes.position)
                return  # (no names: nothing was written or deleted since the last look)
        self._scan_all(conn, meta)

    def _follow(self, conn: sqlite3.Connection, names: Iterable[str], folder: str, position: str) -> None:
        """Index again just the files the change log names (all that changed in the folder)."""
        wanted = [name for name in names if name.endswith(".json") and SESSION_ID.match(name[:-5])]
        current: dict[str, StatKey] = {}
        for name in wanted:
            try:
                st = os.stat(self.root / name)
            except FileNotFoundError:
                continue
            except OSError:
                folder = ""  # can't tell now: the next search scans the folder
                continue
            if stat.S_ISREG(st.st_mode):
                current[name] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        marks = ", ".join("?" * len(wanted))
        known = {name: parse_key(key) for name, key in conn.execute(
            f"SELECT name, stat FROM files WHERE name IN ({marks})", wanted)}
        gone = [name for name in known if name not in current]
        if not self._index(conn, current, known, gone):
            folder = ""
        if self._known is not None:  # the whole index's list, if this object has read it
            for name in wanted:
                if name in known:
                    self._known[name] = known[name]
                else:
                    self._known.pop(name, None)
        self._write(conn, lambda: conn.execute(
            "INSERT OR REPLACE INTO meta VALUES ('folder', ?), ('log', ?)", (folder, position)))

    def _scan_all(self, conn: sqlite3.Connection, meta: dict[str, str]) -> None:
        """Compare every file of the folder with the index: index new and changed ones, forget deleted."""
        known = self._known_rows(conn, meta["build"])
        if int(meta["dead"]) > _REBUILD_DEAD and int(meta["dead"]) > len(known):
            self._write(conn, lambda: self._create(conn))
            self.rebuilt += 1
            build = conn.execute("SELECT value FROM meta WHERE key = 'build'").fetchone()[0]
            known = self._known_rows(conn, build)
        # In this order: a change after the folder's key was read is either in the log after
        # `position`, or breaks the log's chain from `folder` (and the next search scans again).
        folder = folder_key(self.root)
        position = end_of_log(self.root)
        current = self._scan()
        readable = self._index(conn, current, known, list(known.keys() - current.keys()))
        if not readable or folder is None or is_racy(folder, _RACY):
            folder = ""
        self._write(conn, lambda: conn.execute(
            "INSERT OR REPLACE INTO meta VALUES ('folder', ?), ('log', ?), ('scanned', ?)",
            (folder, position, repr(time.time()))))

    def _index(self, conn: sqlite3.Connection, current: dict[str, StatKey], known: dict[str, StatKey | None],
               gone: list[str]) -> bool:
        """Forget the files `gone`; index those of `current` whose stat key is not the one `known`
        (updated as it goes). False when some could not be read (they are tried again later)."""
        stale = [name for name, _ in current.items() - known.items()]  # set arithmetic: 10,000 files
        if gone:
            def forget() -> None:
                dropped = 0
                for name in gone:
                    dropped += conn.execute("DELETE FROM files WHERE name = ?", (name,)).rowcount
                    known.pop(name, None)
                conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'dead'", (dropped,))
            self._write(conn, forget)
        stale.sort(key=lambda name: current[name][2])  # oldest first: row order follows recency
        for start in range(0, len(stale), _BATCH):
            docs = [document(self.root / name) for name in stale[start:start + _BATCH]]
            self._write(conn, lambda docs=docs: self._store(conn, docs, known))
        return all(known.get(name) == current[name] for name in stale)

    def _known_rows(self, conn: sqlite3.Connection, build: str) -> dict[str, StatKey | None]:
        """What the index holds (file name -> stat key), read once per database build."""
        if self._known is None or self._build != build:
            self._known = {name: parse_key(key) for name, key in conn.execute("SELECT name, stat FROM files")}
            self._build = build
        return self._known

    @staticmethod
    def _store(conn: sqlite3.Connection, docs: list[Indexed], known: dict[str, StatKey | None]) -> None:
        replaced = 0
        for name, key, columns, summary in docs:
            if key is None:
                continue  # can't be read now; tried again next time
            known[name] = parse_key(key)
            row = conn.execute("SELECT stat FROM files WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] == key:
                continue  # another process indexed this very version meanwhile
            replaced += row is not None
            doc = -1
            if columns is not None:
                doc = conn.execute("INSERT INTO fts(title, text, extra) VALUES (?, ?, ?)", columns).lastrowid or -1
            values = [summary.get(k) if summary else None for k in SUMMARY_FIELDS]
            conn.execute(f"INSERT OR REPLACE INTO files(name, stat, doc, {', '.join(SUMMARY_FIELDS)}) "
                         f"VALUES (?, ?, ?{', ?' * len(SUMMARY_FIELDS)})", (name, key, doc, *values))
        if replaced:
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'dead'", (replaced,))

    @staticmethod
    def _write(conn: sqlite3.Connection, work: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            work()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _discard(self) -> None:
        self._close()
        self._known = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")

