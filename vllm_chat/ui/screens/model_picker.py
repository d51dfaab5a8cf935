"""ModelPickerScreen: choose one of the server's models (`GET /v1/models`)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from vllm_chat.core import format as fmt
from vllm_chat.core.client import ModelInfo
from vllm_chat.core.text import inert


def model_label(model: ModelInfo, current: bool) -> Text:
    """One line of the picker: name, context window, LoRA parent."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("● " if current else "  ")
    text.append(inert(model.id), style="bold" if current else "")
    if model.max_model_len:
        text.append(f"  {fmt.count(model.max_model_len)} ctx", style="dim")
    if model.parent:
        text.append(f"  LoRA on {inert(model.parent)}", style="dim italic")
    return text


class ModelPickerScreen(ModalScreen[str | None]):
    """The server's models; Enter picks one, Esc keeps the current one."""

    DEFAULT_CSS = """
    ModelPickerScreen {
        align: center middle;
        & > Vertical {
            width: 70;
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

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel-model")]

    def __init__(self, models: list[ModelInfo], current: str) -> None:
        super().__init__()
        self.models = models
        """The server's models, in its order."""
        self.current = current
        """The model in use now."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Model for the next turn", classes="title")
            if self.models:
                options = [Option(model_label(m, m.id == self.current), id=m.id) for m in self.models]
                yield OptionList(*options)
                yield Static("enter pick · esc cancel · the conversation is kept", classes="hint")
            else:
                yield Static("The server has not listed any models yet (is it connected?).", classes="hint")

    def on_mount(self) -> None:
        lists = self.query(OptionList)
        if lists:
            option_list = lists.first()
            ids = [m.id for m in self.models]
            if self.current in ids:
                option_list.highlighted = ids.index(self.current)
            option_list.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
