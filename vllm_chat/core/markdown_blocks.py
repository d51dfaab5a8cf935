"""Split streamed Markdown into top-level blocks, incrementally.

A Markdown document is a sequence of top-level blocks (paragraphs, headings,
lists, fences, tables, quotes...). While a reply streams, appending text can
only change the *last* block: once the next block has started, every earlier
one is closed for good. `BlockStream` therefore re-parses only the tail (from
the start of the last block), hands out each block as soon as it is closed,
and keeps the open one as `tail`. The UI renders closed blocks once and
re-renders only the tail, so the cost per update does not grow with the reply.

The same parser configuration as Rich's Markdown is used (CommonMark plus
tables and strikethrough), so block boundaries agree with the renderer.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def markdown_parser() -> Any:
    """The MarkdownIt parser configured as Rich's Markdown configures it (shared)."""
    from markdown_it import MarkdownIt

    return MarkdownIt().enable("strikethrough").enable("table")


def _parse_blocks(text: str) -> tuple[list[tuple[int, int]], list[Any]]:
    """(first line, first token index) of each top-level block, and the tokens."""
    tokens = markdown_parser().parse(text)
    starts: list[tuple[int, int]] = []
    for index, token in enumerate(tokens):
        # Opening and self-contained tokens of top-level blocks carry a line map;
        # closing tokens and inline content don't.
        if token.level == 0 and token.map is not None:
            if not starts or token.map[0] > starts[-1][0]:
                starts.append((token.map[0], index))
    return starts, tokens


def split_blocks(text: str) -> list[str]:
    """`text` cut into the source of each top-level block (blank lines between
    blocks stay with the block before them)."""
    stream = BlockStream()
    blocks = stream.feed(text)
    if stream.tail.strip():
        blocks.append(stream.tail)
    return blocks


class BlockStream:
    """Feed text as it arrives; get back the blocks that became final."""

    def __init__(self) -> None:
        self.tail = ""
        """Source of the last, still-open block (plus anything not yet parsed)."""
        self.finished_tokens: list[list[Any]] = []
        """The parsed tokens of each block the last `feed` returned, in order."""
        self.tail_tokens: list[Any] | None = None
        """The parsed tokens of `tail`, when the last `feed` parsed it (else None).
        Renderers use these instead of parsing the same text again."""

    def feed(self, text: str) -> list[str]:
        """Add `text`; return the sources of blocks that are now closed, in order."""
        self.tail += text
        self.finished_tokens = []
        if "\n" not in text:
            self.tail_tokens = None
            return []  # a block can only close at a line break
        starts, tokens = _parse_blocks(self.tail)
        if len(starts) < 2:
            if starts and starts[0][0] > 0:
                self.tail = _drop_lines(self.tail, starts[0][0])
            self.tail_tokens = tokens
            return []
        lines = self.tail.splitlines(keepends=True)
        finished = ["".join(lines[starts[i][0]:starts[i + 1][0]]) for i in range(len(starts) - 1)]
        self.finished_tokens = [tokens[starts[i][1]:starts[i + 1][1]] for i in range(len(starts) - 1)]
        self.tail = "".join(lines[starts[-1][0]:])
        self.tail_tokens = tokens[starts[-1][1]:]
        return finished


def _drop_lines(text: str, count: int) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[count:])
