"""Every place keys belong to: the help screen's list and the contexts the
`[keymap]` check needs.

The screens and widgets that declare bindings are listed here by name, so this
module imports them all; they never import it (their hints come from
`ui.keys`, which knows no screen), and the app loads it only for a config with
a `[keymap]` or when help opens, not at every start. Textual's own classes
bring keys too (ctrl+p for the command palette, tab between fields, a text
box's editing keys): they have no id, but they are in force, so the help screen
lists them as well, and the keymap check refuses a remap that would take one of
them by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.command import CommandPalette
from textual.containers import ScrollableContainer, VerticalScroll
from textual.keys import key_to_character
from textual.screen import Screen
from textual.widgets import Button, Input, OptionList, RadioSet, Select, SelectionList, Switch, TextArea, Tree
from textual.widgets._toggle_button import ToggleButton

from vllm_chat.core.keymap import BindingInfo, ContextEntry, WidgetKeys, keymap_problems, keys_of
from vllm_chat.ui.keys import declared_bindings, is_ours, name_palette_binding, palette_binding, with_keys
from vllm_chat.ui.screens.approval import ToolApprovalScreen
from vllm_chat.ui.screens.attach import AttachScreen, MediaTree
from vllm_chat.ui.screens.chat import ChatScreen
from vllm_chat.ui.screens.compacted import CompactedScreen
from vllm_chat.ui.screens.compare import CompareScreen
from vllm_chat.ui.screens.confidence import ConfidenceScreen
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.screens.constraint_input import ConstraintInputScreen
from vllm_chat.ui.screens.context_view import ContextScreen
from vllm_chat.ui.screens.export import ExportScreen
from vllm_chat.ui.screens.help import HelpGroup, HelpRow, HelpScreen
from vllm_chat.ui.screens.image_view import ImageViewScreen
from vllm_chat.ui.screens.lora_load import LoraLoadScreen
from vllm_chat.ui.screens.model_picker import ModelPickerScreen
from vllm_chat.ui.screens.pick_list import PickListScreen
from vllm_chat.ui.screens.rename import RenameScreen
from vllm_chat.ui.screens.request_view import RenderedPromptScreen, RequestScreen
from vllm_chat.ui.screens.room_offers import RoomOffersScreen
from vllm_chat.ui.screens.server_panel import ServerPanelScreen
from vllm_chat.ui.screens.server_picker import ServerPickerScreen
from vllm_chat.ui.screens.sessions import SessionBrowserScreen
from vllm_chat.ui.screens.settings import SettingsScreen
from vllm_chat.ui.screens.template_form import TemplateFormScreen
from vllm_chat.ui.screens.text_edit import TextEditScreen
from vllm_chat.ui.screens.text_view import LongText, TextViewScreen
from vllm_chat.ui.screens.tool_servers import ToolServersScreen
from vllm_chat.ui.screens.typing_guard import GuardedDialog
from vllm_chat.ui.widgets.attachment_bar import AttachmentBar, AttachmentChip
from vllm_chat.ui.widgets.candidates_panel import CandidatesPanel
from vllm_chat.ui.widgets.compaction_views import SummaryMessageView
from vllm_chat.ui.widgets.completion_list import CompletionList
from vllm_chat.ui.widgets.image_thumb import ImageThumb
from vllm_chat.ui.widgets.message_list import MessageList
from vllm_chat.ui.widgets.message_views import MessageView
from vllm_chat.ui.widgets.prompt_input import PromptInput
from vllm_chat.ui.widgets.token_text import TokenText
from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel


@dataclass(frozen=True)
class FocusPlace:
    """A widget that can have the focus in a modal screen."""

    widget: type
    """Its class."""
    where: str
    """Where it is, as a keymap message says it ("in the path box")."""
    text_box: bool = False
    """Whether keys that type a character go into it (a remap must not take them)."""


CHAT_PLACES: list[tuple[str, type]] = [
    ("Chat", ChatScreen),
    ("Prompt", PromptInput),
    ("Suggestions in the prompt (after @ or /)", CompletionList),
    ("A message (focused)", MessageView),
    ("A compaction's summary (focused)", SummaryMessageView),
    ("Tool call panel (focused)", ToolCallPanel),
    ("Attachment chip (focused)", AttachmentChip),
    ("Image thumbnail (focused)", ImageThumb),
    ("File picker folders", MediaTree),
    ("Candidates and comparisons (side by side)", CandidatesPanel),
    ("Token views (confidence heat-map, rendered prompt)", TokenText),
]
"""The chat screen and the widgets in it that declare keys, under the help screen's titles."""

MODAL_SCREENS: list[tuple[str, type, list[FocusPlace]]] = [
    ("File picker", AttachScreen, [FocusPlace(MediaTree, "in the folder tree"),
                                   FocusPlace(Input, "in the path box", True)]),
    ("Image view", ImageViewScreen, []),
    ("Dialogs that open by themselves (tool approval, offers)", GuardedDialog, []),
    ("Tool approval", ToolApprovalScreen, []),
    ("Session settings", SettingsScreen, [FocusPlace(Select, "in the model list"),
                                          FocusPlace(TextArea, "in the system prompt box", True),
                                          FocusPlace(Input, "in the settings fields", True),
                                          FocusPlace(RadioSet, "in the thinking, mode and reasoning choices"),
                                          FocusPlace(Switch, "on the tools switch")]),
    ("Session browser", SessionBrowserScreen, [FocusPlace(Input, "in the filter box", True)]),
    ("Export", ExportScreen, [FocusPlace(Input, "in the file box", True),
                              FocusPlace(RadioSet, "in the format choice")]),
    ("Rename", RenameScreen, [FocusPlace(Input, "in the title box", True)]),
    ("Constraint", ConstraintInputScreen, [FocusPlace(Input, "in the value box", True)]),
    ("Saved prompt form", TemplateFormScreen, [FocusPlace(Input, "in a variable's box", True)]),
    ("Tool servers (MCP)", ToolServersScreen, [FocusPlace(OptionList, "in the server list")]),
    ("Text editor (system prompt, editing a message)", TextEditScreen,
     [FocusPlace(TextArea, "in the text box", True)]),
    ("Lists (models, actions, code blocks)", PickListScreen, [FocusPlace(OptionList, "in the list")]),
    ("Model picker", ModelPickerScreen, [FocusPlace(OptionList, "in the model list")]),
    ("Server picker", ServerPickerScreen, [FocusPlace(OptionList, "in the server list")]),
    ("Compare models", CompareScreen, [FocusPlace(SelectionList, "in the model list")]),
    ("Load a LoRA adapter", LoraLoadScreen, [FocusPlace(Input, "in the name and path boxes", True)]),
    ("Confirmation", ConfirmScreen, [FocusPlace(Button, "on the buttons")]),
    ("A message that would not fit", RoomOffersScreen, [FocusPlace(OptionList, "in the list")]),
    ("Context breakdown", ContextScreen, []),
    ("Compacted messages", CompactedScreen, [FocusPlace(VerticalScroll, "in the text")]),
    ("Server panel", ServerPanelScreen, [FocusPlace(VerticalScroll, "in the panel")]),
    ("Confidence (a reply's tokens)", ConfidenceScreen, [FocusPlace(TokenText, "in the heat-map")]),
    ("Request behind a reply", RequestScreen, [FocusPlace(TextArea, "in the request text", True)]),
    ("Rendered prompt", RenderedPromptScreen, [FocusPlace(TokenText, "in the prompt")]),
    ("Help", HelpScreen, [FocusPlace(VerticalScroll, "in the help text")]),
    ("Long text (a whole reasoning or tool call)", TextViewScreen, [FocusPlace(LongText, "in the text")]),
]
"""Every modal screen (help screen title, class, the widgets that can have focus in it)."""

TEXTUAL_PLACES: list[tuple[str, tuple[type, ...]]] = [
    ("Editing text (the prompt and the other text boxes)", (TextArea,)),
    ("One-line fields", (Input,)),
    ("Lists", (OptionList, SelectionList)),
    ("Folder tree", (Tree,)),
    ("Scrolling (the conversation, long dialogs)", (ScrollableContainer,)),
    ("Buttons, switches and choices", (Button, Switch, ToggleButton, RadioSet, Select)),
    ("In the command palette", (CommandPalette,)),
]
"""Textual's own widgets whose keys (no id, fixed) the help screen lists."""


def _own_declared(cls: type) -> list[tuple[type, Binding]]:
    """The bindings `cls` itself declares, as it answers them (none of its base classes')."""
    return [(owner, b) for owner, b in declared_bindings(cls) if owner is cls]


# --- descriptions ---------------------------------------------------------------------


@cache
def _descriptions() -> dict[tuple[type, str], str]:
    """What a key does, where Textual's words would mislead or one of our classes
    changes what the key does. Keyed by (class, action)."""
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
    return text if is_ours(owner) else text[:1].upper() + text[1:].lower()


# --- the help screen -------------------------------------------------------------------------


def help_groups(app: App[Any]) -> list[HelpGroup]:
    """Every key in force, grouped by where it applies: ours first, then Textual's own."""
    app_rows = [HelpRow(owner, b, _what(b, owner)) for owner, b in declared_bindings(type(app))]
    anywhere = [row for row in app_rows if is_ours(row.owner)]
    palette = palette_binding(app)
    if palette is not None and not any(row.binding.action == palette.action for row in anywhere):
        anywhere.append(HelpRow(App, palette, "Command palette (every command, themes, models)"))
    groups = [HelpGroup("Anywhere", anywhere)]
    descriptions = _descriptions()
    owners = CHAT_PLACES + [(title, screen) for title, screen, _ in MODAL_SCREENS]
    for title, cls in owners:
        rows = [HelpRow(owner, b, _what(b, owner)) for owner, b in _own_declared(cls)]
        # Textual keys whose action this class changes (↑ on an empty prompt recalls a prompt).
        rows += [HelpRow(owner, b, _what(b, owner, cls)) for owner, b in declared_bindings(cls)
                 if owner is not cls and (cls, b.action) in descriptions]
        groups.append(HelpGroup(title, rows))
    every_screen = [HelpRow(owner, b, _what(b, owner)) for owner, b in _own_declared(Screen)]
    every_screen += [row for row in app_rows if not is_ours(row.owner)]  # ctrl+c's quit hint
    groups.append(HelpGroup("Every screen", every_screen, built_in=True))
    for title, classes in TEXTUAL_PLACES:
        rows = [HelpRow(owner, b, _what(b, owner)) for cls in classes for owner, b in _own_declared(cls)]
        groups.append(HelpGroup(title, rows, built_in=True))
    return [group for group in groups if group.rows]


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


def binding_contexts(app: App[Any]) -> list[list[ContextEntry]]:
    """Every set of keys that can be active at once (a focus chain, or a modal with
    the app's global keys), for the keymap check."""
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
        chat + _ids(SummaryMessageView) + [conversation],
        chat + _ids(AttachmentChip) + [_widget_keys(AttachmentBar, "in the attachment bar")],
        chat + _ids(CandidatesPanel),
    ]
    for _, screen, focusable in MODAL_SCREENS:
        base = app_keys + _ids(screen)
        if not focusable:
            contexts.append(base)
        for place in focusable:
            contexts.append(base + _ids(place.widget) + [_widget_keys(place.widget, place.where, place.text_box)])
    return contexts


def apply_keymap(app: App[Any], keymap: dict[str, str]) -> list[str]:
    """Check the user's keymap, apply the entries that are fine, and return the problems."""
    name_palette_binding(app)
    normalized = app._normalize_keymap(keymap)
    problems = keymap_problems(normalized, binding_contexts(app))
    bad = {binding_id for problem in problems for binding_id in problem.ids}
    app.set_keymap({binding_id: keys for binding_id, keys in normalized.items() if binding_id not in bad})
    return [problem.text(lambda hint: with_keys(app, hint)) for problem in problems]
