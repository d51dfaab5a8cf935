"""HelpScreen: every key binding of the app, with the keys actually in force."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from vllm_chat.ui.keys import binding_groups, display_keys


class HelpScreen(ModalScreen[None]):
    """A list of every binding, grouped by where it applies. Esc or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > VerticalScroll {
            width: 90;
            max-width: 95%;
            height: auto;
            max-height: 90%;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
        & .title { text-style: bold; color: $primary; margin: 0 0 1 0; }
    }
    """

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="close-help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("Keys", classes="title")
            yield Static(self._table(), markup=False)

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_column(style="dim", no_wrap=True)
        for group, bindings in binding_groups(self.app):
            table.add_row(Text(group, style="underline"), "", "")
            for binding in bindings:
                table.add_row(display_keys(self.app, binding), binding.description or binding.action,
                              binding.id or "")
            table.add_row("", "", "")
        return table

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
