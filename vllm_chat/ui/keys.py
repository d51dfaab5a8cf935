"""Where every key binding is listed, for the help screen and the keymap.

Bindings are declared on the widgets and screens they belong to, each with an
`id`; this module gathers them in one place so the help screen lists all of
them (with the keys in force after the user's `[keymap]`).
"""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding, BindingType


def _bindings(owner: type) -> list[Binding]:
    found: list[BindingType] = list(getattr(owner, "BINDINGS", []))
    return [b for b in found if isinstance(b, Binding) and b.id]


def binding_groups(app: App) -> list[tuple[str, list[Binding]]]:
    """(title, bindings) for every place that declares bindings, in reading order."""
    from vllm_chat.ui.screens.chat import ChatScreen
    from vllm_chat.ui.widgets.prompt_input import PromptInput

    groups = [
        ("Anywhere", _bindings(type(app))),
        ("Chat", _bindings(ChatScreen)),
        ("Prompt", _bindings(PromptInput)),
    ]
    for title, owner in _extra_owners():
        groups.append((title, _bindings(owner)))
    return [(title, bindings) for title, bindings in groups if bindings]


def _extra_owners() -> list[tuple[str, type]]:
    from vllm_chat.ui.screens.approval import ToolApprovalScreen
    from vllm_chat.ui.screens.help import HelpScreen
    from vllm_chat.ui.screens.model_picker import ModelPickerScreen
    from vllm_chat.ui.screens.system_prompt import SystemPromptScreen
    from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel

    return [
        ("Tool call panel (focused)", ToolCallPanel),
        ("Tool approval", ToolApprovalScreen),
        ("Model picker", ModelPickerScreen),
        ("System prompt editor", SystemPromptScreen),
        ("Help", HelpScreen),
    ]


def all_binding_ids(app: App) -> set[str]:
    """Every binding id the keymap may refer to."""
    return {b.id for _, group in binding_groups(app) for b in group if b.id}


def display_keys(app: App, binding: Binding) -> str:
    """The keys that trigger `binding` now (after the keymap), for display."""
    keymap = getattr(app, "_keymap", {}) or {}
    keys = keymap.get(binding.id or "", binding.key)
    return ", ".join(app.get_key_display(Binding(k.strip(), binding.action)) for k in keys.split(","))
