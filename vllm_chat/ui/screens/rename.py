"""RenameScreen: a one-line box to give a conversation a new title."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog
from vllm_chat.ui.screens.sessions import one_line as clean_title


class RenameScreen(Dialog[str | None]):
    """The current title, selected so typing replaces it; Enter keeps the new one, Esc cancels.

    Dismisses with the cleaned title, or None when cancelled or unchanged.
    """

    DEFAULT_CSS = """
    RenameScreen {
        & > Vertical {
            width: 72;
        }
        & Input { margin: 1 0 0 0; }
        & .problem { color: $error-foreground; background: $error-background; padding: 0 1; display: none; }
        & .problem.-visible { display: block; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="cancel-rename")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_before = title
        """The title when the box opened."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Rename conversation", classes="title")
            yield Input(clean_title(self.title_before), placeholder="A short title",
                        id="rename-title")
            yield Static("", classes="problem", markup=False)
            yield Static(with_keys(self.app, "enter save · {cancel-rename} cancel"), classes="hint", markup=False)

    def on_mount(self) -> None:
        box = self.query_one(Input)
        if self.app.is_headless:
            box.cursor_blink = False
        box.focus()
        box.select_all()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        title = clean_title(event.value)
        if not title:
            problem = self.query_one(".problem", Static)
            problem.update(with_keys(self.app, "A title can't be empty: type one, or press {cancel-rename} "
                                            "to keep the old title."))
            problem.add_class("-visible")
            return
        self.dismiss(None if title == clean_title(self.title_before) else title)

    def action_cancel(self) -> None:
        """Keep the old title."""
        self.dismiss(None)
