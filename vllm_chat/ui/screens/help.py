"""HelpScreen: every key in force, with the keys the user's `[keymap]` gave them.

Our bindings come first, each with the id `[keymap]` uses; then the keys
Textual's own widgets bring (text editing, lists, scrolling), which have no id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from vllm_chat.ui.keys import display_keys, with_keys
from vllm_chat.ui.screens.dialog import Dialog


@dataclass(frozen=True)
class HelpRow:
    """One line of the help screen."""

    owner: type
    """The class that declares the binding (one of ours, or one of Textual's)."""
    binding: Binding
    """The binding, with only the keys it still answers (a subclass may take some over)."""
    what: str
    """What the keys do, as the help screen says it."""


@dataclass(frozen=True)
class HelpGroup:
    """The keys of one place (a screen, a focused widget), under a title."""

    title: str
    """Where these keys apply ("Chat", "Prompt", ...)."""
    rows: list[HelpRow]
    """Its keys, in declaration order."""
    built_in: bool = False
    """Keys Textual's widgets bring (no id: `[keymap]` can't move them)."""


class HelpScreen(Dialog[None]):
    """A list of every binding, grouped by where it applies (`ui.key_places.help_groups`
    walks them). Esc or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        & > Vertical {
            width: 100;
            max-width: 95%;
            height: 90%;
        }
        & VerticalScroll { height: 1fr; }
        & .title { text-style: bold; color: $primary; margin: 0 0 1 0; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close", id="close-help")]

    def __init__(self, groups: list[HelpGroup]) -> None:
        super().__init__()
        self.groups = groups
        """What the screen lists."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble("Keys  ", ("the last column is the id [keymap] in the config uses",
                                                "dim not bold")), classes="title")
            with VerticalScroll():
                yield Static(self._table(), markup=False)
            # Outside the scrolling part: the way out is in view however far the list goes.
            yield Static(with_keys(self.app, "{close-help} close"), classes="hint",
                         markup=False)

    def _table(self) -> Group:
        """One small table per group, all with the same column widths: the keys and
        the ids are never cut (the ids are what `[keymap]` needs); descriptions wrap."""
        groups = [(group, [(display_keys(self.app, row.binding), row.what, row.binding.id or "")
                           for row in group.rows]) for group in self.groups]
        rows = [row for _, group_rows in groups for row in group_rows]
        key_width = max(len(keys) for keys, _, _ in rows)
        id_width = max(len(binding_id) for _, _, binding_id in rows)
        parts: list[Text | Table] = []
        built_in_heading = False
        for group, group_rows in groups:
            if group.built_in and not built_in_heading:
                built_in_heading = True
                parts.extend([Text("Textual's own keys (fixed: [keymap] can't move them)", style="bold"),
                              Text("")])
            parts.append(Text(group.title, style="underline"))
            table = Table.grid(padding=(0, 2), expand=True)
            table.add_column(style="bold", no_wrap=True, width=key_width)
            table.add_column(ratio=1)
            table.add_column(style="dim", no_wrap=True, width=id_width)
            for row in group_rows:
                table.add_row(*row)
            parts.extend([table, Text("")])
        return Group(*parts)

    def action_dismiss(self) -> None:  # type: ignore[override]  # a key binding passes no result
        self.dismiss(None)
