"""The keymap check: a remap onto a key the focused widget already uses itself (a text
box's editing keys, or a key that types a character) is a conflict, said once, naming
the key, what it does there and the entry at fault; defaults shared by design are not."""

from __future__ import annotations

from vllm_chat.core.keymap import BindingInfo, WidgetKeys, check_keymap, keymap_problems

PROMPT_KEYS = WidgetKeys("in the prompt", {"ctrl+a": "cursor line start", "ctrl+k": "delete to line end",
                                           "up": "cursor up"},
                         types_text=lambda key: len(key) == 1)
FIELD_KEYS = WidgetKeys("in the title box", {"ctrl+k": "delete all to the right"},
                        types_text=lambda key: len(key) == 1)
LIST_KEYS = WidgetKeys("in the conversation", {"pageup": "page up", "up": "scroll up"})

CHAT = [BindingInfo("new-conversation", ("ctrl+n",)), BindingInfo("quit", ("ctrl+q",))]
CONTEXTS = [
    [*CHAT, BindingInfo("send", ("enter",)), PROMPT_KEYS],
    [*CHAT, BindingInfo("message-previous", ("up", "k")), LIST_KEYS],
    [BindingInfo("quit", ("ctrl+q",)), BindingInfo("cancel-rename", ("escape",)), FIELD_KEYS],
]


def test_a_remap_onto_a_text_box_editing_key_is_a_conflict_naming_what_the_key_does_there() -> None:
    assert check_keymap({"new-conversation": "ctrl+a"}, CONTEXTS) == [
        "keymap: ctrl+a already means 'cursor line start' in the prompt; give 'new-conversation' another key"]


def test_a_remap_onto_a_key_that_types_text_in_the_focused_box_is_a_conflict() -> None:
    assert check_keymap({"new-conversation": "x"}, CONTEXTS) == [
        "keymap: x types text in the prompt; give 'new-conversation' a key with ctrl or alt, or an F key"]
    assert check_keymap({"message-previous": "p"}, CONTEXTS) == [], "no text box has focus on a message"


def test_the_same_clash_in_several_places_is_reported_once() -> None:
    problems = keymap_problems({"quit": "ctrl+k"}, CONTEXTS)
    assert [p.message for p in problems] == [
        "keymap: ctrl+k already means 'delete to line end' in the prompt (and 1 other place); "
        "give 'quit' another key"]
    assert problems[0].ids == {"quit"}


def test_a_default_key_the_widget_shares_by_design_is_not_a_conflict() -> None:
    # ↑ moves between messages by default, over the list's own ↑ (scroll up): that is the design.
    assert check_keymap({"message-previous": "up,p"}, CONTEXTS) == []
    assert check_keymap({"message-previous": "pageup"}, CONTEXTS) == [
        "keymap: pageup already means 'page up' in the conversation; give 'message-previous' another key"]


def test_only_the_remapped_entry_is_at_fault_not_the_binding_it_clashes_with() -> None:
    problems = keymap_problems({"send": "ctrl+n", "sned": "x"}, CONTEXTS)
    by_message = {p.text(): p.ids for p in problems}
    assert by_message["keymap: ctrl+n would trigger both 'new-conversation' and 'send'; "
                      "give one of them another key"] == {"send"}
    assert by_message["keymap: 'sned' is not a binding id (did you mean 'send'?)"] == {"sned"}
