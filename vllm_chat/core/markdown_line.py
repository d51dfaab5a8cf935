"""Markdown read as one line of plain prose, for a preview (the session browser's).

A preview is the start of a message, already flattened to one line, so its block
structure is gone: headings, fences, quotes and table rules are markers in the
middle of the line. They are taken out, inline Markdown (emphasis, code, links) is
read as the words it shows, and table cells are kept apart with `·`. A `>` is taken
for a quote only at the start: further on it is more likely a comparison.
"""

from __future__ import annotations

import re
from typing import Any

from vllm_chat.core.markdown_blocks import markdown_parser

_HEADING = re.compile(r"(?:^|(?<=\s))#{1,6}(?=\s|$)")
_QUOTE = re.compile(r"^>+(?=\s)")
_FENCE = re.compile(r"(?:```|~~~)[\w+-]*")
_RULE = re.compile(r"(?:^|(?<=\s))(?:-{3,}|\*{3,}|_{3,})(?=\s|$)")
_TABLE_RULE = re.compile(r"\|?(?:\s*:?-{3,}:?\s*\|)+(?:\s*:?-{3,}:?\s*\|?)?")
_CELLS = re.compile(r"\s*\|(?:\s*\|)*\s*")


def markdown_line(text: str) -> str:
    """`text` (Markdown) as the plain words it shows, on one line:
    `# A reply ## 1. **Batching** | a | b |` -> `A reply 1. Batching · a · b`."""
    flat = " ".join(text.split())
    flat = _TABLE_RULE.sub(" ", flat)
    for marker in (_FENCE, _HEADING, _QUOTE, _RULE):
        flat = marker.sub(" ", flat)
    words = _inline_text(flat.strip())
    cells = [cell for cell in _CELLS.split(words) if cell.strip()]
    return " · ".join(" ".join(cell.split()) for cell in cells)


def _inline_text(text: str) -> str:
    """The words inline Markdown shows: emphasis and code marks dropped, a link's text kept."""
    if not text:
        return ""
    parts: list[str] = []
    for token in markdown_parser().parseInline(text):
        parts.extend(_words(token.children or []))
    return "".join(parts)


def _words(children: list[Any]) -> list[str]:
    words: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline", "html_inline"):
            words.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            words.append(" ")
        elif child.type == "image":
            words.extend(_words(child.children or []))
    return words
