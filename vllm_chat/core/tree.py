"""The conversation tree: alternatives of a message, the branch shown, and changes to it.

The shape (see `Conversation`): `messages` is the branch shown, and what is
sent to the model. Every other message of the tree sits in `aside` with its
`parent_id`. The *children* of a message are the next shown message and the
`aside` messages whose `parent_id` is its id; children of the same message are
*alternatives* of each other (versions of a reply, of a prompt, or another
window's continuation after a merge). Where a message has alternatives below
it, a `Fork` gives their order and the chosen one; forks off the shown branch
remember what was shown there last, so switching back to an alternative brings
back the branch below it as it was. Deleted messages leave the tree for
`removed`; whatever hung below them moves up to their parent.

The API other features build on (N candidates, model comparison: each
alternative is a *chain*, a reply alone or a reply with its tool round):

- `alternatives(conv, message_id)`, `version(conv, message_id)`,
  `versions(conv)`: the alternatives of a shown message and its place among
  them ("2 of 3").
- `add_alternatives(conv, message_id, chains, choose=k)`: hang new versions
  next to a shown message.
- `choose(conv, message_id, k)`: show version `k` in its place.
- `set_aside(conv, start)`: the shown messages from `start` on become an
  earlier version; the next message appended there becomes the newest one
  (regenerate, edit and send again).
- `remove(conv, start, end)`: delete shown messages (kept in `removed`).
- `fork_at(conv, count)`: a new conversation holding the first `count`
  shown messages.
- `link(conv)`: bring parent ids and forks up to date after messages were
  appended to `messages` (the engine only appends); the store calls it
  before every save, the functions here call it first.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from vllm_chat.core.conversation import Conversation, Fork, Message, Origin, new_id


def all_messages(conv: Conversation) -> Iterator[Message]:
    """Every message in the tree (shown first, then the other branches); not the removed ones."""
    yield from conv.messages
    yield from conv.aside


def _fork_at(conv: Conversation, after: str | None) -> Fork | None:
    return next((f for f in conv.forks if f.after == after), None)


def _index(conv: Conversation, message_id: str) -> int:
    for i, message in enumerate(conv.messages):
        if message.id == message_id:
            return i
    raise KeyError(f"message {message_id} is not in the shown branch")


def _parent_at(conv: Conversation, index: int) -> str | None:
    return conv.messages[index - 1].id if index > 0 else None


def _children(conv: Conversation) -> dict[str | None, list[Message]]:
    """Every parent id -> its children, the shown one last (before any fork ordering)."""
    kids: dict[str | None, list[Message]] = {}
    for message in conv.aside:
        kids.setdefault(message.parent_id, []).append(message)
    parent = None
    for message in conv.messages:
        kids.setdefault(parent, []).append(message)
        parent = message.id
    return kids


# --- keeping it consistent ----------------------------------------------------------


def link(conv: Conversation) -> None:
    """Set the parent ids along the shown branch and bring the forks up to date.

    A message appended after a set-aside tail joins that point's fork as its
    newest alternative and becomes the chosen one; forks list exactly the
    children their point has (in their order, newcomers by creation time), and
    a point that has several children without a fork gets one. Cheap when the
    conversation has no other branch (it runs before every save).
    """
    parent: str | None = None
    for message in conv.messages:
        message.parent_id = parent
        parent = message.id
    if not conv.aside and not conv.forks:
        return
    shown = {m.id for m in conv.messages}
    if any(m.id in shown for m in conv.aside):
        seen: set[str] = set(shown)
        unique = []
        for m in conv.aside:  # a message both shown and aside (a hand-edited file): keep it shown
            if m.id not in seen:
                seen.add(m.id)
                unique.append(m)
        conv.aside = unique
    kids = _children(conv)
    shown_child = {_parent_at(conv, i): m.id for i, m in enumerate(conv.messages)}
    forks: list[Fork] = []
    seen_points: set[str | None] = set()
    for fork in conv.forks:
        if fork.after in seen_points:
            continue  # two forks for one point: the first one counts
        seen_points.add(fork.after)
        children = kids.get(fork.after, [])
        ids = {m.id for m in children}
        options = [o for o in dict.fromkeys(fork.options) if o in ids]
        newcomers = sorted((m for m in children if m.id not in options), key=lambda m: m.created_at)
        options += [m.id for m in newcomers]
        if not options:
            continue
        chosen = shown_child.get(fork.after)
        if chosen is None:
            chosen = fork.chosen if fork.chosen in options else options[-1]
        fork.options, fork.chosen = options, chosen
        forks.append(fork)
    for after, children in kids.items():
        if len(children) > 1 and after not in seen_points:
            ordered = sorted(children, key=lambda m: m.created_at)
            chosen = shown_child.get(after) or ordered[-1].id
            forks.append(Fork(after=after, options=[m.id for m in ordered], chosen=chosen))
    conv.forks = forks


# --- reading -------------------------------------------------------------------------


def alternatives(conv: Conversation, message_id: str) -> list[Message]:
    """The alternatives of the shown message `message_id`, in order, itself included.

    Raises KeyError when the message is not shown.
    """
    link(conv)
    index = _index(conv, message_id)
    fork = _fork_at(conv, _parent_at(conv, index))
    if fork is None:
        return [conv.messages[index]]
    by_id = {m.id: m for m in all_messages(conv)}
    return [by_id[o] for o in fork.options if o in by_id]


def version(conv: Conversation, message_id: str) -> tuple[int, int]:
    """(k, n): the shown message `message_id` is version k of n (1 of 1 without alternatives)."""
    options = [m.id for m in alternatives(conv, message_id)]
    return options.index(message_id) + 1, len(options)


def versions(conv: Conversation) -> dict[str, tuple[int, int]]:
    """(k, n) for every shown message that has alternatives (n > 1). Does not change `conv`."""
    if not conv.forks:
        return {}
    out: dict[str, tuple[int, int]] = {}
    by_point = {f.after: f for f in conv.forks}
    for i, message in enumerate(conv.messages):
        fork = by_point.get(_parent_at(conv, i))
        if fork is None:
            continue
        options = fork.options if message.id in fork.options else [*fork.options, message.id]
        if len(options) > 1:
            out[message.id] = (options.index(message.id) + 1, len(options))
    return out


def other_versions(conv: Conversation) -> int:
    """How many alternatives are not shown (counted at every fork, shown branch or not)."""
    shown = {m.id for m in conv.messages}
    return sum(1 for f in conv.forks for o in f.options if o not in shown)


# --- changing ------------------------------------------------------------------------


def set_aside(conv: Conversation, start: int) -> list[Message]:
    """Make the shown messages from `start` on an earlier version of that point; return them.

    The shown branch then ends before `start`; the next message appended
    there becomes the newest alternative (see `link`).
    """
    link(conv)
    tail = conv.messages[start:]
    if not tail:
        return []
    after = _parent_at(conv, start)
    fork = _fork_at(conv, after)
    if fork is None:
        conv.forks.append(Fork(after=after, options=[tail[0].id], chosen=tail[0].id))
    else:
        fork.chosen = tail[0].id
    conv.aside.extend(tail)
    del conv.messages[start:]
    conv.touch()
    return tail


def add_alternatives(conv: Conversation, message_id: str, chains: Sequence[Sequence[Message]],
                     *, choose: int | None = None) -> None:
    """Hang new versions next to the shown message `message_id`.

    Each chain is one alternative: its first message becomes a sibling of
    `message_id` (same parent), the others follow it in order. They come after
    the existing alternatives, in the order given. `choose` is an index into
    `chains` to show instead of the message shown now (None: keep it shown).
    Raises KeyError when the message is not shown, ValueError for an empty chain.
    """
    link(conv)
    index = _index(conv, message_id)
    after = _parent_at(conv, index)
    fork = _fork_at(conv, after)
    if fork is None:
        fork = Fork(after=after, options=[message_id], chosen=message_id)
        conv.forks.append(fork)
    for chain in chains:
        if not chain:
            raise ValueError("an alternative needs at least one message")
        parent = after
        for message in chain:
            message.parent_id = parent
            parent = message.id
        conv.aside.extend(chain)
        fork.options.append(chain[0].id)
    conv.touch()
    if choose is not None:
        _show(conv, index, chains[choose][0].id)


def choose(conv: Conversation, message_id: str, k: int) -> Message:
    """Show version `k` (1-based) of the shown message `message_id` in its place.

    The branch below follows, fork by fork, the alternative shown there last.
    Returns the message now shown in that place. Raises KeyError when the
    message is not shown, IndexError when there is no version `k`.
    """
    options = alternatives(conv, message_id)
    if not 1 <= k <= len(options):
        raise IndexError(f"there is no version {k} (this message has {len(options)})")
    index = _index(conv, message_id)
    target = options[k - 1]
    if target.id != message_id:
        _show(conv, index, target.id)
        conv.touch()
    return conv.messages[index]


def _show(conv: Conversation, index: int, target_id: str) -> None:
    """Replace the shown messages from `index` on by the aside message `target_id` and the
    branch below it (at each fork its chosen alternative, else the newest child)."""
    after = _parent_at(conv, index)
    conv.aside.extend(conv.messages[index:])
    del conv.messages[index:]
    fork = _fork_at(conv, after)
    if fork is not None:
        fork.chosen = target_id
    by_id = {m.id: m for m in conv.aside}
    kids: dict[str | None, list[Message]] = {}
    for message in conv.aside:
        kids.setdefault(message.parent_id, []).append(message)
    forks = {f.after: f for f in conv.forks}
    moved: set[str] = set()
    current = by_id[target_id]
    while True:
        conv.messages.append(current)
        moved.add(current.id)
        children = [c for c in kids.get(current.id, []) if c.id not in moved]
        if not children:
            break
        below = forks.get(current.id)
        pick = next((c for c in children if below is not None and c.id == below.chosen), None)
        current = pick or max(children, key=lambda m: m.created_at)
    conv.aside = [m for m in conv.aside if m.id not in moved]
    link(conv)


def show_below(conv: Conversation, message_id: str) -> int:
    """Continue the shown branch, which ends at the parent of the aside message
    `message_id`, with that message and the branch below it; returns how many
    messages were added. Raises KeyError / ValueError when it is not such a message."""
    link(conv)
    target = next((m for m in conv.aside if m.id == message_id), None)
    if target is None:
        raise KeyError(f"message {message_id} is not in another branch")
    last = conv.messages[-1].id if conv.messages else None
    if target.parent_id != last:
        raise ValueError("that message does not follow the last shown one")
    before = len(conv.messages)
    _show(conv, before, message_id)
    conv.touch()
    return len(conv.messages) - before


def show_latest(conv: Conversation) -> None:
    """Show the branch that holds the newest message of the tree (used after a reload)."""
    link(conv)
    if not conv.aside:
        return
    by_id = {m.id: m for m in all_messages(conv)}
    newest = max(by_id.values(), key=lambda m: m.created_at)
    chain = [newest]
    while chain[-1].parent_id is not None and chain[-1].parent_id in by_id:
        chain.append(by_id[chain[-1].parent_id])
    chain.reverse()
    shown = [m.id for m in conv.messages]
    depth = next((i for i, m in enumerate(chain) if i >= len(shown) or shown[i] != m.id), None)
    if depth is None:
        return
    forks = {f.after: f for f in conv.forks}
    for message in chain[depth + 1:]:
        fork = forks.get(message.parent_id)
        if fork is not None:
            fork.chosen = message.id
    if depth < len(shown):
        _show(conv, depth, chain[depth].id)


def remove(conv: Conversation, start: int, end: int) -> list[Message]:
    """Delete the shown messages `start:end` (they move to `removed`); return them.

    What hung below them (the next shown message, alternatives further down)
    moves up to their parent; where that gives the parent several children,
    they become its alternatives. When the deleted messages ended the shown
    branch and had other versions, the next version (else the previous one) is
    shown in their place.
    """
    link(conv)
    gone = conv.messages[start:end]
    if not gone:
        return []
    after = _parent_at(conv, start)
    gone_ids = {m.id for m in gone}
    kids = _children(conv)
    forks = {f.after: f for f in conv.forks}

    def ordered_children(message_id: str) -> list[str]:
        children = [m.id for m in kids.get(message_id, [])]
        fork = forks.get(message_id)
        if fork is None:
            return children
        return [o for o in fork.options if o in children] + [c for c in children if c not in fork.options]

    def expand(message_id: str) -> list[str]:
        if message_id not in gone_ids:
            return [message_id]
        return [x for child in ordered_children(message_id) for x in expand(child)]

    point = forks.get(after)
    before = point.options if point is not None else [gone[0].id]
    place = before.index(gone[0].id) if gone[0].id in before else len(before)
    options = list(dict.fromkeys(x for o in before for x in expand(o)))
    for message in conv.aside:
        if message.parent_id in gone_ids:
            message.parent_id = after
    conv.forks = [f for f in conv.forks if f.after not in gone_ids and f.after != after]
    del conv.messages[start:end]
    if len(options) > 1 or (point is not None and options):
        previous = point.chosen if point is not None else None
        chosen = previous if previous in options else options[-1]
        conv.forks.append(Fork(after=after, options=options, chosen=chosen))
    conv.removed.extend(gone)
    conv.touch()
    link(conv)
    if start == len(conv.messages) and options:
        # The shown version was deleted and nothing followed it: show its neighbour.
        _show(conv, start, options[min(place, len(options) - 1)])
    return gone


# --- forking into a new conversation ----------------------------------------------------------


def valid_cut(conv: Conversation, count: int) -> bool:
    """Whether keeping the first `count` shown messages cuts between turns, not inside a
    tool round (between a reply's tool calls and their results)."""
    if not 0 <= count <= len(conv.messages):
        return False
    return count == len(conv.messages) or conv.messages[count].role != "tool"


def cut_after(conv: Conversation, message_id: str) -> int:
    """How many shown messages a fork "from this message" keeps: up to it, and the
    results of its tool calls when it is a reply that called tools."""
    count = _index(conv, message_id) + 1
    while count < len(conv.messages) and conv.messages[count].role == "tool":
        count += 1
    return count


def fork_at(conv: Conversation, count: int) -> Conversation:
    """A new conversation (new id, the title marked "(fork)") holding copies of the first
    `count` shown messages, with this one's settings and an `origin` saying where it came from.

    Raises ValueError for a count out of range or one that cuts inside a tool round
    (the message says which counts would do).
    """
    total = len(conv.messages)
    if not 1 <= count <= total:
        raise ValueError(f"can't keep {count} messages: the conversation shows {total} "
                         f"(give a number from 1 to {total})" if total else
                         "the conversation has no messages to fork")
    if not valid_cut(conv, count):
        lower = next(n for n in range(count, 0, -1) if valid_cut(conv, n))
        upper = next(n for n in range(count, total + 1) if valid_cut(conv, n))
        raise ValueError(f"keeping {count} messages would cut a reply off from its tool results: "
                         f"keep {lower} or {upper}")
    kept = [m.model_copy(deep=True) for m in conv.messages[:count]]
    now = time.time()
    title = f"{conv.title} (fork)" if conv.title.strip() else ""
    fork = conv.model_copy(update={
        "id": new_id(), "title": title, "messages": kept, "aside": [], "forks": [], "removed": [],
        "params": conv.params.model_copy(deep=True), "created_at": now, "updated_at": now,
        "origin": Origin(session_id=conv.id, message_id=kept[-1].id, messages=count,
                         title=conv.title, created_at=now),
    })
    fork._disk = None
    link(fork)
    return fork
