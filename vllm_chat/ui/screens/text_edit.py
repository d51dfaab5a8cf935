"""TextEditScreen: edit a piece of text in a modal (system prompt, an earlier message)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog


class TextEditScreen(Dialog[str | None]):
    """A text box with `text`; ctrl+s keeps the edit, Esc discards it."""

    DEFAULT_CSS = """
    TextEditScreen {
        & > Vertical {
            width: 90;
            height: 20;
            max-height: 90%;
        }
        & TextArea { height: 1fr; }
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, id="save-text"),
        Binding("escape", "cancel", "Cancel", id="cancel-text"),
    ]

    def __init__(self, text: str, *, title: str, hint: str = "{save-text} save · {cancel-text} cancel",
                 area_id: str = "edit-text") -> None:
        """`hint` names keys by binding id, `{save-text}`, so it shows the keys in force."""
        super().__init__()
        self.text = text
        """The text when the editor opened."""
        self.title_text = title
        """The line at the top, saying what is edited."""
        self.hint_text = hint
        """The line at the bottom, saying which keys do what (`{binding-id}` for a key)."""
        self.area_id = area_id
        """The id of the text box (for tests and styling)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title", markup=False)
            # inert: a text box draws control characters raw, and the text may come from a model
            yield TextArea(inert(self.text), soft_wrap=True, id=self.area_id)
            yield Static(with_keys(self.app, self.hint_text), classes="hint", markup=False)

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        if self.app.is_headless:
            area.cursor_blink = False
        area.move_cursor(area.document.end)
        area.focus()

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)
