"""The change log `.search/changes`: which files vllm-chat wrote or removed in the sessions folder.

A search must not miss a session another process saved, and checking the
stat of 10,000 files before each search costs more than the search. So every
vllm-chat write in the folder (a session saved or deleted, the listing index
rewritten), made while holding the folder lock, appends one line to this log:

    <folder key before> <folder key after> <file name>

where a folder key is the sessions folder's `mtime_ns:ctime_ns` (it changes
whenever an entry is added, replaced or removed). The search reads the lines
added since its last look: if each line starts where the one before ended,
the first starts at the folder key the search last saw, and the last ends at
the folder's key now, then those files are all that changed and only they
are indexed again. Anything else (a line missing after a crash, another
program adding a file, a log that was replaced) breaks that chain, and the
search falls back to a scan of the whole folder. The log exists only once a
search index does (the search creates it); it is derived data like the index.
It is started afresh (a new, empty file) by a full scan once it is over
`MAX_LOG_BYTES`, or by a writer once it is over `WRITER_MAX_BYTES`; a reader
that held a position in the old file then scans once.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHANGES_FILE = ".search/changes"
"""The log, next to the search index (never in the sessions folder itself: appending to it
must not change the folder's mtime)."""

MAX_LOG_BYTES = 256 * 1024
"""A longer log is started afresh at the next full scan (~3,000 saves)."""

WRITER_MAX_BYTES = 4 * MAX_LOG_BYTES
"""A log this long (no search or listing scanned for ~12,000 saves) is started afresh by the
writer: a log nobody reads never grows without bound."""


def folder_key(root: Path) -> str | None:
    """The folder's `mtime_ns:ctime_ns`, or None when it can't be read."""
    try:
        st = os.stat(root)
    except OSError:
        return None
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}"


@contextlib.contextmanager
def noted(root: Path, name: str) -> Iterator[None]:
    """Log a write of `name` in the folder `root` made inside the `with` block; hold the
    folder lock around it, so that the lines of all vllm-chat processes form one chain.
    Does nothing when there is no log (no search index yet: its first search scans)."""
    try:
        fd = os.open(root / CHANGES_FILE, os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        yield
        return
    try:
        before = folder_key(root)
        try:
            yield
        finally:
            # Also after a failed write: its temp file came and went, which changed the folder.
            after = folder_key(root)
            if before is not None and after is not None:
                with contextlib.suppress(OSError):  # a missing line only costs the next search a scan
                    os.write(fd, f"{before} {after} {name}\n".encode())
                    if os.fstat(fd).st_size > WRITER_MAX_BYTES:
                        _start_afresh(root / CHANGES_FILE)  # no search came for a long while
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Changes:
    """What the log says changed since a position in it."""

    names: frozenset[str]
    """The files written or removed."""
    folder: str
    """The folder key after the last of those changes."""
    position: str
    """Where to read on from next time (`inode:offset`)."""


def is_racy(folder: str, within: float = 1.0) -> bool:
    """The folder key is too recent to be trusted after a scan: another program's change within
    the same tick of the file system's clock would leave it as it is."""
    return time.time() - max(int(part) for part in folder.split(":")) / 1e9 < within


def log_position(root: Path) -> str:
    """The log's current end as a position (`inode:offset`); "" when there is no log."""
    try:
        st = os.stat(root / CHANGES_FILE)
    except OSError:
        return ""
    return f"{st.st_ino}:{st.st_size}"


def end_of_log(root: Path) -> str:
    """The log's current end as a position (`inode:offset`), creating the log (or starting it
    afresh when it is over `MAX_LOG_BYTES`); "" when it can't be made. Call it just before a
    full scan: every change after it is read from the log, every one before it is in the scan."""
    path = root / CHANGES_FILE
    try:
        st = os.stat(path)
        if st.st_size <= MAX_LOG_BYTES:
            return f"{st.st_ino}:{st.st_size}"
    except FileNotFoundError:
        pass
    except OSError:
        return ""
    inode = _start_afresh(path)
    return "" if inode is None else f"{inode}:0"


def _start_afresh(path: Path) -> int | None:
    """Replace the log with an empty one (a new file: whoever reads the old one by position
    sees that it is gone and scans the folder); its inode, None when that failed."""
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    try:
        # A writer that opened the old log a moment ago appends its line there, and it is lost:
        # the chain then breaks at that change and the next search scans again. Nothing is missed.
        os.close(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.replace(fresh, path)
        return os.stat(path).st_ino
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(fresh)
        return None


def changes_since(root: Path, position: str, folder: str) -> Changes | None:
    """The files changed since `position` when the log accounts for every change of the folder
    after it was at key `folder`; None when it can't (no log, a log started afresh, a broken
    chain: something else changed the folder)."""
    ino_text, _, offset_text = position.partition(":")
    if not (folder and ino_text.isdigit() and offset_text.isdigit()):
        return None
    try:
        with open(root / CHANGES_FILE, "rb") as log:
            if os.fstat(log.fileno()).st_ino != int(ino_text):
                return None
            log.seek(int(offset_text))
            data = log.read()
    except OSError:
        return None
    end = data.rfind(b"\n") + 1  # a line still being written is read next time
    names: set[str] = set()
    key = folder
    try:
        lines = data[:end].decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None
    for line in lines:
        parts = line.split(" ", 2)
        if len(parts) != 3 or parts[0] != key:
            return None
        key = parts[1]
        names.add(parts[2])
    return Changes(frozenset(names), key, f"{ino_text}:{int(offset_text) + end}")
