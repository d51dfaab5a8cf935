"""Writing a long prompt in the user's own editor (the config's, $EDITOR, $VISUAL, nano or vi)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

FALLBACKS = ("nano", "vi")
"""Editors tried when neither the config nor the environment names one."""


class EditorError(Exception):
    """The editor could not be started or failed; the message says what to do."""


def editor_command(configured: str | None = None) -> list[str]:
    """The editor to run: the config's `editor`, else $EDITOR, else $VISUAL, else nano or vi.

    $EDITOR is asked before $VISUAL, as the feature request specifies (the
    older Unix habit is the reverse); `editor` in the config overrides both.
    A command that can't be split into words (an unclosed quote) raises
    `EditorError` naming where it came from.
    """
    sources = (("`editor` in the config", configured), ("$EDITOR", os.environ.get("EDITOR")),
               ("$VISUAL", os.environ.get("VISUAL")))
    for where, candidate in sources:
        if candidate and candidate.strip():
            try:
                return shlex.split(candidate)
            except ValueError as exc:
                raise EditorError(f"The editor command {candidate!r} from {where} can't be read: {exc}. "
                                  "Fix its quoting.") from None
    for name in FALLBACKS:
        if shutil.which(name):
            return [name]
    raise EditorError("No editor found: set $EDITOR (or `editor` in the config).")


def edit_text(
    text: str,
    command: list[str],
    *,
    run: Callable[[list[str]], int] | None = None,
) -> str:
    """Open `text` in the editor and return what the user saved.

    The file is private (0600) and removed afterwards. `run` starts the editor and
    returns its exit status (the UI wraps it so the terminal is handed over).
    """
    runner = run or (lambda argv: subprocess.run(argv, check=False).returncode)
    fd, name = tempfile.mkstemp(prefix="vllm-chat-prompt-", suffix=".md")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            status = runner([*command, str(path)])
        except OSError as exc:
            raise EditorError(f"Could not start {command[0]!r}: {exc.strerror or exc}. "
                              "Set $EDITOR or `editor` in the config.") from None
        if status != 0:
            raise EditorError(f"{command[0]} exited with status {status}; the prompt is unchanged.")
        return path.read_text(encoding="utf-8")
    finally:
        path.unlink(missing_ok=True)
