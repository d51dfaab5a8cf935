"""Where every key binding is listed, for the help screen and the keymap.

Bindings are declared on the widgets and screens they belong to, each with an
`id`; this module gathers them in one place so the help screen lists all of
them (with the keys in force after the user's `[keymap]`).
"""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding, BindingType

from vllm_chat.core.keymap import BindingInfo, keys_of


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
    from vllm_chat.ui.screens.attach import AttachScreen, MediaTree
    from vllm_chat.ui.screens.image_view import ImageViewScreen
    from vllm_chat.ui.widgets.attachment_bar import AttachmentChip
    from vllm_chat.ui.widgets.image_thumb import ImageThumb
    from vllm_chat.ui.screens.confirm import ConfirmScreen
    from vllm_chat.ui.screens.export import ExportScreen
    from vllm_chat.ui.screens.rename import RenameScreen
    from vllm_chat.ui.screens.sessions import SessionBrowserScreen
    from vllm_chat.ui.screens.help import HelpScreen
    from vllm_chat.ui.screens.pick_list import PickListScreen
    from vllm_chat.ui.screens.settings import SettingsScreen
    from vllm_chat.ui.screens.text_edit import TextEditScreen
    from vllm_chat.ui.widgets.message_views import MessageView
    from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel

    return [
        ("A message (focused)", MessageView),
        ("Tool call panel (focused)", ToolCallPanel),
        ("Attachment chip (focused)", AttachmentChip),
        ("Image thumbnail (focused)", ImageThumb),
        ("File picker", AttachScreen),
        ("File picker folders", MediaTree),
        ("Image view", ImageViewScreen),
        ("Tool approval", ToolApprovalScreen),
        ("Session settings", SettingsScreen),
        ("Session browser", SessionBrowserScreen),
        ("Export", ExportScreen),
        ("Rename", RenameScreen),
        ("Text editor (system prompt, editing a message)", TextEditScreen),
        ("Lists (models, actions, code blocks)", PickListScreen),
        ("Confirmation", ConfirmScreen),
        ("Help", HelpScreen),
    ]


def binding_contexts(app: App) -> list[list[BindingInfo]]:
    """Every set of bindings that can be active at once (a focus chain, or a modal with
    the app's global keys), for the keymap check."""
    from vllm_chat.ui.screens.attach import AttachScreen, MediaTree
    from vllm_chat.ui.screens.chat import ChatScreen
    from vllm_chat.ui.widgets.attachment_bar import AttachmentChip
    from vllm_chat.ui.widgets.image_thumb import ImageThumb
    from vllm_chat.ui.widgets.message_views import MessageView
    from vllm_chat.ui.widgets.prompt_input import PromptInput
    from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel

    def info(owner: type) -> list[BindingInfo]:
        return [BindingInfo(b.id, keys_of(b.key), b.description) for b in _bindings(owner) if b.id]

    base = info(type(app)) + info(ChatScreen)
    contexts = [base + info(PromptInput), base + info(MessageView),
                base + info(MessageView) + info(ToolCallPanel), base + info(AttachmentChip),
                base + info(MessageView) + info(ImageThumb),
                info(type(app)) + info(AttachScreen) + info(MediaTree)]
    for _, owner in _extra_owners():
        if owner not in (MessageView, ToolCallPanel, AttachmentChip, ImageThumb, MediaTree):
            contexts.append(info(type(app)) + info(owner))
    return contexts


def all_binding_ids(app: App) -> set[str]:
    """Every binding id the keymap may refer to."""
    return {b.id for _, group in binding_groups(app) for b in group if b.id}


def display_keys(app: App, binding: Binding) -> str:
    """The keys that trigger `binding` now (after the keymap), for display."""
    keymap = getattr(app, "_keymap", {}) or {}
    keys = keymap.get(binding.id or "", binding.key)
    return ", ".join(app.get_key_display(Binding(k.strip(), binding.action)) for k in keys.split(","))


def apply_keymap(app: App, keymap: dict[str, str]) -> list[str]:
    """Check the user's keymap, apply the entries that are fine, and return the problems."""
    from vllm_chat.core.keymap import check_keymap

    problems = check_keymap(keymap, binding_contexts(app))
    bad = {i for i in keymap if any(f"{i!r}" in p for p in problems)}
    app.set_keymap({i: keys for i, keys in keymap.items() if i not in bad})
    return problems
