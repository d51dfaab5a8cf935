"""TemplateFormScreen: a small form asking for the `{{variables}}` of a saved prompt."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from vllm_chat.core.prompting.templates import PromptTemplate
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog


class TemplateFormScreen(Dialog[dict[str, str] | None]):
    """One box per variable (defaults filled in); Enter moves on and, in the last box, fills
    the prompt in; Esc cancels. Dismisses with the values, or None."""

    DEFAULT_CSS = """
    TemplateFormScreen {
        & > Vertical { width: 80; }
        & .what { color: $text-muted; }
        & .label { margin: 1 0 0 0; }
        & .problem { color: $error-foreground; background: $error-background; padding: 0 1; display: none; }
        & .problem.-visible { display: block; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="cancel-template")]

    def __init__(self, template: PromptTemplate) -> None:
        super().__init__()
        self.template = template
        """The saved prompt being filled in."""

    def compose(self) -> ComposeResult:
        template = self.template
        with Vertical():
            yield Static(Text(f"Saved prompt: {inert(template.name)}"), classes="title")
            if template.fields.description:
                yield Static(Text(inert(template.fields.description)), classes="what")
            for variable in template.variables:
                required = "" if variable.default is not None else " (required)"
                yield Static(Text(f"{inert(variable.name)}{required}"), classes="label")
                yield Input(variable.default or "", placeholder=variable.name, id=f"var-{variable.name}")
            yield Static("", classes="problem", markup=False)
            yield Static(with_keys(self.app, "enter next / fill in · {cancel-template} cancel"), classes="hint",
                         markup=False)

    def on_mount(self) -> None:
        boxes = list(self.query(Input))
        for box in boxes:
            if self.app.is_headless:
                box.cursor_blink = False
        if boxes:
            boxes[0].focus()

    @property
    def values(self) -> dict[str, str]:
        """What the boxes hold, by variable name."""
        return {box.id.removeprefix("var-"): box.value for box in self.query(Input) if box.id}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        boxes = list(self.query(Input))
        index = boxes.index(event.input)
        if index + 1 < len(boxes):
            boxes[index + 1].focus()
            return
        missing = [v.name for v in self.template.variables if v.default is None and not self.values.get(v.name)]
        if missing:
            problem = self.query_one(".problem", Static)
            problem.update(Text(f"Fill in: {', '.join(missing)}"))
            problem.add_class("-visible")
            self.query_one(f"#var-{missing[0]}", Input).focus()
            return
        self.dismiss(self.values)

    def action_cancel(self) -> None:
        """Leave the prompt as it was."""
        self.dismiss(None)
