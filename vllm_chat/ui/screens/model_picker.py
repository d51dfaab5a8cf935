"""ModelPickerScreen: choose one of the server's models (`GET /v1/models`)."""

from __future__ import annotations

from rich.text import Text

from vllm_chat.core import format as fmt
from vllm_chat.core.models import ModelInfo
from vllm_chat.core.text import inert
from vllm_chat.ui.screens.pick_list import PickListScreen


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


class ModelPickerScreen(PickListScreen):
    """The server's models; Enter picks one, Esc keeps the current one."""

    def __init__(self, models: list[ModelInfo], current: str) -> None:
        super().__init__(
            "Model for the next turn",
            [(m.id, model_label(m, m.id == current)) for m in models],
            hint="enter pick · {cancel-pick} cancel · the conversation is kept",
            highlight=current,
            empty="The server has not listed any models yet (is it connected?).",
        )
        self.models = models
        """The server's models, in its order."""
