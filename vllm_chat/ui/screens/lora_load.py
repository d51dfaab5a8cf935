"""LoraLoadScreen: the name and the server-side folder of a LoRA adapter to load."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog


class LoraLoadScreen(Dialog[tuple[str, str] | None]):
    """Two fields, name and path; enter in the path (or ctrl+s) loads, esc cancels.

    Dismisses with (name, path), or None."""

    DEFAULT_CSS = """
    LoraLoadScreen {
        & > Vertical { width: 76; }
        & Input { margin: 0 0 1 0; }
        & .label { color: $text-muted; }
        & .problem { color: $error-foreground; background: $error-background; padding: 0 1; display: none; }
        & .problem.-visible { display: block; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "load", "Load", priority=True, id="load-adapter"),
        Binding("escape", "cancel", "Cancel", id="cancel-load-adapter"),
    ]

    def __init__(self, base: str, example: str = "") -> None:
        """`base`: the model the server applies adapters to; `example`: a folder to suggest."""
        super().__init__()
        self.base = base
        """The served base model (named in the title)."""
        self.example = example
        """A folder to put in the path box (the demo server's example adapter)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Load a LoRA adapter on {self.base}" if self.base else "Load a LoRA adapter",
                         classes="title", markup=False)
            yield Static("Name to serve it as (what requests send as the model)", classes="label", markup=False)
            yield Input(placeholder="my-adapter", id="adapter-name")
            yield Static("Its folder on the server's machine (adapter_config.json and the weights)",
                         classes="label", markup=False)
            yield Input(self.example, placeholder="/models/adapters/my-adapter", id="adapter-path")
            yield Static("", classes="problem", markup=False)
            yield Static(with_keys(self.app, "{load-adapter} load · {cancel-load-adapter} cancel"), classes="hint",
                         markup=False)

    def on_mount(self) -> None:
        for box in self.query(Input):
            if self.app.is_headless:
                box.cursor_blink = False
        self.query_one("#adapter-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "adapter-name":
            self.query_one("#adapter-path", Input).focus()
        else:
            self.action_load()

    def action_load(self) -> None:
        """Load the adapter the fields describe (both are needed)."""
        name = self.query_one("#adapter-name", Input).value.strip()
        path = self.query_one("#adapter-path", Input).value.strip()
        if not name or not path:
            problem = self.query_one(".problem", Static)
            problem.update("Give both: the name to serve the adapter as, and its folder.")
            problem.add_class("-visible")
            return
        self.dismiss((name, path))

    def action_cancel(self) -> None:
        """Load nothing."""
        self.dismiss(None)
