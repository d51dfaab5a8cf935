"""HelpScreen: every key binding of the app, with the keys actually in force."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from vllm_chat.ui.screens.dialog import Dialog

from vllm_chat.ui.keys import binding_groups, display_keys


class HelpScreen(Dialog[None]):
    """A list of every binding, grouped by where it applies. Esc or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        & > VerticalScroll {
            width: 90;
            max-height: 90%;
        }
        & .title { text-style: bold; color: $primary; margin: 0 0 1 0; }
    }
    """

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="close-help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("Keys", classes="title")
            yield Static(self._table(), markup=False)

    def _table(self) -> Group:
        """One small table per group, all with the same column widths."""
        groups = [(title, [(display_keys(self.app, b), b.description or b.action, b.id or "")
                           for b in bindings]) for title, bindings in binding_groups(self.app)]
        rows = [row for _, group in groups for row in group]
        key_width = max(len(keys) for keys, _, _ in rows)
        what_width = max(len(what) for _, what, _ in rows)
        parts: list[Text | Table] = []
        for title, group in groups:
            parts.append(Text(title, style="underline"))
            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold", no_wrap=True, width=key_width)
            table.add_column(width=what_width)
            table.add_column(style="dim", no_wrap=True)
            for row in group:
                table.add_row(*row)
            parts.extend([table, Text("")])
        return Group(*parts)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
