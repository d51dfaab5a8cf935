"""What one-shot mode is asked to send: `-p` text, piped stdin, and a saved prompt
(`--prompt NAME` with `--var KEY=VALUE`).

Reading files and stdin for `--var` values is the command line's business, so
it happens here; filling in the template is the session's (`use_template`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class OneShotInputError(Exception):
    """The command line asks for a prompt that can't be built (exit status 2)."""


@dataclass(frozen=True)
class OneShotInput:
    """The parts of a one-shot prompt."""

    text: str
    """`-p` text and piped stdin (not used by a variable), joined by a blank line."""
    template: str | None = None
    """The saved prompt to fill in first (`--prompt`)."""
    variables: dict[str, str] = field(default_factory=dict)
    """Values for its variables (`--var`)."""


def oneshot_input(prompt: str | None, template: str | None, assignments: list[str]) -> OneShotInput | None:
    """The prompt the command line gives, or None when there is none (the TUI starts)."""
    piped = not sys.stdin.isatty()
    if prompt is None and template is None and not piped:
        return None
    stdin: list[str] = []

    def read_stdin() -> str:
        if not stdin:
            stdin.append(_read_stdin())
        return stdin[0]

    variables = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise OneShotInputError(f"--var {assignment!r}: write it as NAME=VALUE (VALUE @FILE reads a file, "
                                    "@- reads stdin).")
        variables[key.strip()] = _value(value, read_stdin)
    if assignments and template is None:
        raise OneShotInputError("--var fills in a saved prompt: give --prompt NAME too.")
    parts = []
    if prompt not in (None, "-") and prompt.strip():
        parts.append(prompt)
    if (piped and not stdin) or prompt == "-":
        data = read_stdin()
        if data.strip():
            parts.append(data.rstrip("\n"))
    if not parts and template is None:
        raise OneShotInputError("the prompt is empty: give text after -p, or pipe it on stdin.")
    return OneShotInput("\n\n".join(parts), template, variables)


def _read_stdin() -> str:
    """Piped input as text, or `OneShotInputError` saying it is not UTF-8 and what to do."""
    raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OneShotInputError(
            f"the text piped on stdin is not UTF-8 (byte 0x{raw[exc.start]:02x} at position {exc.start} of "
            f"{len(raw)}). Convert it first (e.g. iconv -f LATIN1 -t UTF-8), or for an image, video or "
            "audio file use -a FILE.") from None


def _value(value: str, read_stdin: Callable[[], str]) -> str:
    if value == "@-":
        return read_stdin().rstrip("\n")
    if value.startswith("@@"):
        return value[1:]
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            return path.read_text(encoding="utf-8").rstrip("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise OneShotInputError(f"--var ...={value}: can't read {path}: {exc}") from None
    return value
