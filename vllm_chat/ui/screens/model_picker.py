"""ModelPickerScreen: choose one of the server's models (`GET /v1/models`), with each LoRA
adapter under its base model, and load or unload adapters where the server allows it."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import OptionList

from vllm_chat.core import format as fmt
from vllm_chat.core.lora import ENABLE_RUNTIME_LORA, ModelEntry, ModelGroup
from vllm_chat.core.text import inert
from vllm_chat.ui.screens.pick_list import PickListScreen

LOAD_ADAPTER = "\0load-adapter"
"""The picker's answer for "load a LoRA adapter"."""
UNLOAD_PREFIX = "\0unload:"
"""The picker's answer for "unload this adapter" starts with this, then the adapter's name."""


def model_label(entry: ModelEntry, current: bool, *, orphan_of: str | None = None) -> Text:
    """One line of the picker: name, context window (an adapter's is its base's), "LoRA"."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("● " if current else "  ")
    if entry.is_adapter:
        text.append("  ↳ ", style="dim")
    text.append(inert(entry.model.id), style="bold" if current else "")
    details = []
    if entry.context:
        details.append(f"{fmt.count(entry.context)} ctx")
    if entry.is_adapter:
        details.append("LoRA" if orphan_of is None else f"LoRA on {inert(orphan_of)} (not listed)")
    if details:
        text.append("  " + " · ".join(details), style="dim italic" if entry.is_adapter else "dim")
    return text


class ModelPickerScreen(PickListScreen):
    """The server's models, adapters under their base; Enter picks one, Esc keeps the current one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d,delete", "unload", "Unload adapter", id="unload-adapter"),
    ]

    def __init__(self, groups: list[ModelGroup], current: str, *, runtime_lora: bool | None = None,
                 server: str = "", other_servers: bool = False) -> None:
        """`runtime_lora`: whether the server loads adapters at runtime (None: not known);
        `server`: which server serves these models (its profile or host); `other_servers`:
        the config names others (the hint says how to switch)."""
        items: list[tuple[str, str | Text]] = []
        for group in groups:
            orphan = group.name if group.base is None else None
            for entry in group.entries:
                items.append((entry.model.id, model_label(entry, entry.model.id == current, orphan_of=orphan)))
        hint = "enter pick · {cancel-pick} cancel · the conversation is kept"
        if runtime_lora:
            items.append((LOAD_ADAPTER, Text("  + Load a LoRA adapter…", style="italic")))
            if any(g.adapters for g in groups):
                hint = "enter pick · {unload-adapter} unload the adapter · {cancel-pick} cancel"
        elif runtime_lora is False:
            hint += f"\nLoading LoRA adapters at runtime is off on this server. {ENABLE_RUNTIME_LORA}"
        if other_servers:
            hint += "\nOther servers' models: {pick-server} in the chat."
        super().__init__(
            f"Model for the next turn · served by {inert(server)}" if server else "Model for the next turn",
            items,
            hint=hint,
            highlight=current,
            empty="The server has not listed any models yet (is it connected?).",
        )
        self.groups = groups
        """The server's models, grouped under their base models."""
        self.runtime_lora = runtime_lora
        """Whether adapters can be loaded and unloaded here."""
        self._adapters = {e.model.id for g in groups for e in g.adapters}

    def action_unload(self) -> None:
        """Unload the highlighted adapter (the chat screen asks first)."""
        lists = self.query(OptionList)
        if not lists:
            return
        option_list = lists.first()
        index = option_list.highlighted
        chosen = option_list.get_option_at_index(index).id if index is not None else None
        if chosen not in self._adapters:
            self.app.notify("Only a LoRA adapter (↳) can be unloaded.", severity="warning", markup=False)
            return
        if not self.runtime_lora:
            self.app.notify(f"This server does not unload adapters at runtime. {ENABLE_RUNTIME_LORA}",
                            severity="warning", markup=False, timeout=10)
            return
        self.dismiss(f"{UNLOAD_PREFIX}{chosen}")
