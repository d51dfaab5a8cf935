"""Every key in force, in one place: the help screen's list, the keys hint lines
name, and the contexts the `[keymap]` check needs.

Bindings are declared on the widgets and screens they belong to, each with an
`id` the keymap can move. Textual's own classes bring keys too (ctrl+p for the
command palette, tab between fields, a text box's editing keys): they have no
id, but they are in force, so the help screen lists them as well, and the
keymap check refuses a remap that would take one of them by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache

from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.keys import key_to_character

from vllm_chat.core.errors import ChatError
from vllm_chat.core.keymap import (
    BindingInfo,
    ContextEntry,
    WidgetKeys,
    keymap_problems,
    keys_of,
)

PALETTE_ID = "command-palette"
"""The id the command palette's key (ctrl+p) gets; Textual adds that binding without one."""

_HINT_WORDS = {"escape": "esc", "pageup": "pgup", "pagedown": "pgdn", "delete": "del",
               "question_mark": "?", "up": "↑", "down": "↓"}
_TEMPLATE_KEY = re.compile(r"\{([a-z0-9]+(?:-[a-z0-9]+)*)\}")


@dataclass(frozen=True)
class HelpRow:
    """One line of the help screen."""

    owner: type
    """The class that declares the binding (one of ours, or one of Textual's)."""
    binding: Binding
    """The binding, with only the keys it still answers (a subclass may take some over)."""
    what: str
    """What the keys do, as the help screen says it."""


@dataclass(frozen=True)
class HelpGroup:
    """The keys of one place (a screen, a focused widget), under a title."""

    title: str
    """Where these keys apply ("Chat", "Prompt", ...)."""
    rows: list[HelpRow]
    """Its keys, in declaration order."""
    built_in: bool = False
    """Keys Textual's widgets bring (no id: `[keymap]` can't move them)."""


# --- what each class answers -------------------------------------------------------


def declared_bindings(cls: type) -> list[tuple[type, Binding]]:
    """Every binding `cls` answers, with the class that declares it, base classes first.

    Follows Textual's own merge: a key bound again further down the class tree is
    dropped from the binding it came from (which stays with its other keys)."""
    found: list[tuple[type, Binding]] = []
    for base in reversed(cls.__mro__):
        if not (isinstance(base, type) and issubclass(base, DOMNode)):
            continue
        if not getattr(base, "_inherit_bindings", True):
            found.clear()
        own = [_as_binding(b) for b in base.__dict__.get("BINDINGS", [])]
        taken = {key for b in own for key in keys_of(b.key)}
        kept = [(owner, _without_keys(b, taken)) for owner, b in found]
        found = [(owner, b) for owner, b in kept if b is not None] + [(base, b) for b in own]
    return found


def _as_binding(binding: BindingType) -> Binding:
    return binding if isinstance(binding, Binding) else Binding(*binding)


def _without_keys(binding: Binding, taken: set[str]) -> Binding | None:
    keys = [key for key in keys_of(binding.key) if key not in taken]
    if not keys:
        return None
    return binding if len(keys) == len(keys_of(binding.key)) else replace(binding, key=",".join(keys))


def _own_bindings(cls: type) -> list[tuple[type, Binding]]:
    """The bindings `cls` itself declares (none of its base classes')."""
    return [(owner, b) for owner, b in declared_bindings(cls) if owner is cls]


def _is_ours(cls: type) -> bool:
    return cls.__module__.startswith("vllm_chat.")


def palette_binding(app: App) -> Binding | None:
    """The command palette's binding as the app has it (None when the palette is off)."""
    for bindings in app._bindings.key_to_bindings.values():
        for binding in bindings:
            if binding.action in ("command_palette", "app.command_palette"):
                return binding
    return None


def _name_palette_binding(app: App) -> None:
    """Give Textual's ctrl+p binding an id, so help can name it and `[keymap]` can move it.
    (Nothing to do once the app declares the binding itself, with an id.)"""
    key_to_bindings = app._bindings.key_to_bindings
    for key, bindings in key_to_bindings.items():
        key_to_bindings[key] = [
            replace(b, id=PALETTE_ID) if b.action in ("command_palette", "app.command_palette") and not b.id
            else b for b in bindings
        ]


# --- descriptions ---------------------------------------------------------------------


@cache
def _descriptions() -> dict[tuple[type, str], str]:
    """What a key does, where Textual's words would mislead or one of our classes
    changes what the key does. Keyed by (class, action)."""
    from textual.widgets import Button, RadioSet, Select, Switch
    from textual.widgets._toggle_button import ToggleButton

    from vllm_chat.ui.widgets.prompt_input import PromptInput

    return {
        (App, "help_quit"): "Say which key quits (when there is nothing to copy)",
        (PromptInput, "cursor_up"): "Earlier prompt (on an empty prompt), else cursor up",
        (PromptInput, "cursor_down"): "Later prompt (while going through earlier ones), else cursor down",
        (Button, "press"): "Press the focused button",
        (Switch, "toggle_switch"): "Flip the focused switch",
        (ToggleButton, "toggle_button"): "Tick or untick (check boxes, radio buttons)",
        (RadioSet, "toggle_button"): "Choose the highlighted option",
        (Select, "show_overlay"): "Open the drop-down list",
    }


def _what(binding: Binding, owner: type, group_owner: type | None = None) -> str:
    words = _descriptions()
    for key in ((group_owner, binding.action), (owner, binding.action)):
        if key in words:
            return words[key]
    text = binding.description or binding.action
    # Textual writes "Scroll Home", "Page Up": sentence case reads calmer in a list.
    return text if _is_ours(owner) else text[:1].upper() + text[1:].lower()


# --- the places keys belong to ----------------------------------------------------------


def _chat_owners() -> list[tuple[str, type]]:
    from vllm_chat.ui.screens.attach import MediaTree
    from vllm_chat.ui.screens.chat import ChatScreen
    from vllm_chat.ui.widgets.attachment_bar import AttachmentChip
    from vllm_chat.ui.widgets.completion_list import CompletionList
    from vllm_chat.ui.widgets.image_thumb import ImageThumb
    from vllm_chat.ui.widgets.message_views import MessageView
    from vllm_chat.ui.widgets.prompt_input import PromptInput
    from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel

    return [
        ("Chat", ChatScreen),
        ("Prompt", PromptInput),
        ("Suggestions in the prompt (after @ or /)", CompletionList),
        ("A message (focused)", MessageView),
        ("Tool call panel (focused)", ToolCallPanel),
        ("Attachment chip (focused)", AttachmentChip),
        ("Image thumbnail (focused)", ImageThumb),
        ("File picker folders", MediaTree),
    ]


def _modal_screens() -> list[tuple[str, type, list[tuple[type, str, bool]]]]:
    """(title, screen, the widgets that can have focus in it: class, where, is a text box)."""
    from textual.containers import VerticalScroll
    from textual.widgets import (
        Button,
        Input,
        OptionList,
        RadioSet,
        Select,
        Switch,
        TextArea,
    )

    from vllm_chat.ui.screens.approval import ToolApprovalScreen
    from vllm_chat.ui.screens.attach import AttachScreen, MediaTree
    from vllm_chat.ui.screens.confirm import ConfirmScreen
    from vllm_chat.ui.screens.export import ExportScreen
    from vllm_chat.ui.screens.help import HelpScreen
    from vllm_chat.ui.screens.image_view import ImageViewScreen
    from vllm_chat.ui.screens.pick_list import PickListScreen
    from vllm_chat.ui.screens.rename import RenameScreen
    from vllm_chat.ui.screens.sessions import SessionBrowserScreen
    from vllm_chat.ui.screens.settings import SettingsScreen
    from vllm_chat.ui.screens.template_form import TemplateFormScreen
    from vllm_chat.ui.screens.text_edit import TextEditScreen
    from vllm_chat.ui.screens.tool_servers import ToolServersScreen

    return [
        ("File picker", AttachScreen, [(MediaTree, "in the folder tree", False),
                                       (Input, "in the path box", True)]),
        ("Image view", ImageViewScreen, []),
        ("Tool approval", ToolApprovalScreen, []),
        ("Tool servers (MCP)", ToolServersScreen, [(OptionList, "in the server list", False)]),
        ("Session settings", SettingsScreen, [(Select, "in the model list", False),
                                              (TextArea, "in the system prompt box", True),
                                              (Input, "in the settings fields", True),
                                              (RadioSet, "in the thinking choice", False),
                                              (Switch, "on the tools switch", False)]),
        ("Session browser", SessionBrowserScreen, [(Input, "in the filter box", True)]),
        ("Export", ExportScreen, [(Input, "in the file box", True),
                                  (RadioSet, "in the format choice", False)]),
        ("Rename", RenameScreen, [(Input, "in the title box", True)]),
        ("Saved prompt form", TemplateFormScreen, [(Input, "in a variable's box", True)]),
        ("Text editor (system prompt, editing a message)", TextEditScreen, [(TextArea, "in the text box", True)]),
        ("Lists (models, actions, code blocks)", PickListScreen, [(OptionList, "in the list", False)]),
        ("Confirmation", ConfirmScreen, [(Button, "on the buttons", False)]),
        ("Help", HelpScreen, [(VerticalScroll, "in the help text", False)]),
    ]


def _textual_groups() -> list[tuple[str, tuple[type, ...]]]:
    from textual.command import CommandPalette
    from textual.containers import ScrollableContainer
    from textual.widgets import (
        Button,
        Input,
        OptionList,
        RadioSet,
        Select,
        Switch,
        TextArea,
        Tree,
    )
    from textual.widgets._toggle_button import ToggleButton

    return [
        ("Editing text (the prompt and the other text boxes)", (TextArea,)),
        ("One-line fields", (Input,)),
        ("Lists", (OptionList,)),
        ("Folder tree", (Tree,)),
        ("Scrolling (the conversation, long dialogs)", (ScrollableContainer,)),
        ("Buttons, switches and choices", (Button, Switch, ToggleButton, RadioSet, Select)),
        ("In the command palette", (CommandPalette,)),
    ]


# --- the help screen -------------------------------------------------------------------------


def help_groups(app: App) -> list[HelpGroup]:
    """Every key in force, grouped by where it applies: ours first, then Textual's own."""
    app_rows = [HelpRow(owner, b, _what(b, owner)) for owner, b in declared_bindings(type(app))]
    anywhere = [row for row in app_rows if _is_ours(row.owner)]
    palette = palette_binding(app)
    if palette is not None and not any(row.binding.action == palette.action for row in anywhere):
        anywhere.append(HelpRow(App, palette, "Command palette (every command, themes, models)"))
    groups = [HelpGroup("Anywhere", anywhere)]
    descriptions = _descriptions()
    owners = _chat_owners() + [(title, screen) for title, screen, _ in _modal_screens()]
    for title, cls in owners:
        rows = [HelpRow(owner, b, _what(b, owner)) for owner, b in _own_bindings(cls)]
        # Textual keys whose action this class changes (↑ on an empty prompt recalls a prompt).
        rows += [HelpRow(owner, b, _what(b, owner, cls)) for owner, b in declared_bindings(cls)
                 if owner is not cls and (cls, b.action) in descriptions]
        groups.append(HelpGroup(title, rows))
    from textual.screen import Screen

    every_screen = [HelpRow(owner, b, _what(b, owner)) for owner, b in _own_bindings(Screen)]
    every_screen += [row for row in app_rows if not _is_ours(row.owner)]  # ctrl+c's quit hint
    groups.append(HelpGroup("Every screen", every_screen, built_in=True))
    for title, classes in _textual_groups():
        rows = [HelpRow(owner, b, _what(b, owner)) for cls in classes for owner, b in _own_bindings(cls)]
        groups.append(HelpGroup(title, rows, built_in=True))
    return [group for group in groups if group.rows]


def display_keys(app: App, binding: Binding) -> str:
    """The keys that trigger `binding` now (after the keymap), as Textual displays keys."""
    return ", ".join(app.get_key_display(Binding(key, binding.action)) for key in keys_now(app, binding))


# --- hint lines --------------------------------------------------------------------------------


def keys_now(app: App, binding: Binding) -> tuple[str, ...]:
    """The keys that trigger `binding` now: the keymap's, else its own."""
    keymap = getattr(app, "_keymap", {}) or {}
    return keys_of(keymap.get(binding.id or "", binding.key))


def _bindings_by_id(app: App) -> dict[str, Binding]:
    owners = [type(app)] + [cls for _, cls in _chat_owners()] + [cls for _, cls, _ in _modal_screens()]
    found = {b.id: b for cls in owners for _, b in declared_bindings(cls) if b.id}
    palette = palette_binding(app)
    if palette is not None and palette.id:
        found[palette.id] = palette
    return found


def key_hint(app: App, binding_id: str, *, first_only: bool = False) -> str:
    """The keys of the binding `binding_id` now, spelled as hint lines spell them
    ("ctrl+s", "esc", "n / esc"). Raises KeyError for an id no binding has."""
    binding = _bindings_by_id(app).get(binding_id)
    if binding is None:
        raise KeyError(f"no binding has the id {binding_id!r}")
    keys = [_HINT_WORDS.get(key, key) for key in keys_now(app, binding)]
    return keys[0] if first_only else " / ".join(keys)


def with_keys(app: App, text: str) -> str:
    """`text` with each `{binding-id}` replaced by that binding's keys now:
    `"{save-text} save · {cancel-text} cancel"` -> `"ctrl+s save · esc cancel"`."""
    return _TEMPLATE_KEY.sub(lambda match: key_hint(app, match.group(1)), text)


_STEP_WORDS = {
    "pick-model": "pick a model",
    "retry": "retry",
    "new-conversation": "new conversation",
    "toggle-tools": "tools off for this conversation",
    "open-settings": "settings",
    "continue-reply": "continue",
}


def error_actions(app: App, error: ChatError) -> str:
    """The keys that help with `error` (its `actions`, as the keymap spells them now),
    as a hint line: "ctrl+o pick a model · ctrl+r retry"."""
    if error.kind in ("auth", "wrong_path"):
        return "restart vllm-chat with the fix above; the conversation is saved"
    return " · ".join(f"{key_hint(app, step)} {_STEP_WORDS.get(step, step)}" for step in error.actions)


# --- the keymap ------------------------------------------------------------------------------


def _ids(cls: type) -> list[ContextEntry]:
    return [BindingInfo(b.id, keys_of(b.key), b.description) for _, b in declared_bindings(cls) if b.id]


def _types_text(key: str) -> bool:
    character = key_to_character(key)
    return character is not None and character.isprintable()


def _widget_keys(cls: type, where: str, text_box: bool = False) -> WidgetKeys:
    keys = {key: _what(b, owner, cls).lower() for owner, b in declared_bindings(cls) if not b.id
            for key in keys_of(b.key)}
    return WidgetKeys(where, keys, _types_text if text_box else None)


def binding_contexts(app: App) -> list[list[ContextEntry]]:
    """Every set of keys that can be active at once (a focus chain, or a modal with
    the app's global keys), for the keymap check."""
    from textual.screen import Screen

    from vllm_chat.ui.screens.chat import ChatScreen
    from vllm_chat.ui.widgets.attachment_bar import AttachmentBar, AttachmentChip
    from vllm_chat.ui.widgets.completion_list import CompletionList
    from vllm_chat.ui.widgets.image_thumb import ImageThumb
    from vllm_chat.ui.widgets.message_list import MessageList
    from vllm_chat.ui.widgets.message_views import MessageView
    from vllm_chat.ui.widgets.prompt_input import PromptInput
    from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel

    palette = palette_binding(app)
    app_keys = _ids(type(app)) + [_widget_keys(Screen, "on every screen")]
    if palette is not None and palette.id and palette.id not in {b.id for b in app_keys
                                                                  if isinstance(b, BindingInfo)}:
        app_keys.append(BindingInfo(palette.id, keys_of(palette.key), "Command palette"))
    chat = app_keys + _ids(ChatScreen)
    conversation = _widget_keys(MessageList, "in the conversation")
    prompt = chat + _ids(PromptInput) + [_widget_keys(PromptInput, "in the prompt", text_box=True)]
    contexts = [
        prompt,
        prompt + _ids(CompletionList),  # the suggestions take their keys first while they show
        chat + _ids(MessageView) + [conversation],
        chat + _ids(MessageView) + _ids(ToolCallPanel) + [conversation],
        chat + _ids(MessageView) + _ids(ImageThumb) + [conversation],
        chat + _ids(AttachmentChip) + [_widget_keys(AttachmentBar, "in the attachment bar")],
    ]
    for _, screen, focusable in _modal_screens():
        base = app_keys + _ids(screen)
        if not focusable:
            contexts.append(base)
        for widget, where, text_box in focusable:
            contexts.append(base + _ids(widget) + [_widget_keys(widget, where, text_box)])
    return contexts


def apply_keymap(app: App, keymap: dict[str, str]) -> list[str]:
    """Check the user's keymap, apply the entries that are fine, and return the problems."""
    _name_palette_binding(app)
    keymap = app._normalize_keymap(keymap)
    problems = keymap_problems(keymap, binding_contexts(app))
    bad = {binding_id for problem in problems for binding_id in problem.ids}
    app.set_keymap({binding_id: keys for binding_id, keys in keymap.items() if binding_id not in bad})
    return [problem.message for problem in problems]
