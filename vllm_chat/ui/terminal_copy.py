"""TerminalCopy: what the terminal shows, and the least output that turns it into the next frame.

Textual writes every region it finds dirty in full. While a reply streams at
the bottom of the conversation that is most of the screen, over and over:
each frame rewrites every row of the open paragraph to add a word, and each
new line scrolls the conversation, which moves every row of it. Measured in
a 120x40 terminal, a 6.8 KB reply cost 2 MB of output (300 bytes per byte of
text), and the terminal (tmux, ssh, the emulator) pays for parsing it all.

`TerminalCopy` keeps a copy of what each cell of the terminal shows (its
character and style) and turns each of Textual's updates into less output:

- what a piece of an update would write is compared with the copy, and only
  the cells from the first that differs to the last that differs are written;
- when a band of rows that the update rewrites shows what was on screen
  already, moved up or down by a few rows (the conversation scrolled), the
  terminal moves them itself: a scroll region (`CSI top;bottom r`) and line
  feeds (or reverse index), then only the cells that still differ are
  written, and whatever moved along that the update leaves alone (a margin,
  the scrollbar) is put back.

A full update (start, resize, a new screen, coming back from an editor) is
written as it is and becomes the new copy. A cell the copy can't know (a wide
character, a picture) is always written. `VllmChatApp` hands every update of
the active screen through `TerminalCopy.wrap`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, CompositorUpdate, LayoutUpdate
from textual.strip import Strip

MIN_BAND = 4
"""Fewest rows worth moving with a scroll region instead of rewriting them."""
MIN_VOTES = 3
"""Fewest pieces that must be found moved by the same amount before the terminal scrolls."""
UNKNOWN = "\x00"
"""The character the copy keeps for a cell it can't know (Textual never draws it)."""

_Cells = tuple[str, list[Style | None]]
"""A run of cells: their characters (`UNKNOWN` for a cell not known) and each one's style."""
_Piece = tuple[int, int, Strip]
"""What an update writes on a row: (first column, end column, strip)."""


def _move(x: int, y: int) -> str:
    return f"\x1b[{y + 1};{x + 1}H"


def _cells(strip: Strip) -> _Cells | None:
    """The strip's characters and each one's style, if every character is one cell wide
    and nothing in it is a control code (else None: the copy can't follow it)."""
    styles: list[Style | None] = []
    texts: list[str] = []
    for text, style, control in strip._segments:
        if control:
            return None
        texts.append(text)
        styles.extend([style] * len(text))
    chars = "".join(texts)
    if UNKNOWN in chars or cell_len(chars) != len(chars):
        return None
    return chars, styles


def _same(a: Style | None, b: Style | None) -> bool:
    return a is b or a == b


def _strip(chars: str, styles: list[Style | None]) -> Strip:
    """A strip showing known cells."""
    segments: list[Segment] = []
    start = 0
    for i in range(1, len(chars) + 1):
        if i == len(chars) or not _same(styles[i], styles[start]):
            segments.append(Segment(chars[start:i], styles[start]))
            start = i
    return Strip(segments, len(chars))


class _Diffed(CompositorUpdate):
    """An update whose output is worked out against the terminal's copy when written."""

    def __init__(self, copy: TerminalCopy, update: CompositorUpdate) -> None:
        self.copy = copy
        self.update = update

    def __rich_console__(self, console: Console, options: object) -> Iterable[object]:
        yield self.update  # the plain rendering (Textual only asks for it outside a terminal)

    def render_segments(self, console: Console) -> str:
        return self.copy.render(self.update, console)


class TerminalCopy:
    """What each cell of the terminal shows (see the module docstring)."""

    def __init__(self) -> None:
        self._chars: list[str] = []
        self._styles: list[list[Style | None]] = []
        self.scrolls = 0
        """How many times the terminal was asked to move rows itself."""

    def forget(self) -> None:
        """Assume nothing about what the terminal shows (the next update is written whole)."""
        self._chars, self._styles = [], []

    def wrap(self, update: CompositorUpdate) -> CompositorUpdate:
        """`update` as it will be written through this copy."""
        if isinstance(update, (ChopsUpdate, LayoutUpdate)):
            return _Diffed(self, update)
        self.forget()  # something else: written as it is, and the copy no longer knows
        return update

    def render(self, update: CompositorUpdate, console: Console) -> str:
        """The output that shows `update`, given (and updating) the copy."""
        if isinstance(update, ChopsUpdate):
            return self._render_chops(update, console)
        if isinstance(update, LayoutUpdate):
            return self._render_full(update, console)
        self.forget()
        return update.render_segments(console)

    def _resize(self, width: int, height: int) -> None:
        if len(self._chars) != height or (self._chars and len(self._chars[0]) != width):
            self._chars = [UNKNOWN * width for _ in range(height)]
            self._styles = [[None] * width for _ in range(height)]

    def _know(self, y: int, x: int, strip: Strip) -> _Cells | None:
        """Note that the row `y` shows `strip` from column `x`; its cells, if they can be known."""
        cells = _cells(strip)
        stop = x + strip.cell_length
        row = self._chars[y]
        if cells is None:
            self._chars[y] = row[:x] + UNKNOWN * (stop - x) + row[stop:]
        else:
            self._chars[y] = row[:x] + cells[0] + row[stop:]
            self._styles[y][x:stop] = cells[1]
        return cells

    # -- full updates ----------------------------------------------------------------------

    def _render_full(self, update: LayoutUpdate, console: Console) -> str:
        out = update.render_segments(console)
        region = update.region
        self.forget()
        self._resize(region.right, region.bottom)
        for y, line in enumerate(update.strips, region.y):
            self._know(y, region.x, Strip.join(list(line)))
        return out

    # -- partial updates -------------------------------------------------------------------

    def _render_chops(self, update: ChopsUpdate, console: Console) -> str:
        width = max((ends[-1] for ends in update.chop_ends if ends), default=0)
        self._resize(width, len(update.chops))
        pieces: dict[int, list[_Piece]] = {}
        for y, x1, x2 in update.spans:
            line, ends = update.chops[y], update.chop_ends[y]
            for end, (x, strip) in zip(ends, line.items(), strict=False):
                if strip is None or x > x2 or end <= x1:
                    continue
                if not (x2 > x >= x1 and end <= x2):  # as Textual writes it: from x to the span's end
                    strip = strip.crop(0, min(end, x2) - x)
                    end = x + strip.cell_length
                pieces.setdefault(y, []).append((x, end, strip))
        out: list[str] = []
        rows = sorted(pieces)
        if len(rows) >= MIN_BAND:
            movable = [y for y in rows if self._movable(y, pieces[y])]
            for top, bottom in _bands(movable):
                out.append(self._scroll(top, bottom, pieces, console))
        for y in rows:
            for x, _, strip in pieces[y]:
                out.append(self._piece(x, y, strip, console))
        return "".join(out)

    def _piece(self, x: int, y: int, strip: Strip, console: Console) -> str:
        """The output that makes row `y` show `strip` from column `x` ('' when it does)."""
        stop = x + strip.cell_length
        was_chars, was_styles = self._chars[y][x:stop], self._styles[y][x:stop]
        cells = self._know(y, x, strip)
        if cells is None:
            return _move(x, y) + strip.render(console)
        new_chars, new_styles = cells
        if was_chars == new_chars and was_styles == new_styles:
            return ""
        n = len(new_chars)
        start = 0
        while start < n and was_chars[start] == new_chars[start] and _same(was_styles[start], new_styles[start]):
            start += 1
        end = n
        while end > start and was_chars[end - 1] == new_chars[end - 1] and _same(was_styles[end - 1],
                                                                                  new_styles[end - 1]):
            end -= 1
        if start == 0 and end == n:
            return _move(x, y) + strip.render(console)
        return _move(x + start, y) + strip.crop(start, end).render(console)

    def _movable(self, y: int, written: list[_Piece]) -> bool:
        """Whether every cell of row `y` that the update leaves alone is known: then the row
        can be moved with a scroll region and those cells put back afterwards."""
        chars = self._chars[y]
        start = 0
        for x, end, _ in sorted(written, key=lambda piece: piece[0]):
            if UNKNOWN in chars[start:x]:
                return False
            start = max(start, end)
        return UNKNOWN not in chars[start:]

    def _scroll(self, top: int, bottom: int, pieces: dict[int, list[_Piece]], console: Console) -> str:
        """Move rows top..bottom with a scroll region when much of what the update writes
        there is on screen already, a few rows up or down; then put back the cells the
        update leaves alone (a margin, the scrollbar), which moved with their rows."""
        chars = self._chars
        new = {(y, x, end): text for y in range(top, bottom + 1) for x, end, strip in pieces[y]
               if (text := strip.text).strip()}
        ranges = {(x, end) for _, x, end in new}
        before: dict[tuple[int, int, str], list[int]] = {}
        for y in range(top, bottom + 1):
            row = chars[y]
            for x, end in ranges:
                seen = row[x:end]
                if UNKNOWN not in seen and seen.strip():
                    before.setdefault((x, end, seen), []).append(y)
        votes: Counter[int] = Counter()
        for (y, x, end), text in new.items():
            was = before.get((x, end, text))
            if was is not None and len(was) == 1 and was[0] != y:
                votes[was[0] - y] += 1
        if not votes:
            return ""
        shift, count = votes.most_common(1)[0]
        if count < MIN_VOTES:
            return ""
        self.scrolls += 1
        old_chars = chars[top:bottom + 1]
        old_styles = [row[:] for row in self._styles[top:bottom + 1]]
        width = len(old_chars[0])
        for y in range(top, bottom + 1):
            source = y + shift - top
            if 0 <= source <= bottom - top:
                chars[y], self._styles[y] = old_chars[source], old_styles[source][:]
            else:  # a row the terminal blanked
                chars[y], self._styles[y] = UNKNOWN * width, [None] * width
        if shift > 0:  # content moves up: line feeds at the bottom margin
            moves = _move(0, bottom) + "\n" * shift
        else:  # content moves down: reverse index at the top margin
            moves = _move(0, top) + "\x1bM" * -shift
        out = ["\x1b[0m", f"\x1b[{top + 1};{bottom + 1}r", moves, "\x1b[r"]
        for y in range(top, bottom + 1):
            start = 0
            for x, end, _ in sorted(pieces[y], key=lambda piece: piece[0]) + [(width, width, Strip([]))]:
                if x > start:  # cells the frame leaves alone: put back what they showed
                    keep = _strip(old_chars[y - top][start:x], old_styles[y - top][start:x])
                    out.append(self._piece(start, y, keep, console))
                start = max(start, end)
        return "".join(out)


def _bands(rows: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive row numbers at least `MIN_BAND` long, as (first, last)."""
    bands: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i] != rows[i - 1] + 1:
            if i - start >= MIN_BAND:
                bands.append((rows[start], rows[i - 1]))
            start = i
    return bands
