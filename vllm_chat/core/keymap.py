"""Checking the user's `[keymap]` against the app's bindings, before it is applied.

Bindings are identified by id (`send`, `pick-model`, ...). A keymap entry
maps an id to keys (`"ctrl+s"` or several, comma-separated). Problems are
reported in words: an id that doesn't exist (with the closest one), a key
that is empty, two bindings that would answer the same key where both can be
active at once (a *context*: e.g. the prompt, the chat screen and the app's
global keys are active together), and a key that the focused widget already
uses itself (a text box's ctrl+a, ctrl+k, ..., or any key that types a
character into it).
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BindingInfo:
    """What the checker needs to know about one binding."""

    id: str
    """The binding id used in `[keymap]`."""
    keys: tuple[str, ...]
    """Its default keys."""
    description: str = ""
    """What it does (for messages)."""


@dataclass(frozen=True)
class WidgetKeys:
    """The keys a widget handles itself while it has focus (Textual's own keys, such as a
    text box's editing keys). They have no id, so the keymap can't move them; a binding
    moved onto one of them would lose to the widget, or take the key away from it."""

    where: str
    """Where these keys apply, as messages say it: "in the prompt", "on every screen"."""
    keys: Mapping[str, str]
    """Each key, and what it does there ("cursor line start")."""
    types_text: Callable[[str], bool] | None = None
    """For a text box: tells whether a key types a character into it."""


ContextEntry = BindingInfo | WidgetKeys
"""One thing active in a context: a binding with an id, or a widget's own keys."""


@dataclass(frozen=True)
class KeymapProblem:
    """One thing wrong with the keymap."""

    message: str
    """What is wrong, in one sentence (it may quote the user's keymap as written)."""
    ids: frozenset[str] = field(default_factory=frozenset)
    """The keymap entries at fault (they are not applied)."""
    hint: str = ""
    """What to do, in our words only: a `{binding-id}` in it names a step the front
    end spells with its keys ("{help} lists every id")."""

    def text(self, render_hint: Callable[[str], str] = lambda hint: hint) -> str:
        """The sentence and its hint, the hint's steps spelled by `render_hint`."""
        return f"{self.message} ({render_hint(self.hint)})" if self.hint else self.message


def keys_of(spec: str) -> tuple[str, ...]:
    """`"ctrl+s, f5"` -> `("ctrl+s", "f5")`."""
    return tuple(k.strip() for k in spec.split(",") if k.strip())


def effective_keys(binding: BindingInfo, keymap: Mapping[str, str]) -> tuple[str, ...]:
    """The keys a binding answers once the keymap is applied."""
    if binding.id in keymap:
        return keys_of(keymap[binding.id])
    return binding.keys


def keymap_problems(keymap: Mapping[str, str],
                    contexts: Sequence[Sequence[ContextEntry]]) -> list[KeymapProblem]:
    """Problems with `keymap`, each naming the entries at fault (empty: it is fine).

    `contexts` lists, for each situation the user can be in, every binding and
    widget key active in it; a key may be reused across contexts but not within one.
    """
    known = {b.id: b for context in contexts for b in context if isinstance(b, BindingInfo)}
    problems = []
    for binding_id, spec in keymap.items():
        if binding_id not in known:
            close = difflib.get_close_matches(binding_id, list(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "{help} lists every id"
            problems.append(KeymapProblem(f"keymap: {binding_id!r} is not a binding id",
                                          frozenset({binding_id}), hint))
        elif not keys_of(spec):
            problems.append(KeymapProblem(f"keymap: {binding_id!r} has no key", frozenset({binding_id})))
    seen: set[tuple[str, str, str]] = set()
    taken: dict[tuple[str, str], list[str]] = {}
    for context in contexts:
        bindings = [b for b in context if isinstance(b, BindingInfo)]
        widgets = [w for w in context if isinstance(w, WidgetKeys)]
        problems += _clashes_between_bindings(bindings, keymap, seen)
        for key, binding_id, place in _clashes_with_widgets(bindings, widgets, keymap):
            places = taken.setdefault((key, binding_id), [])
            if place not in places:
                places.append(place)
    for (key, binding_id), places in taken.items():
        others = len(places) - 1
        more = f" (and {others} other place{'s' if others > 1 else ''})" if others else ""
        advice = "a key with ctrl or alt, or an F key" if places[0].startswith("types text") else "another key"
        problems.append(KeymapProblem(f"keymap: {key} {places[0]}{more}; give {binding_id!r} {advice}",
                                      frozenset({binding_id})))
    return problems


def check_keymap(keymap: Mapping[str, str], contexts: Sequence[Sequence[ContextEntry]]) -> list[str]:
    """Problems with `keymap`, one sentence each (an empty list means it is fine)."""
    return [p.text() for p in keymap_problems(keymap, contexts)]


def _clashes_between_bindings(bindings: list[BindingInfo], keymap: Mapping[str, str],
                              seen: set[tuple[str, str, str]]) -> list[KeymapProblem]:
    by_key: dict[str, list[BindingInfo]] = {}
    for binding in bindings:
        for key in effective_keys(binding, keymap):
            by_key.setdefault(key, []).append(binding)
    problems = []
    for key, sharing in by_key.items():
        ids = sorted({b.id for b in sharing})
        if len(ids) < 2 or not any(i in keymap for i in ids):
            continue  # the app's own defaults never clash; only remaps can
        for a, b in itertools.pairwise(ids):
            if (key, a, b) not in seen:
                seen.add((key, a, b))
                problems.append(KeymapProblem(
                    f"keymap: {key} would trigger both {a!r} and {b!r}; give one of them another key",
                    frozenset(i for i in (a, b) if i in keymap)))
    return problems


def _clashes_with_widgets(bindings: list[BindingInfo], widgets: list[WidgetKeys],
                          keymap: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(key, binding id, what the key does instead) for each remapped key a widget in the
    context already uses: "already means 'cut' in the prompt", "types text in the prompt"."""
    found = []
    for binding in bindings:
        if binding.id not in keymap:
            continue
        # Only the keys the remap adds: a default key shared with a widget is the app's design.
        for key in effective_keys(binding, keymap):
            if key in binding.keys:
                continue
            for widget in widgets:
                if key in widget.keys:
                    found.append((key, binding.id, f"already means {widget.keys[key]!r} {widget.where}"))
                elif widget.types_text is not None and widget.types_text(key):
                    found.append((key, binding.id, f"types text {widget.where}"))
    return found
