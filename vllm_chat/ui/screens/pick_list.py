"""PickListScreen: choose one item from a short list (models, message actions, code blocks)."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog


class PickListScreen(Dialog[str | None]):
    """A titled list; Enter picks (dismissing with the item's id), Esc cancels."""

    DEFAULT_CSS = """
    PickListScreen {
        & > Vertical {
            width: 72;
            max-height: 80%;
        }
        & OptionList { height: auto; max-height: 20; border: none; }
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel-pick")]

    def __init__(
        self,
        title: str,
        items: list[tuple[str, str | Text]],
        *,
        hint: str = "enter pick · {cancel-pick} cancel",
        highlight: str | None = None,
        empty: str = "Nothing to choose from.",
        shortcuts: dict[str, str] | None = None,
    ) -> None:
        """`hint` names keys by binding id, `{cancel-pick}`, so it shows the keys in force;
        `shortcuts` maps a key (Textual's name: "d", "delete") to the id it picks at once."""
        super().__init__()
        self.title_text = title
        """The line above the list."""
        self.items = items
        """(id, label) pairs, in order; plain-string labels are shown literally."""
        self.hint_text = hint
        """The line below the list (`{binding-id}` for a key)."""
        self.highlight = highlight
        """The id highlighted when the list opens (e.g. the current choice)."""
        self.empty = empty
        """What to say when there are no items."""
        self.shortcuts = dict(shortcuts or {})
        """Keys that pick an item at once (the ones its label names), by key."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title", markup=False)
            if self.items:
                yield OptionList(*[Option(label if isinstance(label, Text) else Text(label), id=item_id)
                                   for item_id, label in self.items])
                yield Static(with_keys(self.app, self.hint_text), classes="hint", markup=False)
            else:
                yield Static(self.empty, classes="hint", markup=False)

    def on_mount(self) -> None:
        lists = self.query(OptionList)
        if not lists:
            return
        option_list = lists.first()
        ids = [item_id for item_id, _ in self.items]
        if self.highlight in ids:
            option_list.highlighted = ids.index(self.highlight)
        option_list.focus()

    def on_key(self, event: events.Key) -> None:
        # Reached only by keys no binding took: the list's arrows and Enter still move and pick.
        picked = self.shortcuts.get(event.key)
        if picked is not None:
            event.stop()
            self.dismiss(picked)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
