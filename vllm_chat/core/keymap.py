"""Checking the user's `[keymap]` against the app's bindings, before it is applied.

Bindings are identified by id (`send`, `pick-model`, ...). A keymap entry
maps an id to keys (`"ctrl+s"` or several, comma-separated). Problems are
reported in words: an id that doesn't exist (with the closest one), a key
that is empty, and two bindings that would answer the same key where both
can be active at once (a *context*: e.g. the prompt, the chat screen and the
app's global keys are active together).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BindingInfo:
    """What the checker needs to know about one binding."""

    id: str
    """The binding id used in `[keymap]`."""
    keys: tuple[str, ...]
    """Its default keys."""
    description: str = ""
    """What it does (for messages)."""


def keys_of(spec: str) -> tuple[str, ...]:
    """`"ctrl+s, f5"` -> `("ctrl+s", "f5")`."""
    return tuple(k.strip() for k in spec.split(",") if k.strip())


def effective_keys(binding: BindingInfo, keymap: Mapping[str, str]) -> tuple[str, ...]:
    """The keys a binding answers once the keymap is applied."""
    if binding.id in keymap:
        return keys_of(keymap[binding.id])
    return binding.keys


def check_keymap(keymap: Mapping[str, str], contexts: Sequence[Sequence[BindingInfo]]) -> list[str]:
    """Problems with `keymap`, one sentence each (an empty list means it is fine).

    `contexts` lists, for each situation the user can be in, every binding active in
    it; a key may be reused across contexts but not within one.
    """
    known = {b.id: b for context in contexts for b in context}
    problems = []
    for binding_id, spec in keymap.items():
        if binding_id not in known:
            close = difflib.get_close_matches(binding_id, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else " (F1 lists every id)"
            problems.append(f"keymap: {binding_id!r} is not a binding id{hint}")
        elif not keys_of(spec):
            problems.append(f"keymap: {binding_id!r} has no key")
    seen: set[tuple[str, str, str]] = set()
    for context in contexts:
        by_key: dict[str, list[BindingInfo]] = {}
        for binding in context:
            for key in effective_keys(binding, keymap):
                by_key.setdefault(key, []).append(binding)
        for key, bindings in by_key.items():
            ids = sorted({b.id for b in bindings})
            if len(ids) < 2 or not any(i in keymap for i in ids):
                continue  # the app's own defaults never clash; only remaps can
            for a, b in zip(ids, ids[1:]):
                if (key, a, b) not in seen:
                    seen.add((key, a, b))
                    problems.append(f"keymap: {key} would trigger both {a!r} and {b!r}; "
                                    f"give one of them another key")
    return problems
