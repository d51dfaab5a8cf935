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


# Reading an image back: each program, how to list what the clipboard holds, and how to
# get one type out of it. macOS has no stock command for images; pngpaste is the usual one.
_IMAGE_READERS: tuple[tuple[str, tuple[str, ...] | None, tuple[str, ...]], ...] = (
    ("wl-paste", ("wl-paste", "--list-types"), ("wl-paste", "--no-newline", "--type", "{type}")),
    ("xclip", ("xclip", "-selection", "clipboard", "-target", "TARGETS", "-out"),
     ("xclip", "-selection", "clipboard", "-target", "{type}", "-out")),
    ("pngpaste", None, ("pngpaste", "-")),
)
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp")
MAX_CLIPBOARD_IMAGE = 64 * 1024 * 1024
"""Most bytes read from the clipboard (a screenshot is a few MB)."""


class ClipboardError(Exception):
    """No image could be read from the clipboard, phrased for the user (with what to do)."""


def paste_image(timeout: float = 5.0) -> tuple[bytes, str]:
    """The image on the system clipboard and the program that read it; raises
    `ClipboardError` saying why there is none (and what to install, where nothing can read it)."""
    if sys.platform == "linux" and not _has_display():
        raise ClipboardError(
            "There is no display here (an SSH session?), so there is no system clipboard to read an "
            "image from. Save the image to a file and attach it (or paste its path).")
    found = [reader for reader in _IMAGE_READERS if shutil.which(reader[0])]
    if not found:
        hint = ("brew install pngpaste" if sys.platform == "darwin"
                else "install wl-clipboard (Wayland) or xclip (X11)")
        raise ClipboardError(f"No program to read images from the clipboard was found: {hint}.")
    for name, lister, reader in found:
        wanted: tuple[str, ...] = _IMAGE_TYPES
        if lister is not None:
            listed = _run(lister, timeout)
            offered = set(listed.decode("utf-8", "replace").split()) if listed else set()
            wanted = tuple(t for t in _IMAGE_TYPES if t in offered)
            if not wanted:
                continue
        data = _run(tuple(part.replace("{type}", wanted[0]) for part in reader), timeout)
        if data:
            return data, name
    raise ClipboardError("The clipboard holds no image (copy one first; text is pasted as usual).")


def _run(command: tuple[str, ...], timeout: float) -> bytes | None:
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout[:MAX_CLIPBOARD_IMAGE]
