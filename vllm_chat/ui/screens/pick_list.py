"""PickListScreen: choose one item from a short list (message actions, code blocks)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class PickListScreen(ModalScreen[str | None]):
    """A titled list; Enter picks (dismissing with the item's id), Esc cancels."""

    DEFAULT_CSS = """
    PickListScreen {
        align: center middle;
        & > Vertical {
            width: 72;
            max-width: 95%;
            height: auto;
            max-height: 80%;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
        & .title { text-style: bold; color: $primary; }
        & .hint { color: $text-muted; }
        & OptionList { height: auto; max-height: 20; border: none; }
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel-pick")]

    def __init__(self, title: str, items: list[tuple[str, str]], *, hint: str = "enter pick · esc cancel") -> None:
        super().__init__()
        self.title_text = title
        """The line above the list."""
        self.items = items
        """(id, label) pairs, in order; labels are shown literally."""
        self.hint_text = hint
        """The line below the list."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title", markup=False)
            yield OptionList(*[Option(Text(label), id=item_id) for item_id, label in self.items])
            yield Static(self.hint_text, classes="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
