"""Merging what another process saved into the conversation this process is about to save.

Two windows on one session each append to the same tree. When a save finds
the file changed since this process last read or wrote it, `merge` takes
three versions: the *base* (the file as this process last knew it), *ours*
(the conversation in memory) and *theirs* (the file now), and brings theirs
into ours:

- every message of either side is kept; where the two sides continued the
  same message differently, both continuations hang there as alternatives,
  in the order they were written (`core/tree.py`);
- a message only one side changed (another window finished streaming a reply
  this one loaded half-way) takes that side's version; a message deleted on
  either side is deleted (kept in `removed`);
- settings (title, model, system prompt, sampling, tools, mode, constraint,
  reasoning controls) take the side that
  changed them since the base;
- the branch shown stays ours; when ours added nothing below its last
  message and theirs continued from there, the shown branch follows theirs.

When both sides changed the same message differently there is no merge: the
caller saves ours as a new session instead (`MergeResult.conflict`).
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm_chat.core import tree
from vllm_chat.core.conversation import Conversation, Fork, Message

_SETTINGS = ("title", "model", "system_prompt", "params", "tools_enabled", "base_url", "origin",
             "kind", "constraint", "reasoning_controls")


@dataclass(frozen=True)
class MergeResult:
    """What a merge did, for the notice the user gets."""

    conflict: str | None = None
    """Why the two versions can't be merged (nothing was changed), or None."""
    added: int = 0
    """Messages that came from the file (another window's)."""
    shown_added: int = 0
    """Of those, how many joined the shown branch (it followed theirs)."""
    fork_at: int | None = None
    """1-based place in the shown branch of the first message that now has an
    alternative from the file, if any."""
    deleted: int = 0
    """Shown messages that the other side had deleted."""


def _print(message: Message) -> str:
    return message.model_dump_json(exclude={"parent_id"})


def _nodes(conv: Conversation) -> dict[str, Message]:
    return {m.id: m for m in (*conv.messages, *conv.aside, *conv.removed)}


def merge(base: Conversation | None, ours: Conversation, theirs: Conversation) -> MergeResult:
    """Bring `theirs` into `ours` (changed in place) unless they conflict.

    `base` is the version both started from (None: unknown, so any message
    the two sides hold differently is a conflict).
    """
    tree.link(ours)
    tree.link(theirs)
    base_prints = {i: _print(m) for i, m in _nodes(base).items()} if base is not None else {}
    mine, other = _nodes(ours), _nodes(theirs)
    take_theirs: list[str] = []
    for message_id in mine.keys() & other.keys():
        a, b = _print(mine[message_id]), _print(other[message_id])
        if a == b:
            continue
        was = base_prints.get(message_id)
        if was == a:
            take_theirs.append(message_id)
        elif was != b:
            return MergeResult(conflict=f"message {message_id} was changed both here and in the file")
    gone = {m.id for m in ours.removed} | {m.id for m in theirs.removed}
    parents = {i: m.parent_id for i, m in other.items()}
    parents.update({i: m.parent_id for i, m in mine.items()})

    def up(parent: str | None) -> str | None:
        hops = 0
        while parent is not None and parent in gone and hops <= len(parents):
            parent, hops = parents.get(parent), hops + 1
        return parent

    for message_id in mine.keys() & other.keys():
        if message_id not in gone and up(mine[message_id].parent_id) != up(other[message_id].parent_id):
            return MergeResult(conflict=f"message {message_id} was moved both here and in the file")

    # Apply: nothing above can fail any more.
    for message_id in take_theirs:
        target, source = mine[message_id], other[message_id]
        for name in type(target).model_fields:
            if name not in ("id", "parent_id"):
                setattr(target, name, getattr(source, name))
    newcomers = [m for m in (*theirs.messages, *theirs.aside) if m.id not in mine and m.id not in gone]
    deleted = [m for m in ours.messages if m.id in gone]
    already_removed = {m.id for m in ours.removed}
    ours.removed += [m for i, m in other.items() if i in gone and i not in already_removed]
    ours.messages = [m for m in ours.messages if m.id not in gone]
    ours.aside = [m for m in ours.aside if m.id not in gone] + newcomers
    for message in (*ours.messages, *ours.aside):
        message.parent_id = up(message.parent_id)
    _merge_forks(ours, theirs, gone)
    # Compactions only ever grow: each window's record of what it took out is kept.
    known = {c.id for c in ours.compactions}
    ours.compactions += [c for c in theirs.compactions if c.id not in known]
    _merge_settings(base, ours, theirs)
    tree.link(ours)
    shown_added = _follow_theirs(ours, {m.id for m in newcomers})
    new_ids = {m.id for m in newcomers}
    by_point = {f.after: f for f in ours.forks}
    fork_at = None
    for k, m in enumerate(ours.messages):
        fork = by_point.get(m.parent_id)
        if fork is not None and m.id not in new_ids and any(o in new_ids for o in fork.options):
            fork_at = k + 1
            break
    return MergeResult(added=len(newcomers), shown_added=shown_added, fork_at=fork_at, deleted=len(deleted))


def _merge_forks(ours: Conversation, theirs: Conversation, gone: set[str]) -> None:
    """Each fork keeps our order and choice; alternatives only theirs knew follow, by time."""
    created = {m.id: m.created_at for m in (*ours.messages, *ours.aside)}
    mine = {f.after: f for f in ours.forks}
    for fork in theirs.forks:
        after = fork.after
        if after in gone:
            continue  # its options moved up; `link` gives their new parent a fork
        extra = [o for o in fork.options if o not in gone and o in created]
        if after in mine:
            known = mine[after].options
            mine[after].options = known + sorted((o for o in extra if o not in known), key=created.__getitem__)
        elif extra:
            mine[after] = Fork(after=after, options=extra, chosen=fork.chosen if fork.chosen in extra else extra[-1])
    ours.forks = list(mine.values())


def _merge_settings(base: Conversation | None, ours: Conversation, theirs: Conversation) -> None:
    for name in _SETTINGS:
        mine, other = getattr(ours, name), getattr(theirs, name)
        if mine == other:
            continue
        if base is not None and getattr(base, name) == mine:
            setattr(ours, name, other)
    ours.created_at = min(ours.created_at, theirs.created_at)
    ours.updated_at = max(ours.updated_at, theirs.updated_at)


def _follow_theirs(ours: Conversation, newcomers: set[str]) -> int:
    """When every message below our last shown one came from the file, show that branch
    (theirs continued where ours stopped); returns how many messages joined the shown branch."""
    last = ours.messages[-1].id if ours.messages else None
    below = [m for m in ours.aside if m.parent_id == last]
    if not below or any(m.id not in newcomers for m in below):
        return 0
    fork = next((f for f in ours.forks if f.after == last), None)
    start = next((m for m in below if fork is not None and m.id == fork.chosen),
                 max(below, key=lambda m: m.created_at))
    return tree.show_below(ours, start.id)
