"""ConstraintInputScreen: one line to type a constraint of a given kind (from the palette).

A schema file or the schema as JSON, a regex, `yes, no`, a grammar file.
`core.generation.form.parse_constraint` reads it; what is wrong is said under
the box and the dialog stays open. Dismisses with the `Constraint`, or None
(Esc).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from vllm_chat.core.generation import constraint_input
from vllm_chat.core.generation.constraint import Constraint, ConstraintKind
from vllm_chat.core.generation.form import (
    OPTION_BY_KIND,
    constraint_text,
    parse_constraint,
)
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog


class ConstraintInputScreen(Dialog[Constraint | None]):
    """The value of a constraint of kind `kind`; Enter sets it (when it is usable), Esc cancels."""

    DEFAULT_CSS = """
    ConstraintInputScreen {
        & > Vertical { width: 80; }
        & Input { margin: 1 0 0 0; }
        & .problem { color: $error-foreground; background: $error-background; padding: 0 1; display: none; }
        & .problem.-visible { display: block; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="cancel-constraint")]

    def __init__(self, kind: ConstraintKind, current: Constraint | None = None, *, base: Path | None = None) -> None:
        super().__init__()
        self.kind: ConstraintKind = kind
        """The kind of constraint typed."""
        self.current = current if current is not None and current.kind == kind else None
        """The constraint of that kind set now, if any (its text fills the box)."""
        self.base = base
        """The folder relative file names are read from."""

    def compose(self) -> ComposeResult:
        option = OPTION_BY_KIND[self.kind]
        with Vertical():
            yield Static(f"Constraint: {option.label}", classes="title", markup=False)
            yield Input(constraint_text(self.current), placeholder=option.placeholder, id="constraint-value")
            yield Static("", classes="problem", markup=False)
            yield Static(with_keys(self.app, "enter set it for this conversation · {cancel-constraint} cancel"),
                         classes="hint", markup=False)

    def on_mount(self) -> None:
        box = self.query_one(Input)
        if self.app.is_headless:
            box.cursor_blink = False
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            constraint = parse_constraint(self.kind, event.value, current=self.current, base=self.base)
        except constraint_input.ConstraintError as exc:
            problem = self.query_one(".problem", Static)
            problem.update(Text(inert(str(exc))))
            problem.add_class("-visible")
            return
        self.dismiss(constraint)

    def action_cancel(self) -> None:
        """Keep the constraint as it was."""
        self.dismiss(None)
