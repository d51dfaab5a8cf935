"""Files in the sessions folder: atomic private writes, stat keys, and the folder lock.

Every write replaces its file atomically (temp file in the same folder,
fsync, `os.replace`) with mode 0600, so a reader sees the whole old file or
the whole new one, and a crash at any point leaves one of them.

Writers in several processes (two windows, `vllm-chat -p --save` loops,
`sessions delete`) take `FolderLock` around each read-compare-write of a
session and around changes to the listing index. It is an OS file lock
(`filelock`: `flock` on POSIX), so a process that dies releases it; a
writer that can't get it within the timeout gets a `StoreLocked` error
that says who to look for.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from vllm_chat.core.store.errors import StoreError, StoreLocked

TEMP_SUFFIX = ".tmp"
"""Temp files of writes in progress end with this (and start with a dot)."""

LOCK_NAME = ".lock"
"""The lock file in the sessions folder (hidden, so it can't clash with a session id)."""

LOCK_TIMEOUT = 10.0
"""Seconds a writer waits for another vllm-chat to finish its write before giving up."""

StatKey = tuple[int, int, int, int]
"""(inode, size, mtime_ns, ctime_ns): changes whenever a file is replaced or edited."""


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data`: readers see the whole old file or the whole new one.

    The data goes to a hidden temp file in the same folder, is fsynced, and
    is renamed over `path`; on any failure the temp file is removed and the
    old file is untouched. Raises `OSError`.
    """
    folder = path.parent
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, mode)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)  # the umask may have taken bits away; we want exactly `mode`
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; some file systems can't, which is fine.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def stat_key(st: os.stat_result) -> StatKey:
    """The parts of a stat result that tell whether a file changed."""
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_with_key(path: Path) -> tuple[bytes, StatKey]:
    """The file's bytes and the stat key of exactly what was read. Raises `OSError`."""
    with open(path, "rb") as f:
        key = stat_key(os.fstat(f.fileno()))
        return f.read(), key


class FolderLock:
    """The sessions folder's write lock, shared by every vllm-chat process.

    Re-entrant within a thread; other threads and processes wait for it.
    """

    def __init__(self, folder: Path, timeout: float = LOCK_TIMEOUT) -> None:
        """Lock `folder` (the lock file is `folder/.lock`); wait at most `timeout` seconds."""
        import filelock

        self.path = folder / LOCK_NAME
        """The lock file (it stays; only the OS lock on it comes and goes)."""
        self.timeout = timeout
        """Seconds to wait before `StoreLocked`."""
        self._lock = filelock.FileLock(self.path, timeout=timeout, mode=0o600)

    @contextlib.contextmanager
    def held(self, timeout: float | None = None, doing: str = "write in the sessions folder") -> Iterator[None]:
        """Hold the lock for the `with` block; raises `StoreLocked` after `timeout` seconds
        (default: the lock's own timeout), `StoreError` ("can't <doing>: ...") when the lock
        file can't be made."""
        import filelock

        wait = self.timeout if timeout is None else timeout
        try:
            self._lock.acquire(timeout=wait)
        except filelock.Timeout:
            raise StoreLocked(
                f"another vllm-chat has held the lock on the sessions folder for over {wait:g} s "
                f"({self.path}), so nothing was written. Wait and try again; if it stays locked, "
                "look for a stuck vllm-chat process (the lock is freed when that process exits)."
            ) from None
        except OSError as exc:
            folder = self.path.parent
            reason = (f"{folder} is not a folder" if folder.exists() and not folder.is_dir()
                      else f"{folder} is missing" if not folder.exists()
                      else f"can't create the lock file {self.path}: {exc.strerror or exc}")
            raise StoreError(f"can't {doing}: {reason}") from None
        try:
            yield
        finally:
            self._lock.release()
