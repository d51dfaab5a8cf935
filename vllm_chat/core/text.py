"""Make untrusted text (model output, server messages, session files) safe to show.

Model output is text, never instructions to the terminal: escape sequences
and other control characters in a reply or an error must be shown, not
obeyed. `inert()` replaces them with visible stand-ins; newlines and tabs
stay. Rich markup is not a concern here: the UI never parses reply text as
markup (it renders it as Markdown or plain `Text`).

Every command that prints goes through one of two doors:

- `terminal_safe(text, stream)` for *data* (a reply, an export): made inert
  when `stream` is a terminal, written unchanged into a pipe or a file;
- `message_text(text)` for *messages* (errors, notes, listings a person reads):
  always inert and free of credentials, since a pipe (`| grep`) still ends
  on a terminal.
"""

from __future__ import annotations

import json
import re
from typing import Any, TextIO

from vllm_chat.core.urls import redact_urls

# C0 controls except \t and \n, DEL, and C1 controls (0x80-0x9f, which some
# terminals treat as CSI/OSC introducers). Carriage returns are dropped rather
# than shown: CRLF line ends are common and harmless once the CR is gone, and a
# bare CR could otherwise let a reply overwrite what was printed before it.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x1B:
        return "␛"
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture" for C0 codes
    if code == 0x7F:
        return "␡"
    return f"<U+{code:04X}>"


def inert(text: str) -> str:
    """`text` with every control character except newline and tab made visible."""
    if "\r" in text:
        text = text.replace("\r", "")
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_visible, text)


def is_terminal(stream: TextIO | None) -> bool:
    """Whether `stream` is a terminal (False for a closed or odd stream)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (ValueError, OSError, AttributeError):
        return False


def terminal_safe(text: str, stream: TextIO | None) -> str:
    """`text` as it may be written to `stream`: inert when `stream` is a terminal,
    unchanged when it is a pipe or a file (data written there must stay exact)."""
    return inert(text) if is_terminal(stream) else text


def message_text(text: str) -> str:
    """A message for a person (an error, a note, a listing line): control characters
    made visible and credentials in URLs hidden, wherever it is written."""
    return inert(redact_urls(text))


def one_line(text: str) -> str:
    """`message_text(text)` on a single line (line breaks become spaces), for listings."""
    return " ".join(message_text(text).split("\n")).replace("\t", " ")


_JSON_UNSAFE = re.compile("[\x7f-\x9f]")


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps(value, ensure_ascii=False)` with DEL and C1 controls escaped too
    (`json` escapes only C0), so JSON printed to a terminal can't carry a command."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
