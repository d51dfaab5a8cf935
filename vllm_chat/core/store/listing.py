"""The session list without parsing every session: summaries cached in `.index.json`.

The index holds one summary per session file together with the file's stat
key (inode, size, mtime, ctime), one JSON array per line after a header line
(parsed line by line: one 5 MB `json.loads` would hold the interpreter lock
for long enough to stall a UI listing in a worker thread; arrays, because
checking 10,000 of them is cheaper than checking 10,000 objects). A refresh compares those with a `scandir`
of the folder and re-reads only files that are new or changed (another
vllm-chat, an editor), drops entries of deleted files, and rebuilds the index
when it is missing or corrupt. The index is only a cache, checked against the
folder on every listing: losing it, or a stale entry written by a process
that raced another, costs a re-read, never a session.

A store that listed the folder within the last `FULL_SCAN_EVERY` seconds
skips even the `scandir` when the change log (`changes.py`, kept once a search
index exists) accounts for every change since: it re-reads just the files
the log names. Saves in this process update the list as they happen, inside
the folder lock, so that the log's order is also the order of the updates.

What the listing keeps per file is plain tuples of strings and numbers, never
objects or dicts: the garbage collector stops tracking such tuples after one
look, so 10,000 of them add nothing to a full collection, which would
otherwise walk them on the UI thread while the session browser opens.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import threading
import time
from pathlib import Path
from typing import Any

from vllm_chat.core.store.changes import changes_since, folder_key, is_racy, log_position, noted
from vllm_chat.core.store.documents import SCHEMA_VERSION, SUMMARY_FIELDS, SummaryRow, parse_session, summarize
from vllm_chat.core.store.errors import StoreError
from vllm_chat.core.store.files import (
    TEMP_SUFFIX,
    FolderLock,
    StatKey,
    atomic_write,
    read_with_key,
)

INDEX_NAME = ".index.json"
"""The summary cache in the sessions folder (hidden, so it can't clash with a session id)."""

FULL_SCAN_EVERY = 60.0
"""Seconds after which a listing scans the folder even when the change log accounts for every
change (a file edited in place by another program changes no folder entry)."""

SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z")
"""What a session id (a file name without `.json`) may be."""

_INDEX_VERSION = 3
_STALE_TEMP_SECONDS = 3600.0
_FOLLOW_MAX = 500  # more changed files than this: one scan of the folder costs less
_INDEX_LOCK_WAIT = 0.5  # the index is a cache: rather skip writing it than keep a listing waiting

Result = SummaryRow | str
"""A summary, or why the file can't be read."""

Entry = tuple[str, StatKey | None, Result]
"""One file of the folder as the last refresh saw it: its name (`<id>.json`), its stat key
(None: it could not be read this time), and its summary or the reason it can't be read."""


class Listing:
    """The folder's session files and their summaries, kept in `.index.json`."""

    def __init__(self, root: Path, lock: FolderLock) -> None:
        """List the sessions in `root`; `lock` guards writes of the index."""
        self.root = root
        """The sessions folder."""
        self._folder_lock = lock
        self._lock = threading.RLock()
        self._index: dict[str, tuple[StatKey, Result]] | None = None
        self._dirty = False
        # (folder key, change log position, monotonic time of the scan) as of which the
        # entries are complete: None until a refresh could trust what it saw.
        self._seen: tuple[str, str, float] | None = None

    def note(self, name: str, key: StatKey, result: Result) -> None:
        """Record what a save or load just saw of a file."""
        with self._lock:
            index = self._ensure()
            if index.get(name) != (key, result):
                index[name] = (key, result)
                self._dirty = True

    def forget(self, name: str) -> None:
        """Drop a deleted file's entry."""
        with self._lock:
            if self._ensure().pop(name, None) is not None:
                self._dirty = True

    def cached(self, name: str) -> tuple[StatKey, Result] | None:
        """The entry the index holds for a file, if any (not checked against the file)."""
        with self._lock:
            return self._ensure().get(name)

    def refresh(self) -> list[Entry]:
        """Every `.json` file of the folder with its summary, re-reading only new or changed ones.

        Raises `StoreError` only if the folder itself can't be read.
        """
        followed = self._follow()
        if followed is not None:
            return followed
        # In this order (as the search does): a change after these two were read is either in
        # the change log after `position` or breaks its chain from `folder`.
        folder, position = folder_key(self.root), log_position(self.root)
        # Files are read outside the lock so that a save on the UI thread never
        # waits for a slow listing; entries a save replaced meanwhile are kept.
        with self._lock:
            before = dict(self._ensure())
        seen: set[str] = set()
        fresh: dict[str, tuple[StatKey | None, Result]] = {}
        entries: list[Entry] = []
        try:
            scan = os.scandir(self.root)
        except FileNotFoundError:
            return []  # nothing saved yet
        except OSError as exc:
            raise StoreError(f"can't list sessions in {self.root}: {exc.strerror or exc}") from None
        with scan:
            for item in scan:
                name = item.name
                if name.startswith("."):
                    if name.endswith(TEMP_SUFFIX):
                        _sweep_temp(item)
                    continue
                if not name.endswith(".json"):
                    continue
                try:
                    st = item.stat()
                except OSError:
                    continue  # deleted while we looked
                if not stat.S_ISREG(st.st_mode):
                    continue
                seen.add(name)
                key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                cached = before.get(name)
                if cached is not None and cached[0] == key:
                    entries.append((name, cached[0], cached[1]))  # the cached key: one tuple less to keep
                    continue
                fresh[name] = read_summary(self.root / name)
                entries.append((name, fresh[name][0], fresh[name][1]))
        with self._lock:
            index = self._ensure()
            for name, (read_key, result) in fresh.items():
                # I/O errors (key None) are retried next time, not cached.
                if read_key is not None and index.get(name) is before.get(name):
                    index[name] = (read_key, result)
                    self._dirty = True
            for name in before.keys() - seen:
                if index.get(name) is before[name]:
                    del index[name]
                    self._dirty = True
            snapshot = dict(index) if self._dirty else None
            readable = all(k is not None for k, _ in fresh.values())
            self._seen = (folder, position, time.monotonic()) if (
                folder is not None and position and readable and not is_racy(folder)) else None
        if snapshot is not None:
            # Written outside our lock: a save holding the folder lock may be waiting for it.
            self._write(snapshot)
        return entries

    def _follow(self) -> list[Entry] | None:
        """The entries, re-reading just the files the change log names, when it accounts for
        every change of the folder since the last refresh (see `changes.py`) and that
        refresh's scan is under `FULL_SCAN_EVERY` seconds old; None when the folder must be
        scanned instead."""
        seen = self._seen
        if seen is None or time.monotonic() - seen[2] > FULL_SCAN_EVERY:
            return None
        folder = folder_key(self.root)
        changes = changes_since(self.root, seen[1], seen[0])
        if changes is None or changes.folder != folder or len(changes.names) > _FOLLOW_MAX:
            return None
        fresh: dict[str, tuple[tuple[StatKey, Result] | None, tuple[StatKey, Result] | None]] = {}
        for name in changes.names:
            if name.startswith(".") or not name.endswith(".json"):
                continue
            was = self.cached(name)
            try:
                st = os.stat(self.root / name)
            except FileNotFoundError:
                fresh[name] = (was, None)
                continue
            except OSError:
                return None
            key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            if not stat.S_ISREG(st.st_mode):
                fresh[name] = (was, None)
            elif was is None or was[0] != key:
                read_key, result = read_summary(self.root / name)
                if read_key is None:
                    return None  # can't be read just now: the scan lists why
                fresh[name] = (was, (read_key, result))
        with self._lock:
            index = self._ensure()
            for name, (was, now) in fresh.items():
                if index.get(name) is not was:
                    continue  # a save in this process noted a newer version meanwhile
                if now is None:
                    index.pop(name, None)
                else:
                    index[name] = now
                self._dirty = True
            entries: list[Entry] = [(name, key, result) for name, (key, result) in index.items()]
            snapshot = dict(index) if self._dirty else None
            self._seen = (changes.folder, changes.position, seen[2])
        if snapshot is not None:
            self._write(snapshot)
        return entries

    # -- the index file ----------------------------------------------------------------

    def _ensure(self) -> dict[str, tuple[StatKey, Result]]:
        if self._index is None:
            self._index = self._read()
        return self._index

    def _read(self) -> dict[str, tuple[StatKey, Result]]:
        """The index on disk; anything odd about it just means starting from empty."""
        decode = json.JSONDecoder().decode
        try:
            lines = (self.root / INDEX_NAME).read_bytes().decode("utf-8").split("\n")
            header = decode(lines[0])
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(header, dict) or header.get("index_version") != _INDEX_VERSION:
            return {}
        if header.get("schema_version") != SCHEMA_VERSION:
            return {}
        index: dict[str, tuple[StatKey, Result]] = {}
        for line in lines[1:]:
            try:
                parsed = _index_entry(decode(line)) if line else None
            except (ValueError, RecursionError):
                continue
            if parsed is not None:
                index[parsed[0]] = parsed[1:]
        return index

    def _write(self, index: dict[str, tuple[StatKey, Result]]) -> None:
        lines = [json.dumps({"index_version": _INDEX_VERSION, "schema_version": SCHEMA_VERSION})]
        for name, (key, result) in index.items():
            row = [name, *key, result] if isinstance(result, str) else [name, *key, *result]
            lines.append(json.dumps(row, ensure_ascii=False))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        try:
            with self._folder_lock.held(_INDEX_LOCK_WAIT), noted(self.root, INDEX_NAME):
                atomic_write(self.root / INDEX_NAME, data)
        except (OSError, StoreError):
            return  # a read-only or busy folder still lists; the index is only a cache
        with self._lock:
            if self._index == index:
                self._dirty = False


def read_index(path: Path) -> dict[str, dict[str, Any] | str]:
    """The summaries (or unreadable reasons) of an index file by file name (for tools and tests)."""
    lines = path.read_text(encoding="utf-8").split("\n")[1:]
    entries = (_index_entry(json.loads(line)) for line in lines if line)
    return {entry[0]: entry[2] if isinstance(entry[2], str) else dict(zip(SUMMARY_FIELDS, entry[2], strict=True))
            for entry in entries if entry is not None}


def read_summary(path: Path) -> tuple[StatKey | None, Result]:
    """(stat key of what was read, summary or unreadable reason); key None on I/O errors."""
    try:
        data, key = read_with_key(path)
    except OSError as exc:
        return None, f"can't read the file: {exc.strerror or exc}"
    if not SESSION_ID.match(path.stem):
        return key, "the file name is not a session id (letters, digits, '-' and '_', then .json)"
    try:
        return key, summarize(parse_session(data, path.stem))
    except StoreError as exc:
        return key, str(exc)


def _sweep_temp(entry: os.DirEntry[str]) -> None:
    # Left behind only by a crash mid-write; a write takes milliseconds.
    with contextlib.suppress(OSError):
        if time.time() - entry.stat().st_mtime > _STALE_TEMP_SECONDS:
            os.unlink(entry.path)


_STRINGS = (5, 6, 7, 11)  # positions in a row: id, title, model, preview
_NUMBERS = (8, 9)  # created_at, updated_at


def _index_entry(row: Any) -> tuple[str, StatKey, Result] | None:
    """One index row checked field by field (None: ignore it, the file will be re-read):
    `[name, ino, size, mtime_ns, ctime_ns, reason]` for an unreadable file, or
    `[name, ino, size, mtime_ns, ctime_ns, id, title, model, created_at, updated_at,
    message_count, preview]`."""
    if type(row) is not list or len(row) not in (6, 12) or type(row[0]) is not str:
        return None
    if not (type(row[1]) is int and type(row[2]) is int and type(row[3]) is int and type(row[4]) is int):
        return None
    key: StatKey = (row[1], row[2], row[3], row[4])
    if len(row) == 6:
        return (row[0], key, row[5]) if type(row[5]) is str else None
    for i in _STRINGS:
        if type(row[i]) is not str:
            return None
    for i in _NUMBERS:
        if type(row[i]) not in (int, float):
            return None
    if type(row[10]) is not int:
        return None
    return row[0], key, tuple(row[5:])
