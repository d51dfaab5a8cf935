"""Make untrusted text (model output, server messages) safe to show.

Model output is text, never instructions to the terminal: escape sequences
and other control characters in a reply or an error must be shown, not
obeyed. `inert()` replaces them with visible stand-ins; newlines and tabs
stay. Rich markup is not a concern here: the UI never parses reply text as
markup (it renders it as Markdown or plain `Text`).
"""

from __future__ import annotations

import re

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
