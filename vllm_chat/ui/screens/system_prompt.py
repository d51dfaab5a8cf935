"""SystemPromptScreen: edit the conversation's system prompt."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea


class SystemPromptScreen(ModalScreen[str | None]):
    """A text box with the current system prompt; ctrl+s keeps it, Esc discards the edit."""

    DEFAULT_CSS = """
    SystemPromptScreen {
        align: center middle;
        & > Vertical {
            width: 90;
            max-width: 95%;
            height: 20;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
        & .title { text-style: bold; color: $primary; }
        & .hint { color: $text-muted; }
        & TextArea { height: 1fr; }
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, id="save-system-prompt"),
        Binding("escape", "cancel", "Cancel", id="cancel-system-prompt"),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        """The system prompt when the editor opened."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("System prompt (applies from the next turn)", classes="title")
            yield TextArea(self.text, soft_wrap=True, id="system-prompt-text")
            yield Static("ctrl+s save · esc cancel · empty means no system prompt", classes="hint")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        if self.app.is_headless:
            area.cursor_blink = False
        area.focus()

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
