"""Full-text search over every saved session, with a snippet around each hit.

The JSON files are the truth; `.search.sqlite` in the sessions folder is a
SQLite FTS5 index derived from them (standard library `sqlite3`). Before each
search the index is brought up to date with the folder: files that are new or
changed since they were indexed (by stat key) are read again, deleted ones
dropped. A missing index is built from scratch; one that SQLite reports as
broken is deleted and rebuilt. Several processes may search (and so update
the index) at once: SQLite serializes the writes, and each file's row is
re-checked inside the write transaction.

The index holds three columns per session: `title`, `text` (what the user and
the model said, every branch) and `extra` (reasoning, tool calls and tool
results), ranked by BM25 with the title weighing most. It is contentless (the
text itself stays only in the session files, private): a changed file's old
row can't be deleted from it, so it is left behind unlinked and skipped, and
the index is rebuilt once such rows outnumber the live ones. Snippets are cut
from the session files of the hits.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_chat.core.store.documents import read_document
from vllm_chat.core.store.errors import StoreError
from vllm_chat.core.store.files import StatKey, read_with_key
from vllm_chat.core.store.listing import Entry
from vllm_chat.core.text import inert
from vllm_chat.core.titles import title_from_prompt

INDEX_FILE = ".search.sqlite"
"""The search index in the sessions folder (hidden; derived data, safe to delete)."""

SNIPPET_CHARS = 120
"""About how long a snippet is."""

_FORMAT = "1"
_BATCH = 200
_REBUILD_DEAD = 2000
_BUSY_MS = 15000
_WORD = re.compile(r"[^\W_]+")
_WEIGHTS = "10.0, 1.0, 0.5"  # title, text, extra


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
    "tool result"; "(another version)" is added for a branch that is not shown."""
    score: float
    """BM25 relevance (higher is better)."""


def query_words(query: str) -> list[str]:
    """The words of a search query, folded (case and accents ignored), in order, no repeats."""
    return list(dict.fromkeys(fold(w) for w in _WORD.findall(query)))


def fold(text: str) -> str:
    """`text` compared the way the index compares words: no case, no accents."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _key_text(key: StatKey) -> str:
    return ":".join(map(str, key))


class SearchIndex:
    """The full-text index of one sessions folder."""

    def __init__(self, root: Path) -> None:
        """Index the sessions in `root` (the index file is `root/.search.sqlite`)."""
        self.root = root
        """The sessions folder."""
        self.path = root / INDEX_FILE
        """The index file."""
        self.rebuilt = 0
        """How many times this object had to build the index from scratch (missing or broken)."""

    def search(self, query: str, summaries: dict[str, Any], entries: list[Entry], *,
               everywhere: bool = True, limit: int = 50) -> list[SearchHit]:
        """The sessions (of `summaries`, by file name) that hold every word of `query`, best
        first, after bringing the index up to date with `entries` (the folder as listed)."""
        words = query_words(query)
        if not words:
            return []
        match = " ".join(f'"{w}"*' for w in words)
        if not everywhere:
            match = f"{{title text}} : ({match})"
        try:
            ranked = self._ranked(match, entries, limit)
        except sqlite3.DatabaseError:
            self._discard()  # broken beyond what SQLite can use: it is only derived data
            self.rebuilt += 1
            try:
                ranked = self._ranked(match, entries, limit)
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"the search index {self.path} can't be used: {exc}") from None
        hits = []
        for name, score in ranked:
            summary = summaries.get(name)
            if summary is None:
                continue
            found = _snippet(self.root / name, words, everywhere)
            if found is None:
                continue  # changed since it was indexed and no longer matches
            snippet, where = found
            hits.append(SearchHit(summary, snippet, where, -score))
        return hits

    # -- the database -----------------------------------------------------------------

    def _ranked(self, match: str, entries: list[Entry], limit: int) -> list[tuple[str, float]]:
        with self._connect() as conn:
            self._sync(conn, entries)
            rows = conn.execute(
                f"SELECT files.name, bm25(fts, {_WEIGHTS}) AS score FROM fts "
                "JOIN files ON files.doc = fts.rowid WHERE fts MATCH ? ORDER BY score LIMIT ?",
                (match, limit)).fetchall()
        return [(name, score) for name, score in rows]

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            self.rebuilt += 1
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # derived data: a lost last write is re-done
            self._ensure_schema(conn)
            yield conn
        finally:
            conn.close()

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
        conn.execute("CREATE TABLE files(name TEXT PRIMARY KEY, stat TEXT NOT NULL, doc INTEGER NOT NULL)")
        conn.execute("CREATE INDEX files_doc ON files(doc)")
        conn.execute("CREATE VIRTUAL TABLE fts USING fts5(title, text, extra, content='', "
                     "tokenize='unicode61 remove_diacritics 2')")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?), ('dead', '0')", (_FORMAT,))

    def _sync(self, conn: sqlite3.Connection, entries: list[Entry]) -> None:
        """Index the files that are new or changed; forget the deleted ones."""
        current = {e.name: _key_text(e.key) for e in entries if e.key is not None and not isinstance(e.result, str)}
        known = dict(conn.execute("SELECT name, stat FROM files").fetchall())
        stale = [name for name, key in current.items() if known.get(name) != key]
        gone = [name for name in known if name not in current]
        live = len(known)
        dead = int(conn.execute("SELECT value FROM meta WHERE key = 'dead'").fetchone()[0])
        if dead > _REBUILD_DEAD and dead > live:
            self._write(conn, lambda: self._create(conn))
            known, stale, gone = {}, list(current), []
            self.rebuilt += 1
        if gone:
            def forget() -> None:
                for name in gone:
                    conn.execute("DELETE FROM files WHERE name = ?", (name,))
                conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'dead'", (len(gone),))
            self._write(conn, forget)
        for start in range(0, len(stale), _BATCH):
            docs = [_document(self.root / name) for name in stale[start:start + _BATCH]]
            self._write(conn, lambda docs=docs: self._store(conn, docs))

    @staticmethod
    def _store(conn: sqlite3.Connection, docs: list[tuple[str, str | None, tuple[str, str, str] | None]]) -> None:
        replaced = 0
        for name, key, columns in docs:
            if key is None:
                continue  # can't be read now; tried again next time
            row = conn.execute("SELECT stat FROM files WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] == key:
                continue  # another process indexed this very version meanwhile
            replaced += row is not None
            doc = -1
            if columns is not None:
                doc = conn.execute("INSERT INTO fts(title, text, extra) VALUES (?, ?, ?)", columns).lastrowid or -1
            conn.execute("INSERT OR REPLACE INTO files(name, stat, doc) VALUES (?, ?, ?)", (name, key, doc))
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
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")


# --- what is indexed ---------------------------------------------------------------------


def _document(path: Path) -> tuple[str, str | None, tuple[str, str, str] | None]:
    """(file name, stat key of what was read, (title, text, extra)); columns None for a file
    that is not a session, key None when it can't be read at all."""
    try:
        data, key = read_with_key(path)
    except OSError:
        return path.name, None, None
    try:
        doc = read_document(data)
    except StoreError:
        return path.name, _key_text(key), None
    text: list[str] = []
    extra: list[str] = []
    for field, where in _fields(doc, everywhere=True):
        (extra if where.split(" ")[0] in ("reasoning", "tool") else text).append(field)
    return path.name, _key_text(key), (_title(doc), "\n".join(text), "\n".join(extra))


def _title(doc: dict[str, Any]) -> str:
    title = doc.get("title")
    if isinstance(title, str) and title.strip():
        return title
    messages = doc.get("messages") if isinstance(doc.get("messages"), list) else []
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
        found = {w for w in words for token in _tokens(text) if fold(token[2]).startswith(w)}
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
    window = " ".join(inert(text[start:end]).split())
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    line = prefix + window + suffix
    marks = tuple((s, e) for s, e, token in _tokens(line) if any(fold(token).startswith(w) for w in words))
    return Snippet(line, marks)
