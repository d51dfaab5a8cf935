"""TextViewScreen: read a long text whole — a reasoning, a tool call's arguments.

The chat shows such texts as a tail or an excerpt (they can be megabytes); this
screen shows all of it in `LongText`, a Line-API view that cuts lines to the
width once and paints only what is on screen, so 5 MB opens at once.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from vllm_chat.core import format as fmt
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog


def wrap_lines(text: str, width: int) -> list[str]:
    """`text` as display lines at most `width` cells wide (long lines cut, not re-flowed)."""
    width = max(1, width)
    out: list[str] = []
    for line in text.split("\n"):
        if line.isascii():
            if len(line) <= width:
                out.append(line)
            else:
                out.extend(line[i:i + width] for i in range(0, len(line), width))
        elif cell_len(line) <= width:
            out.append(line)
        else:
            out.extend(chop_cells(line, width))
    return out


class LongText(ScrollView, can_focus=True):
    """A read-only text of any length, scrolled with the keyboard (the scroll keys every
    scrollable area has) or the mouse."""

    DEFAULT_CSS = """
    LongText { height: 1fr; background: $surface; }
    """

    def __init__(self, text: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = inert(text)
        """The text shown (control characters made visible)."""
        self._lines: list[str] = []
        self._wrapped_at = -1

    def _wrap(self, width: int) -> None:
        if width != self._wrapped_at and width > 0:
            self._lines = wrap_lines(self.text, width)
            self._wrapped_at = width
            self.virtual_size = Size(width, len(self._lines))

    def on_resize(self) -> None:
        self._wrap(self.scrollable_content_region.width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        self._wrap(width)
        index = self.scroll_offset.y + y
        line = self._lines[index] if 0 <= index < len(self._lines) else ""
        style = self.rich_style
        return Strip([Segment(line, style), Segment(" " * max(0, width - cell_len(line)), style)], width)


class TextViewScreen(Dialog[None]):
    """A long text, whole, in a scrollable box; esc closes it."""

    DEFAULT_CSS = """
    TextViewScreen {
        & > Vertical { width: 95%; height: 90%; }
        & .what { color: $text-muted; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="close-text-view"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        """What the text is ("Reasoning", "Arguments of read_file")."""
        self.text = text
        """The whole text."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(inert(self.title_text)), classes="title")
            yield Static(Text(f"{fmt.count(len(self.text))} characters"), classes="what")
            yield LongText(self.text, id="long-text")
            yield Static(with_keys(self.app, "the arrow and page keys scroll · {close-text-view} closes"),
                         classes="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(LongText).focus()

    def action_close(self) -> None:
        """Back to the conversation."""
        self.dismiss(None)
