"""Pieces of the virtual message list: a spacer, and height estimates.

Only the messages near the viewport are mounted as widgets; the others are
stood in for by `Spacer`s as tall as they would be. A message that was
mounted once has a measured height; one that never was gets an estimate
from its text, good enough that the scrollbar doesn't jump much when the
estimate is replaced by the measurement.
"""

from __future__ import annotations

from textual.widget import Widget

from vllm_chat.core.conversation import Message

MESSAGE_CHROME = 3
"""Rows around a message's text: the top margin, the stats line, a blank line."""
TOOL_PANEL_ROWS = 8
"""Rows of a folded tool panel (borders, header, arguments, a few result lines)."""
THUMBNAIL_ROWS = 10
"""Rows of a row of image thumbnails, caption included."""


class Spacer(Widget):
    """Stands in for messages that are not mounted; as tall as they would be."""

    DEFAULT_CSS = """
    Spacer {
        width: 1fr;
        height: 0;
    }
    """

    def __init__(self, height: int) -> None:
        super().__init__()
        self.styles.height = max(0, height)

    def render(self) -> str:
        return ""


def _text_rows(text: str, width: int) -> int:
    rows = 0
    for line in text.splitlines() or [""]:
        rows += max(1, -(-len(line) // width))
    return rows


def estimate_height(message: Message, width: int) -> int:
    """Rows `message` will probably take at `width` columns (margins included)."""
    width = max(10, width - 4)  # the message's border and padding
    if message.role == "user":
        rows = _text_rows(message.content, width) + 1
        if message.attachments:
            rows += THUMBNAIL_ROWS
        return rows
    rows = MESSAGE_CHROME
    if message.content:
        # Markdown adds a blank line between blocks and frames code and tables.
        blocks = message.content.count("\n\n")
        rows += _text_rows(message.content, width) + blocks // 2
    if message.reasoning:
        rows += 2
    rows += len(message.tool_calls) * TOOL_PANEL_ROWS
    if message.error:
        rows += 4
    return rows
