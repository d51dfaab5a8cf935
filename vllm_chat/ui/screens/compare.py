"""CompareScreen: tick 2–4 served models or LoRA adapters to send the same turn to.

The models are listed as the model picker groups them: each base model with its
adapters under it. Space or enter ticks, ctrl+s compares; a choice the session
refuses (one model, more than four) is explained in the dialog, which stays open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import SelectionList, Static

from vllm_chat.core import format as fmt
from vllm_chat.core.lora import ModelEntry, ModelGroup
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog


def entry_label(entry: ModelEntry, *, indent: bool) -> Text:
    """A model's line: its name, its context window, and for an adapter "LoRA"."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("  ↳ " if indent else "")
    text.append(inert(entry.model.id))
    details = []
    if entry.is_adapter:
        details.append("LoRA")
    if entry.context:
        details.append(f"{fmt.count(entry.context)} ctx")
    if details:
        text.append("  " + " · ".join(details), style="dim")
    return text


class CompareScreen(Dialog[list[str] | None]):
    """The models to compare; dismisses with their names (in the list's order), or None."""

    DEFAULT_CSS = """
    CompareScreen {
        & > Vertical { width: 72; }
        & SelectionList { height: auto; max-height: 16; border: none; }
        & .problem { color: $error-foreground; background: $error-background; padding: 0 1; display: none; }
        & .problem.-visible { display: block; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "compare", "Compare", priority=True, id="start-compare"),
        Binding("escape", "cancel", "Cancel", id="cancel-compare"),
    ]

    def __init__(self, groups: list[ModelGroup], ticked: list[str], check: Callable[[list[str]], object],
                 *, what: str) -> None:
        """`check` raises ValueError (with what to change) for a choice that can't be compared;
        `what` says which turn is answered ("your prompt", "the last prompt again")."""
        super().__init__()
        self.groups = groups
        """The models, grouped under their base model."""
        self.ticked = ticked
        """The models ticked when the dialog opens."""
        self.check = check
        """Refuses a choice that can't be compared, saying why."""
        self.what = what
        """Which turn the comparison answers."""
        self._order = [e.model.id for g in groups for e in g.entries]

    def compose(self) -> ComposeResult:
        items: list[tuple[Text, str, bool]] = []
        self._headings: list[int] = []
        for group in self.groups:
            if group.base is None:
                self._headings.append(len(items))
                items.append((Text(f"adapters on {inert(group.name)} (not listed)", style="dim"),
                              f"\0{group.name}", False))
            for entry in group.entries:
                items.append((entry_label(entry, indent=entry.is_adapter), entry.model.id,
                              entry.model.id in self.ticked))
        with Vertical():
            yield Static(f"Compare models: send {self.what} to 2–4 of them at once", classes="title",
                         markup=False)
            yield SelectionList[str](*[(label, value, on) for label, value, on in items], id="compare-models")
            yield Static("", classes="problem", markup=False)
            yield Static(with_keys(self.app, "space tick · {start-compare} compare · {cancel-compare} cancel"),
                         classes="hint", markup=False)

    def on_mount(self) -> None:
        models = self.query_one(SelectionList)
        for index in self._headings:
            models.disable_option_at_index(index)  # a heading, not a model
        models.focus()

    def action_compare(self) -> None:
        """Compare the ticked models (or say why they can't be)."""
        chosen = set(self.query_one(SelectionList).selected)
        models = [m for m in self._order if m in chosen]
        try:
            self.check(models)
        except ValueError as exc:
            problem = self.query_one(".problem", Static)
            problem.update(str(exc))
            problem.add_class("-visible")
            return
        self.dismiss(models)

    def action_cancel(self) -> None:
        """Compare nothing."""
        self.dismiss(None)
