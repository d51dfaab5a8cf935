"""Copying text out of the terminal app.

The UI sends OSC 52 (which works over SSH and in most modern terminals, and in
tmux with `set -g set-clipboard on`), and also hands the text to a local
clipboard program when one is found, because OSC 52 fails silently in some
terminals (macOS Terminal.app, older tmux). `copy_with_program` says which
program took it, so the notice can tell the user what was done.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

# In order of preference; the first one that is installed is used.
_PROGRAMS: tuple[tuple[str, ...], ...] = (
    ("pbcopy",),
    ("wl-copy",),
    ("xclip", "-selection", "clipboard"),
    ("xsel", "--clipboard", "--input"),
    ("clip.exe",),
)


def clipboard_program(configured: list[str] | None = None) -> list[str] | None:
    """The command that copies stdin to the system clipboard: the configured one, or the
    first known program that is installed (None when there is none, e.g. over SSH)."""
    if configured:
        return list(configured)
    if sys.platform == "linux" and not _has_display():
        return None  # xclip & co. would fail without a display; OSC 52 is the way then
    for program in _PROGRAMS:
        if shutil.which(program[0]):
            return list(program)
    return None


def _has_display() -> bool:
    import os

    return bool(os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY"))


def copy_with_program(text: str, command: list[str] | None, timeout: float = 3.0) -> str | None:
    """Give `text` to `command` on stdin; returns the program's name if it worked."""
    if not command:
        return None
    try:
        subprocess.run(command, input=text.encode("utf-8"), check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return command[0]
