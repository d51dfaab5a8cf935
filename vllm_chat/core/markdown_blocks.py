"""Split streamed Markdown into top-level blocks, incrementally, in pieces of bounded size.

A Markdown document is a sequence of top-level blocks (paragraphs, headings,
lists, fences, tables, quotes...). While a reply streams, appending text can
only change the *last* block: once the next block has started, every earlier
one is closed for good. `BlockStream` therefore re-parses only the tail (from
the start of the last block), hands out each block as soon as it is closed,
and keeps the open one as `tail`. The UI renders closed blocks once and
re-renders only the tail, so the cost per update does not grow with the reply.

Two things keep that cost bounded whatever a model writes:

- **Pieces.** A block longer than `MAX_LINES` lines (`MAX_TABLE_ROWS` rows for
  a table) or `MAX_CHARS` characters is cut into pieces at fixed places (so
  the pieces don't depend on how the text arrived): a table after every
  `MAX_TABLE_ROWS` rows, each later piece parsed and drawn under the table's
  header; a fence after `MAX_LINES` lines, each piece drawn as a fence of its
  own; a list before a top-level item; anything else at a line break, or, in
  a single enormous line, at a space. A 10,000-row table is then 1,000 small
  tables drawn once each, and the open tail is never more than a piece.
- **Too deep.** The parser stops at a nesting depth (`maxNesting`); past it,
  a list swallows the rest of the document, and the renderer would show
  nothing of it. Such a block is marked `plain` (drawn as the text it is),
  and the text after it is parsed as blocks of its own.

Concatenating the `source` of every block and piece gives back the text
exactly (blank lines before the first block aside). The parser configuration is Rich's (CommonMark plus tables and
strikethrough), so block boundaries agree with the renderer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_LINES = 40
"""Lines of a block (other than a table) drawn as one piece."""
MAX_TABLE_ROWS = 10
"""Rows of a table drawn as one piece (tables are the costliest to draw)."""
MAX_CHARS = 4000
"""Characters of a block drawn as one piece."""
FEED_SLICE = 8192
"""Most characters parsed in one go: longer text is fed in slices, so parsing stays linear."""

_ITEM = re.compile(r" {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


@lru_cache(maxsize=1)
def markdown_parser() -> Any:
    """The MarkdownIt parser configured as Rich's Markdown configures it (shared)."""
    from markdown_it import MarkdownIt

    return MarkdownIt().enable("strikethrough").enable("table")


@dataclass
class Block:
    """One top-level block of the document, or one piece of a long one."""

    source: str
    """The exact text of this block (or piece) in the document."""
    tokens: list[Any] | None = None
    """Parsed tokens of `render_source`, when known (renderers parse it otherwise)."""
    plain: bool = False
    """Draw as plain text: the structure is nested deeper than the parser goes."""
    prefix: str = ""
    """Text parsed before `source` but not part of it: a table's header for a later piece."""
    suffix: str = ""
    """Text parsed after `source` but not part of it: the closing line of a cut fence."""
    continued: bool = False
    """This piece continues the block of the previous one (no blank line between them)."""

    @property
    def render_source(self) -> str:
        """What to parse and draw: `prefix + source + suffix`."""
        return self.prefix + self.source + self.suffix


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _too_deep(tokens: list[Any]) -> bool:
    limit = markdown_parser().options.get("maxNesting", 20)
    return any(t.level >= limit - 1 for t in tokens)


def _deep_end(lines: list[str], start: int) -> int:
    """Where text after a too-deep structure that starts at line `start` resumes: the first
    unindented line after a blank line that continues no list or quote (else the end)."""
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if (line.strip() and not lines[i - 1].strip() and line[0] not in " \t>"
                and not _ITEM.match(line)):
            return i
    return len(lines)


def _parse(text: str, offset: int = 0) -> list[tuple[int, list[Any], bool]]:
    """(first line, tokens, plain) of each top-level block of `text`, lines counted from
    `offset`."""
    tokens = markdown_parser().parse(text)
    blocks: list[tuple[int, list[Any], bool]] = []
    index_of_start: list[int] = []
    for index, token in enumerate(tokens):
        # Opening and self-contained tokens of top-level blocks carry a line map;
        # closing tokens and inline content don't.
        if token.level == 0 and token.map is not None and (not blocks or token.map[0] + offset > blocks[-1][0]):
            blocks.append((token.map[0] + offset, [], False))
            index_of_start.append(index)
    for i, start in enumerate(index_of_start):
        end = index_of_start[i + 1] if i + 1 < len(index_of_start) else len(tokens)
        blocks[i] = (blocks[i][0], tokens[start:end], False)
    for i, (first, block_tokens, _) in enumerate(blocks):
        if _too_deep(block_tokens):
            lines = _lines(text)
            resume = _deep_end(lines, first - offset)
            rest = _parse("".join(lines[resume:]), offset + resume) if resume < len(lines) else []
            return [*blocks[:i], (first, [], True), *rest]
    return blocks


def _kind(tokens: list[Any]) -> str:
    return tokens[0].type if tokens else ""


def _first_cut(lines: list[str], kind: str) -> tuple[int, int] | None:
    """Where a block (or what is left of it) made of `lines` is cut: (line, character in
    that line), the piece being everything before. None: no cut (yet).

    Cut places depend only on the text before them, so streaming in any chunks cuts a
    block where the whole text would have been cut."""
    rows = MAX_TABLE_ROWS if kind == "table_open" else MAX_LINES
    listing = kind in ("bullet_list_open", "ordered_list_open")
    chars = 0
    for i, line in enumerate(lines):
        if i == 0 and len(line.rstrip("\n")) > MAX_CHARS:
            at = line.rfind(" ", MAX_CHARS // 2, MAX_CHARS)
            return i, at + 1 if at > 0 else MAX_CHARS  # one enormous line: cut it at a space
        full = i >= rows or chars + len(line) > MAX_CHARS
        fits = not listing or i >= 4 * rows or (line.endswith("\n") and _ITEM.match(line))
        # Never before a blank line: the rest would start with blank lines, which belong to no block.
        if i and line.strip() and full and fits:
            return i, 0
        chars += len(line)
    return None


class BlockStream:
    """Feed text as it arrives; get back the blocks (and pieces) that became final."""

    def __init__(self) -> None:
        self.tail = ""
        """Source of the last, still-open block (plus anything not yet parsed)."""
        self.open_block: Block | None = None
        """The open block as the last `feed` parsed it (None: not parsed yet)."""
        self._prefix = ""  # context the tail is parsed under (a cut table's header, a cut fence's opener)
        self._closer = ""  # the line closing a cut fence, for drawing each of its pieces
        self._continued = False  # the tail continues a block cut into pieces

    def feed(self, text: str) -> list[Block]:
        """Add `text`; return the blocks that are now closed, in order."""
        if len(text) > FEED_SLICE:
            out: list[Block] = []
            for i in range(0, len(text), FEED_SLICE):
                out += self._feed(text[i:i + FEED_SLICE])
            return out
        return self._feed(text)

    def _feed(self, text: str) -> list[Block]:
        self.tail += text
        if "\n" not in text and len(self.tail) <= MAX_CHARS:
            # A block can only close at a line break: the open one just grew.
            plain = self.open_block.plain if self.open_block is not None else False
            self.open_block = Block(self.tail, None, plain, self._prefix, self._suffix(self.tail), self._continued)
            return []
        finished: list[Block] = []
        while self._step(finished):
            pass
        return finished

    def _suffix(self, source: str) -> str:
        """The closing fence a piece of a cut fence is drawn with (none once it closes itself)."""
        if not self._closer:
            return ""
        marker = self._closer.strip()
        for line in _lines(source):
            found = _FENCE.match(line)
            if found and found.group(1)[0] == marker[0] and len(found.group(1)) >= len(marker) \
                    and not line[found.end():].strip():
                return ""
        return self._closer if source.endswith("\n") else "\n" + self._closer

    def _step(self, finished: list[Block]) -> bool:
        """Parse the tail once, moving closed blocks and pieces to `finished`; True when it
        must be parsed again (blank lines before the first block were dropped)."""
        head = len(_lines(self._prefix))
        text = self._prefix + self.tail
        blocks = _parse(text)
        if not blocks:
            self.open_block = Block(self.tail, None, False, self._prefix, self._suffix(self.tail), self._continued)
            return False
        lines = _lines(text)
        if not self._prefix and blocks[0][0] > 0:
            self.tail = "".join(lines[blocks[0][0]:])  # blank lines before any block belong to none
            return True
        for i, (first, parsed, plain) in enumerate(blocks):
            tokens: list[Any] | None = parsed
            skip = head if i == 0 else 0
            end = blocks[i + 1][0] if i + 1 < len(blocks) else len(lines)
            own = lines[first + skip:end]
            kind = _kind(parsed)
            cut = None if plain else _first_cut(own, kind)
            context = (self._prefix, self._closer)
            if cut is not None:
                tokens = None  # they were parsed for the block whole, not for its pieces
                context = self._context(lines[first:end], kind, skip)
            while cut is not None:
                line, char = cut
                piece = "".join(own[:line]) + own[line][:char]
                self._closer = context[1] or self._closer  # a piece of a fence is drawn closed too
                self._emit(finished, Block(piece, None, False))
                self.tail = self.tail[len(piece):]
                self._prefix, self._closer = context
                self._continued = True
                own = ([own[line][char:]] if char else []) + own[line + (1 if char else 0):]
                cut = _first_cut(own, kind)
            source = "".join(own)
            if i + 1 < len(blocks):
                self._emit(finished, Block(source, None if plain or self._prefix else tokens, plain))
                self.tail = self.tail[len(source):]
                continue
            self.open_block = Block(source, None if plain or self._continued else tokens, plain, self._prefix,
                                    self._suffix(source), self._continued)
        return False

    def _emit(self, finished: list[Block], block: Block) -> None:
        """Close `block` as the next one out, with the tail's context; the context ends with it."""
        if block.source.strip():
            block.prefix, block.suffix, block.continued = self._prefix, self._suffix(block.source), self._continued
        finished.append(block)
        self._prefix, self._closer, self._continued = "", "", False

    def _context(self, lines: list[str], kind: str, head: int) -> tuple[str, str]:
        """(prefix, closing line) the rest of a cut block of `kind` is parsed and drawn with."""
        if kind == "table_open":
            return (self._prefix if head else "".join(lines[:2])), ""
        opener = self._prefix if head else (lines[0] if lines else "")
        fence = _FENCE.match(opener)
        if kind == "fence" and fence:
            return opener, fence.group(1) + "\n"
        return "", ""


class PlainStream:
    """`BlockStream` for text shown literally: pieces of at most `MAX_LINES` lines or
    `MAX_CHARS` characters, each continuing the one before."""

    def __init__(self) -> None:
        self.tail = ""
        """Text not yet handed out as a piece."""
        self.open_block: Block | None = None
        """The tail as a block to draw."""

    def feed(self, text: str) -> list[Block]:
        """Add `text`; return the pieces that are complete, in order."""
        self.tail += text
        out: list[Block] = []
        while True:
            cut = _first_cut(_lines(self.tail), "") if ("\n" in text or len(self.tail) > MAX_CHARS) else None
            if cut is None:
                break
            line, char = cut
            lines = _lines(self.tail)
            piece = "".join(lines[:line]) + lines[line][:char]
            out.append(Block(piece, None, True, continued=True))
            self.tail = self.tail[len(piece):]
        self.open_block = Block(self.tail, None, True, continued=True)
        return out


def split_blocks(text: str) -> list[str]:
    """`text` cut into the source of each top-level block or piece (blank lines between
    blocks stay with the block before them)."""
    stream = BlockStream()
    blocks = [b.source for b in stream.feed(text)]
    if stream.tail.strip():
        blocks.append(stream.tail)
    return blocks
