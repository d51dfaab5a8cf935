"""Dialog: the common frame of every modal (centred box, title line, hint line).

A dialog screen composes one `Vertical` (or `VerticalScroll`) holding its
content, with a `.title` line first and usually a `.hint` line of keys last;
subclasses set only their own size and whatever is special about them.
"""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal screen drawn as a centred, framed box."""

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
        & > Vertical, & > VerticalScroll {
            width: 90;
            max-width: 95%;
            height: auto;
            max-height: 90%;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
        & .title { text-style: bold; color: $primary; }
        & .hint { color: $text-muted; }
    }
    """
