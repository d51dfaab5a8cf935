"""Full-text search over every saved session, with a snippet around each hit.

The JSON files are the truth; `.search/index.sqlite` in the sessions folder is a
SQLite FTS5 index derived from them (standard library `sqlite3`). Before each
search the index is brought up to date with the folder: files that are new or
changed since they were indexed (by stat key) are read again, deleted ones
dropped. Checking 10,000 files costs more than the search itself, so the
folder is scanned only when it changed since the last scan (every save and
delete replaces a directory entry, which changes the folder's mtime; a folder
changed within the last second is not trusted, as its timestamp may not have
ticked yet) or when that scan is over `FULL_SCAN_EVERY` seconds old (a file
edited in place by another program). A missing index is built from scratch;
one that SQLite reports as broken is deleted and rebuilt. Several processes may search (and so update
the index) at once: SQLite serializes the writes, and each file's row is
re-checked inside the write transaction.

The index holds three columns per session: `title`, `text` (what the user and
the model said, every branch) and `extra` (reasoning, tool calls and tool
results, files mentioned with `@path`), ranked by BM25 with the title weighing
most. It is contentless (the text itself stays only in the session files,
private): a changed file's old row can't be deleted from it, so it is left
behind unlinked and skipped, and the index is rebuilt once such rows
outnumber the live ones. Snippets are cut from the session files of the hits.

Files are indexed oldest first (by `updated_at`) and a changed file is indexed
again at the end, so the index's row order follows recency. A word found in
more than `RANK_CAP` sessions (a word nearly every conversation has) is ranked
among the `RANK_CAP` most recent of them: ranking every match would cost time
in proportion to all of them, and the result would not be more useful.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import stat
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_chat.core.store.documents import (
    SessionSummary,
    read_document,
    summarize_document,
)
from vllm_chat.core.store.errors import StoreError
from vllm_chat.core.store.files import StatKey, read_with_key
from vllm_chat.core.store.listing import SESSION_ID
from vllm_chat.core.text import inert
from vllm_chat.core.titles import title_from_prompt

INDEX_FILE = ".search/index.sqlite"
"""The search index, in a hidden folder of the sessions folder (derived data, safe to delete).
Its own folder, so that SQLite's journal files never change the sessions folder's mtime."""

SNIPPET_CHARS = 120
"""About how long a snippet is."""

RANK_CAP = 1000
"""A query matching more sessions than this ranks the most recent this many of them."""

FULL_SCAN_EVERY = 60.0
"""Seconds after which the folder is scanned even though its mtime did not change."""

_RACY = 1.0  # seconds: a folder mtime this recent may still change within the same tick

_FORMAT = "4"
_BATCH = 200
_REBUILD_DEAD = 2000
_BUSY_MS = 15000
_WORD = re.compile(r"[^\W_]+")
_WEIGHTS = "10.0, 1.0, 0.5"  # title, text, extra
_SUMMARY = ("id", "title", "model", "created_at", "updated_at", "message_count", "preview")
_SUMMARY_COLUMNS = ", ".join(f"files.{name}" for name in _SUMMARY)


@dataclass(frozen=True)
class Snippet:
    """A line of a session around a hit."""

    text: str
    """One line, control characters made visible (safe to print), cut with "…"."""
    marks: tuple[tuple[int, int], ...]
    """Where the query's words are in `text`: (start, end) character offsets."""


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


def query_words(query: str) -> list[str]:
    """The words of a search query, folded (case and accents ignored), in order, no repeats."""
    return list(dict.fromkeys(fold(w) for w in _WORD.findall(query)))


def fold(text: str) -> str:
    """`text` compared the way the index compares words: no case, no accents."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _key_text(key: StatKey) -> str:
    return ":".join(map(str, key))


def _parse_key(text: str) -> StatKey | None:
    parts = text.split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    return (int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]))


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
        try:
            ranked = self._ranked(match, limit)
        except sqlite3.DatabaseError:
            self._discard()  # broken beyond what SQLite can use: it is only derived data
            self.rebuilt += 1
            try:
                ranked = self._ranked(match, limit)
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"the search index {self.path} can't be used: {exc}") from None
        hits = []
        for name, score, summary in ranked:
            found = _snippet(self.root / name, words, everywhere)
            if found is None:
                continue  # changed since it was indexed and no longer matches
            snippet, where = found
            hits.append(SearchHit(SessionSummary(folder=self.root, **summary), snippet, where, -score))
        return hits

    # -- the database -----------------------------------------------------------------

    def _ranked(self, match: str, limit: int) -> list[tuple[str, float, dict[str, Any]]]:
        with self._connect() as conn:
            self._sync(conn)
            row = conn.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                               (match, RANK_CAP - 1)).fetchone()
            rows = conn.execute(
                f"SELECT files.name, bm25(fts, {_WEIGHTS}) AS score, {_SUMMARY_COLUMNS} FROM fts "
                "JOIN files ON files.doc = fts.rowid WHERE fts MATCH ? AND fts.rowid >= ? "
                "ORDER BY score LIMIT ?", (match, row[0] if row else 0, limit)).fetchall()
        return [(r[0], r[1], dict(zip(_SUMMARY, r[2:], strict=True))) for r in rows]

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
        """Index the files that are new or changed; forget the deleted ones."""
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        folder = self._folder_key()
        if folder is not None and meta.get("folder") == folder and \
                time.time() - float(meta.get("scanned", "0")) < FULL_SCAN_EVERY:
            return  # nothing was written or deleted since the last scan
        known = self._known_rows(conn, meta["build"])
        if int(meta["dead"]) > _REBUILD_DEAD and int(meta["dead"]) > len(known):
            self._write(conn, lambda: self._create(conn))
            self.rebuilt += 1
            build = conn.execute("SELECT value FROM meta WHERE key = 'build'").fetchone()[0]
            known = self._known_rows(conn, build)
        current = self._scan()
        stale = [name for name, _ in current.items() - known.items()]  # set arithmetic: 10,000 files
        gone = list(known.keys() - current.keys())
        if gone:
            def forget() -> None:
                for name in gone:
                    conn.execute("DELETE FROM files WHERE name = ?", (name,))
                    known.pop(name, None)
                conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'dead'", (len(gone),))
            self._write(conn, forget)
        stale.sort(key=lambda name: current[name][2])  # oldest first: row order follows recency
        for start in range(0, len(stale), _BATCH):
            docs = [_document(self.root / name) for name in stale[start:start + _BATCH]]
            self._write(conn, lambda docs=docs: self._store(conn, docs, known))
        unreadable = any(known.get(name) != current[name] for name in stale)  # retried next time
        self._write(conn, lambda: conn.execute(
            "INSERT OR REPLACE INTO meta VALUES ('folder', ?), ('scanned', ?)",
            ("" if unreadable or folder is None else folder, repr(time.time()))))

    def _folder_key(self) -> str | None:
        """The folder's mtime and ctime, unless they are too recent to be trusted."""
        try:
            st = os.stat(self.root)
        except OSError:
            return None
        if time.time() - max(st.st_mtime, st.st_ctime) < _RACY:
            return None
        return f"{st.st_mtime_ns}:{st.st_ctime_ns}"

    def _known_rows(self, conn: sqlite3.Connection, build: str) -> dict[str, StatKey | None]:
        """What the index holds (file name -> stat key), read once per database build."""
        if self._known is None or self._build != build:
            self._known = {name: _parse_key(key) for name, key in conn.execute("SELECT name, stat FROM files")}
            self._build = build
        return self._known

    @staticmethod
    def _store(conn: sqlite3.Connection, docs: list[_Indexed], known: dict[str, StatKey | None]) -> None:
        replaced = 0
        for name, key, columns, summary in docs:
            if key is None:
                continue  # can't be read now; tried again next time
            known[name] = _parse_key(key)
            row = conn.execute("SELECT stat FROM files WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] == key:
                continue  # another process indexed this very version meanwhile
            replaced += row is not None
            doc = -1
            if columns is not None:
                doc = conn.execute("INSERT INTO fts(title, text, extra) VALUES (?, ?, ?)", columns).lastrowid or -1
            values = [summary.get(k) if summary else None for k in _SUMMARY]
            conn.execute(f"INSERT OR REPLACE INTO files(name, stat, doc, {', '.join(_SUMMARY)}) "
                         f"VALUES (?, ?, ?{', ?' * len(_SUMMARY)})", (name, key, doc, *values))
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


# --- what is indexed ---------------------------------------------------------------------


_Indexed = tuple[str, "str | None", "tuple[str, str, str] | None", "dict[str, Any] | None"]
"""What indexing one file gives: name, stat key text, FTS columns, summary."""


def _document(path: Path) -> _Indexed:
    """(file name, stat key of what was read, (title, text, extra), summary); columns and
    summary None for a file that is not a session, key None when it can't be read at all."""
    try:
        data, key = read_with_key(path)
    except OSError:
        return path.name, None, None, None
    try:
        doc = read_document(data)
    except StoreError:
        return path.name, _key_text(key), None, None
    text: list[str] = []
    extra: list[str] = []
    for field, where in _fields(doc, everywhere=True):
        (extra if where.split(" ")[0] in ("reasoning", "tool", "mentioned") else text).append(field)
    summary = summarize_document(doc, path.name[:-5])
    return path.name, _key_text(key), (summary["title"], "\n".join(text), "\n".join(extra)), summary


def _title(doc: dict[str, Any]) -> str:
    title = doc.get("title")
    if isinstance(title, str) and title.strip():
        return title
    found = doc.get("messages")
    messages: list[Any] = found if isinstance(found, list) else []
    first = next((m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"), "")
    return title_from_prompt(first if isinstance(first, str) else "")


def _fields(doc: dict[str, Any], *, everywhere: bool) -> Iterable[tuple[str, str]]:
    """Every searchable text of a session document with where it is: the shown branch first."""
    for key, later in (("messages", ""), ("aside", " (another version)")):
        messages = doc.get(key)
        for message in messages if isinstance(messages, list) else []:
            if not isinstance(message, dict):
                continue
            role, content = message.get("role"), message.get("content")
            if role == "tool":
                if everywhere and isinstance(content, str) and content:
                    yield content, "tool result" + later
                continue
            if isinstance(content, str) and content:
                yield content, ("prompt" if role == "user" else "reply") + later
            if not everywhere:
                continue
            for mentioned in message.get("files") or []:
                if isinstance(mentioned, dict) and isinstance(mentioned.get("text"), str) and mentioned["text"]:
                    yield mentioned["text"], "mentioned file" + later
            reasoning = message.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                yield reasoning, "reasoning" + later
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    words = " ".join(str(call.get(k) or "") for k in ("name", "arguments")).strip()
                    if words:
                        yield words, "tool call" + later


# --- snippets ----------------------------------------------------------------------------


def _snippet(path: Path, words: list[str], everywhere: bool) -> tuple[Snippet, str] | None:
    """The best snippet of a session file for `words`, and where it is; None if nothing matches."""
    try:
        doc = read_document(path.read_bytes())
    except (OSError, StoreError):
        return None
    best: tuple[int, str, str] | None = None
    for text, where in [(_title(doc), "title"), *_fields(doc, everywhere=everywhere)]:
        folded = fold(text)
        candidates = [w for w in words if w in folded]  # cheap: most fields hold none of the words
        if not candidates or (best is not None and len(candidates) <= best[0]):
            continue
        found = {w for w in candidates for token in _tokens(text) if fold(token[2]).startswith(w)}
        if found and (best is None or len(found) > best[0]):
            best = (len(found), text, where)
            if len(found) == len(words):
                break
    if best is None:
        return None
    return cut_snippet(best[1], words), best[2]


def _tokens(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _WORD.finditer(text):
        yield match.start(), match.end(), match.group()


def cut_snippet(text: str, words: list[str], width: int = SNIPPET_CHARS) -> Snippet:
    """A one-line window of `text` around the first word that starts with one of `words`
    (folded), with every such word marked."""
    first = next((s for s, _, token in _tokens(text) if any(fold(token).startswith(w) for w in words)), 0)
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    start = max(0, min(start, end - width))
    if start > 0:  # begin and end on a word boundary where one is near
        space = text.find(" ", start, min(first, start + 15))
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", max(first, end - 15), end)
        end = space if space > first else end
    window = " ".join(inert(text[start:end]).split())
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    line = prefix + window + suffix
    marks = tuple((s, e) for s, e, token in _tokens(line) if any(fold(token).startswith(w) for w in words))
    return Snippet(line, marks)
