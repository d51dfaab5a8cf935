"""ContextScreen: what the next request takes of the context window, part by part.

Opened with its key or the palette; the figures come from
`ChatSession.context_breakdown` (the server's counts when it can count).
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from vllm_chat.core.session import Breakdown
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog

BAR_WIDTH = 24
"""Columns of the bar that shows each part's share of the window."""

PART_LABELS = {
    "system prompt": "System prompt (+ template)",
    "history": "Earlier messages",
    "draft": "The prompt you are writing",
    "attachments": "Attachments",
    "tools": "Tool schemas",
}


def share_bar(tokens: int, window: int | None, width: int = BAR_WIDTH) -> str:
    """A bar of `width` columns, filled by `tokens`' share of `window` (empty when unknown)."""
    if not window:
        return ""
    filled = min(width, round(width * tokens / window))
    return "█" * filled + "·" * (width - filled)


class ContextScreen(Dialog[None]):
    """The breakdown of the next request; Esc (or Enter) closes it."""

    DEFAULT_CSS = """
    ContextScreen {
        & > Vertical { width: 80; }
        & .total { margin: 1 0 0 0; }
        & .parts { margin: 1 0; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close", id="close-context"),
    ]

    def __init__(self, breakdown: Breakdown, *, tools_on: bool) -> None:
        super().__init__()
        self.breakdown = breakdown
        """The figures shown."""
        self.tools_on = tools_on
        """Whether tools are offered (the hint then says how to switch them off)."""

    def compose(self) -> ComposeResult:
        b = self.breakdown
        with Vertical():
            yield Static("Context: what the next request takes", classes="title", markup=False)
            yield Static(self._total(), classes="total", markup=False)
            yield Static(self._parts(), classes="parts", markup=False)
            hint = "{close-context} close · {compact} compacts the conversation"
            if self.tools_on and dict(b.parts).get("tools"):
                hint += " · {toggle-tools} switches tools off"
            yield Static(with_keys(self.app, hint), classes="hint", markup=False)

    def _total(self) -> Text:
        b = self.breakdown
        about = "" if b.total_exact else "~"
        window = f" of {b.max_model_len:,} (max_model_len, {100 * b.total / b.max_model_len:.0f}%)" \
            if b.max_model_len else ""
        text = Text(f"{about}{b.total:,} tokens{window}", style="bold")
        if b.exact:
            text.append("\nexact: counted by the server's /tokenize, as the request would be sent now")
        else:
            text.append(f"\n~ marks estimates ({inert(b.note) or 'not counted yet'})")
        return text

    def _parts(self) -> Table:
        b = self.breakdown
        about = "" if b.exact else "~"
        table = Table.grid(padding=(0, 2))
        table.add_column()
        table.add_column(justify="right", no_wrap=True)
        table.add_column(no_wrap=True)
        for name, tokens in b.parts:
            table.add_row(PART_LABELS.get(name, name), f"{about}{tokens:,}", share_bar(tokens, b.max_model_len))
        return table

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)
