"""WelcomeNote: what an empty conversation shows, the main keys as the keymap has
them, in as many columns as fit."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import App
from textual.widgets import Static

from vllm_chat.ui.keys import with_keys

WELCOME_KEYS = [
    ["{send}  send", "{newline:first}  new line", "{stop}  stop"],
    ["{pick-model}  model", "{new-conversation}  new chat", "{command-palette}  commands"],
    ["{help}  every key"],
]
"""The keys an empty conversation shows, three to a line where they fit
(`{binding-id}`: that binding's keys now)."""

GAP = 6
"""Spaces after the widest entry of a column."""

DEMO_INTROS = (
    "Ask anything. This is the demo: type  hello  for a tour, or  help  for every phrase it knows.",
    "Ask anything (demo: try  hello  or  help ).",
)
"""The first line in `--demo`, longest first: the words the simulated model answers best, to
start with (one line, so the note is no taller than without them)."""


def welcome_text(app: App[Any], width: int | None = None, *, demo: bool = False) -> str:
    """The note: the keys in columns, as many (up to three) as fit in `width`; in the demo,
    what to type first."""
    rows = [[with_keys(app, cell) for cell in row] for row in WELCOME_KEYS]
    cells = [cell for row in rows for cell in row]
    for columns in (3, 2, 1):
        if columns < 3:  # regrouped: reading order, `columns` to a line
            rows = [cells[i:i + columns] for i in range(0, len(cells), columns)]
        lines = _columns(rows)
        if width is None or columns == 1 or max(len(line) for line in lines) <= width:
            break
    intro = "Ask anything."
    if demo:
        intro = next((line for line in DEMO_INTROS if width is None or len(line) <= width), DEMO_INTROS[-1])
    return intro + "\n\n" + "\n".join(lines)


def _columns(rows: list[list[str]]) -> list[str]:
    count = max(len(row) for row in rows)
    widths = [max(len(row[column]) for row in rows if column < len(row)) + GAP for column in range(count)]
    return ["".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip() for row in rows]


class WelcomeNote(Static):
    """The note an empty conversation shows; it lays its keys out again when resized."""

    def __init__(self, *, demo: bool = False, **kwargs: Any) -> None:
        super().__init__(markup=False, **kwargs)
        self.demo = demo
        """The server is the built-in simulated one: say what to type first."""

    def on_mount(self) -> None:
        self.update(welcome_text(self.app, demo=self.demo))

    def on_resize(self, event: events.Resize) -> None:
        self.update(welcome_text(self.app, self.content_size.width, demo=self.demo))
