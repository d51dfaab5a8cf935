"""The keys a user reads: hint lines, `{binding-id}` templates and the steps that
help with an error, each spelled with the keys the binding has now (after the
user's `[keymap]`).

Bindings are declared on the widgets and screens they belong to, each with an
`id` the keymap can move. This module knows no screen or widget by name (they
import it for their hints, so it must not import them): a binding is found
among the classes of ours that are loaded, which is every one of them once the
app has started (`ui.key_places`, which walks the screens for the help screen
and the keymap check, imports them all).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode

from vllm_chat.core.errors import ChatError
from vllm_chat.core.keymap import keys_of

PALETTE_ID = "command-palette"
"""The id the command palette's key (ctrl+p) gets; Textual adds that binding without one."""

_HINT_WORDS = {"escape": "esc", "pageup": "pgup", "pagedown": "pgdn", "delete": "del",
               "question_mark": "?", "up": "↑", "down": "↓",
               "left": "←", "right": "→"}
_TEMPLATE_KEY = re.compile(r"\{([a-z0-9]+(?:-[a-z0-9]+)*)(:first)?\}")


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
        own = own_bindings(base)
        taken = {key for b in own for key in keys_of(b.key)}
        kept = [(owner, _without_keys(b, taken)) for owner, b in found]
        found = [(owner, b) for owner, b in kept if b is not None] + [(base, b) for b in own]
    return found


def own_bindings(cls: type) -> list[Binding]:
    """The bindings `cls` itself declares in its `BINDINGS` (none of its base classes')."""
    return [_as_binding(b) for b in cls.__dict__.get("BINDINGS", [])]


def _as_binding(binding: BindingType) -> Binding:
    return binding if isinstance(binding, Binding) else Binding(*binding)


def _without_keys(binding: Binding, taken: set[str]) -> Binding | None:
    keys = [key for key in keys_of(binding.key) if key not in taken]
    if not keys:
        return None
    return binding if len(keys) == len(keys_of(binding.key)) else replace(binding, key=",".join(keys))


def is_ours(cls: type) -> bool:
    """Whether `cls` is one of vllm-chat's classes (not Textual's, not a test's)."""
    return cls.__module__.startswith("vllm_chat.")


def palette_binding(app: App[Any]) -> Binding | None:
    """The command palette's binding as the app has it (None when the palette is off)."""
    for bindings in app._bindings.key_to_bindings.values():
        for binding in bindings:
            if binding.action in ("command_palette", "app.command_palette"):
                return binding
    return None


# --- the keys of a binding now -----------------------------------------------------------------


def keys_now(app: App[Any], binding: Binding) -> tuple[str, ...]:
    """The keys that trigger `binding` now: the keymap's, else its own."""
    keymap = getattr(app, "_keymap", {}) or {}
    return keys_of(keymap.get(binding.id or "", binding.key))


def display_keys(app: App[Any], binding: Binding) -> str:
    """The keys that trigger `binding` now (after the keymap), as Textual displays keys."""
    return ", ".join(app.get_key_display(Binding(key, binding.action)) for key in keys_now(app, binding))


def _loaded_classes_of_ours() -> Iterator[type]:
    """Every screen and widget class of ours that Python has loaded."""
    seen: set[type] = set()
    stack: list[type] = [DOMNode]
    while stack:
        subclasses: list[type] = stack.pop().__subclasses__()
        for sub in subclasses:
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
                if is_ours(sub):
                    yield sub


def bindings_by_id(app: App[Any]) -> dict[str, Binding]:
    """Every binding with an id, by id: the app's, the command palette's and those of
    every screen and widget class of ours that is loaded."""
    owners = [*_loaded_classes_of_ours(), type(app)]
    found = {b.id: b for cls in owners for b in own_bindings(cls) if b.id}
    palette = palette_binding(app)
    if palette is not None and palette.id:
        found[palette.id] = palette
    return found


# --- hint lines --------------------------------------------------------------------------------


def key_hint(app: App[Any], binding_id: str, *, first_only: bool = False) -> str:
    """The keys of the binding `binding_id` now, spelled as hint lines spell them
    ("ctrl+s", "esc", "n / esc"). Raises KeyError for an id no binding has."""
    return _hint(app, bindings_by_id(app), binding_id, first_only=first_only)


def binding_keys(app: App[Any], binding_id: str) -> tuple[str, ...]:
    """The keys (Textual's names: "d", "delete") of the binding `binding_id` now.
    Raises KeyError for an id no binding has."""
    return keys_now(app, bindings_by_id(app)[binding_id])


def _hint(app: App[Any], bindings: dict[str, Binding], binding_id: str, *, first_only: bool = False) -> str:
    binding = bindings.get(binding_id)
    if binding is None:
        raise KeyError(f"no binding has the id {binding_id!r}")
    keys = [_HINT_WORDS.get(key, key) for key in keys_now(app, binding)]
    return keys[0] if first_only else " / ".join(keys)


def with_keys(app: App[Any], text: str) -> str:
    """`text` with each `{binding-id}` replaced by that binding's keys now:
    `"{save-text} save · {cancel-text} cancel"` -> `"ctrl+s save · esc cancel"`.
    `{binding-id:first}` names only its first key (`"enter"` for "enter / space")."""
    bindings = bindings_by_id(app)
    return _TEMPLATE_KEY.sub(lambda match: _hint(app, bindings, match.group(1), first_only=bool(match.group(2))),
                             text)


_STEP_WORDS = {
    "pick-model": "pick a model",
    "retry": "retry",
    "new-conversation": "new conversation",
    "toggle-tools": "tools off for this conversation",
    "open-settings": "settings",
    "continue-reply": "continue",
    "completion-mode": "completion mode",
    "compact": "compact",
}


def error_actions(app: App[Any], error: ChatError) -> str:
    """The keys that help with `error` (its `actions`, as the keymap spells them now),
    as a hint line: "ctrl+o pick a model · ctrl+r retry"."""
    if error.kind in ("auth", "wrong_path"):
        return "restart vllm-chat with the fix above; the conversation is saved"
    bindings = bindings_by_id(app)
    return " · ".join(f"{_hint(app, bindings, step)} {_STEP_WORDS.get(step, step)}" for step in error.actions)


def name_palette_binding(app: App[Any]) -> None:
    """Give Textual's ctrl+p binding an id, so help can name it and `[keymap]` can move it.
    (Nothing to do once the app declares the binding itself, with an id.)"""
    key_to_bindings = app._bindings.key_to_bindings
    for key, bindings in key_to_bindings.items():
        key_to_bindings[key] = [
            replace(b, id=PALETTE_ID) if b.action in ("command_palette", "app.command_palette") and not b.id
            else b for b in bindings
        ]
