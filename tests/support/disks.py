"""Real broken disks for save-failure tests: a tiny tmpfs filled to the last byte, the
same tmpfs remounted read-only, and a folder a non-root user can't write.

Mounting needs root; where the machine refuses it the test is skipped with the reason
(the in-process fakes of other tests still run). Every mount is undone at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NOBODY = 65534
"""The uid and gid commands run as when the test runs as root and needs a user the
permission bits apply to."""


@contextmanager
def small_tmpfs(size: str = "256k") -> Iterator[Path]:
    """A freshly mounted tmpfs of `size`, world-writable; skips the test where mounting fails."""
    point = Path(tempfile.mkdtemp(prefix="vllm-chat-tmpfs-"))
    if os.geteuid() != 0:
        point.rmdir()
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        point.rmdir()
        pytest.skip(f"this machine refuses a tmpfs mount: {mounted.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
        point.rmdir()


def fill(folder: Path) -> Path:
    """Fill the file system `folder` is on until a write fails; returns the filler file
    (delete it to give the space back)."""
    filler = folder / "filler"
    block = b"\0" * 4096
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, block)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def remount(point: Path, mode: str) -> None:
    """Remount the tmpfs at `point` `ro` or `rw` (read-only even for root)."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(point)], check=True, capture_output=True)


def as_nobody() -> list[str]:
    """The command prefix that runs a command as an ordinary user when the test runs as
    root (permission bits don't stop root); empty otherwise."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    # A virtual environment in a private folder (CI's mktemp -d is 0700) can't be run by
    # that user at all: then the permission case can't be shown here.
    tried = subprocess.run([*prefix, sys.executable, "-c", "import vllm_chat"], capture_output=True, check=False)
    if tried.returncode != 0:
        pytest.skip(f"the unprivileged user can't run {sys.executable} (a private folder on its path)")
    return prefix


def open_folder(prefix: str) -> Path:
    """A new folder anyone can write (the home or temporary folder of a command run as nobody)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o777)
    return folder
