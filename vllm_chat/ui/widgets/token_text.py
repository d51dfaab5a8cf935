"""TokenText: text shown token by token, each token with its own style, and a cursor
that moves from token to token.

The confidence heat-map (a reply's tokens coloured by probability) and the
rendered prompt (a template's tokens, boundaries on demand) are both this
widget. It is on Textual's Line API: the tokens are laid out into lines once
per width, and only the visible lines are drawn, so a 20,000-token reply
scrolls and moves its cursor as fast as a short one. Line breaks show as `↵`
(a newline is a token too, and the cursor must be able to land on it); text
from a server or a model is made inert first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from vllm_chat.core.text import inert

BREAK = "↵"
"""How a line break in a token shows (then the line breaks)."""
EMPTY = "▏"
"""How a token without text shows while the cursor is on it."""
_CURSOR = Style(reverse=True, bold=True)


class TokenText(ScrollView, can_focus=True):
    """Tokens laid out as wrapped text, each in its own style, with a token cursor."""

    DEFAULT_CSS = """
    TokenText {
        overflow-y: scroll;
        overflow-x: hidden;
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    BINDINGS = [
        Binding("right,l", "move(1)", "Next token", id="token-next"),
        Binding("left,h", "move(-1)", "Previous token", id="token-previous"),
        Binding("down,j", "line(1)", "Line down", show=False, id="token-line-down"),
        Binding("up,k", "line(-1)", "Line up", show=False, id="token-line-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="token-page-down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="token-page-up"),
        Binding("home,g", "jump(0)", "First token", show=False, id="token-first"),
        Binding("end,G", "jump(-1)", "Last token", show=False, id="token-last"),
        Binding("n", "marked(1)", "Next marked", id="token-next-marked"),
        Binding("N", "marked(-1)", "Previous marked", show=False, id="token-previous-marked"),
    ]

    @dataclass
    class CursorMoved(Message):
        """The cursor is on another token."""

        token_text: TokenText
        index: int
        """The token under the cursor."""

    def __init__(self, texts: Sequence[str], styles: Sequence[Style], *, marked: Sequence[bool] = (),
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._texts = [inert(t) for t in texts]
        self._styles = list(styles)
        self._marked = list(marked)
        self.cursor = 0
        """The token under the cursor."""
        self._width = 0
        self._lines: list[list[tuple[int, str]]] = []
        self._token_line: list[int] = []
        self._token_col: list[int] = []

    @property
    def count(self) -> int:
        """How many tokens there are."""
        return len(self._texts)

    def set_styles(self, styles: Sequence[Style]) -> None:
        """Draw the tokens in new styles (the layout stays)."""
        self._styles = list(styles)
        self.refresh()

    # -- layout ---------------------------------------------------------------------------

    def on_resize(self) -> None:
        width = max(8, self.scrollable_content_region.width)
        if width != self._width:
            self._layout(width)
            self._show_cursor()

    def _layout(self, width: int) -> None:
        self._width = width
        lines: list[list[tuple[int, str]]] = [[]]
        token_line, token_col = [], []
        col = 0
        for i, text in enumerate(self._texts):
            token_line.append(len(lines) - 1)
            token_col.append(col)
            if not text:
                lines[-1].append((i, ""))
                continue
            for n, part in enumerate(text.replace("\t", "    ").split("\n")):
                if n:
                    lines[-1].append((i, BREAK))
                    lines.append([])
                    col = 0
                size = cell_len(part)
                if col and col + size > width and size <= width:
                    lines.append([])  # a token that fits on a line of its own is not split
                    col = 0
                    if n == 0:
                        token_line[i], token_col[i] = len(lines) - 1, 0
                while size > width - col:
                    head, part = _split(part, width - col)
                    if head:
                        lines[-1].append((i, head))
                    lines.append([])
                    col = 0
                    size = cell_len(part)
                if part:
                    lines[-1].append((i, part))
                    col += size
        self._lines, self._token_line, self._token_col = lines, token_line, token_col
        self.virtual_size = Size(width, len(lines))
        self.refresh()

    # -- drawing -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        number = y + round(self.scroll_offset.y)
        if number >= len(self._lines):
            return Strip.blank(width, base)
        segments = []
        for index, text in self._lines[number]:
            style = base + self._styles[index] if index < len(self._styles) else base
            if index == self.cursor:
                style += _CURSOR
                text = text or EMPTY
            if text:
                segments.append(Segment(text, style))
        return Strip(segments).crop(0, width).extend_cell_length(width, base)

    # -- the cursor ----------------------------------------------------------------------------

    def move_to(self, index: int) -> None:
        """Put the cursor on token `index` (clamped), scroll it into view, and say so."""
        if not self._texts:
            return
        index = max(0, min(index, len(self._texts) - 1))
        if index != self.cursor:
            self.cursor = index
            self.refresh()
        self._show_cursor()
        self.post_message(self.CursorMoved(self, index))

    def _show_cursor(self) -> None:
        if not self._token_line:
            return
        line = self._token_line[self.cursor]
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_offset.y)
        if line < top:
            self.scroll_to(y=line, animate=False)
        elif line >= top + height:
            self.scroll_to(y=line - height + 1, animate=False)

    def action_move(self, step: int) -> None:
        """One token on (or back)."""
        self.move_to(self.cursor + step)

    def action_jump(self, index: int) -> None:
        """The first (0) or the last (-1) token."""
        self.move_to(index if index >= 0 else len(self._texts) - 1)

    def token_at(self, line: int, col: int) -> int | None:
        """The token drawn at (`line`, `col`), or the last one on that line (None: no token)."""
        if not 0 <= line < len(self._lines) or not self._lines[line]:
            return None
        at = 0
        for index, text in self._lines[line]:
            at += cell_len(text)
            if at > col:
                return index
        return self._lines[line][-1][0]

    def action_line(self, step: int) -> None:
        """The token above (or below) the cursor, a line up (or down)."""
        if not self._token_line:
            return
        line, col = self._token_line[self.cursor], self._token_col[self.cursor]
        target = line + step
        while 0 <= target < len(self._lines):
            index = self.token_at(target, col)
            if index is not None and index != self.cursor:
                self.move_to(index)
                return
            target += step
        self.action_jump(0 if step < 0 else -1)

    def action_page(self, step: int) -> None:
        """A screenful on (or back)."""
        height = max(1, self.scrollable_content_region.height - 1)
        if not self._token_line:
            return
        target = self._token_line[self.cursor] + step * height
        target = max(0, min(target, len(self._lines) - 1))
        index = None
        while index is None and 0 <= target < len(self._lines):
            index = self.token_at(target, self._token_col[self.cursor])
            target += 1 if step > 0 else -1
        self.move_to(index if index is not None else self.cursor)

    def action_marked(self, step: int) -> None:
        """The next (or previous) marked token (in the heat-map: an unlikely one)."""
        marked = self._marked
        i = self.cursor + step
        while 0 <= i < len(marked):
            if marked[i]:
                self.move_to(i)
                return
            i += step
        self.notify("No more tokens like that this way.", severity="information", timeout=2, markup=False)


def _split(text: str, room: int) -> tuple[str, str]:
    """`text` cut after `room` cells (at least one character, so wrapping always progresses)."""
    if room <= 0:
        return "", text
    head = chop_cells(text, room)[0] if text else ""
    if not head:
        head = text[:1]
    return head, text[len(head):]
