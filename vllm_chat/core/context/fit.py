"""Whether the next request fits the context window, and the ways to make it fit.

`ChatSession.check_send` measures the request a draft would make and returns
a `SendCheck`: the prompt size, the window, the least room a reply needs, and
when it does not fit, the `Offer`s (compact, leave out the oldest turns,
leave out attachments or tools, send anyway), each with its numbers. The
words are here so the TUI and one-shot mode say the same thing; steps are
named as `{binding-id}` (see `core.errors.render_hint`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vllm_chat.core import format as fmt

OfferKind = Literal["compact", "drop", "attachments", "tools", "send"]
"""A way to make room: summarise older turns, leave out the oldest turns, leave out the
attachments, leave out the tool schemas, or send as it is."""


@dataclass(frozen=True)
class Offer:
    """One way to make a request fit."""

    kind: OfferKind
    """What it does (see `OfferKind`)."""
    text: str
    """What it does, with its numbers, in one line."""
    fits: bool | None = None
    """Whether the request fits afterwards (None: can't be told before doing it)."""
    turns: int = 0
    """For `drop`: how many of the oldest turns go; for `compact`: how many recent turns stay."""
    messages: int = 0
    """For `drop` and `compact`: how many messages go (into the session file's record)."""
    saves: int = 0
    """For `attachments` and `tools`: how many tokens fewer the request takes without them."""


@dataclass(frozen=True)
class SendCheck:
    """The next request measured against the context window."""

    prompt_tokens: int
    """The prompt the request would send (the server's count when `exact`)."""
    exact: bool
    """Whether `prompt_tokens` is the server's own count."""
    max_model_len: int | None
    """The context window (None: unknown, so nothing can be checked)."""
    min_reply: int
    """The least room a reply needs (`context.min_reply_tokens`, or a smaller max_tokens)."""
    offers: tuple[Offer, ...] = field(default_factory=tuple)
    """When it does not fit: the ways to make room, best first (`send` always last)."""
    auto_compact: bool = False
    """The prompt passes `context.auto_compact_at`: compact before sending."""

    @property
    def over_by(self) -> int:
        """Tokens by which prompt + the least reply exceed the window (<= 0: it fits)."""
        if self.max_model_len is None:
            return 0
        return self.prompt_tokens + self.min_reply - self.max_model_len

    @property
    def fits(self) -> bool:
        """Whether the request can be sent with room for a reply (unknown windows fit)."""
        return self.over_by <= 0

    def offer(self, kind: OfferKind) -> Offer | None:
        """The offer of this kind, if it is made."""
        return next((o for o in self.offers if o.kind == kind), None)

    def explanation(self) -> str:
        """Why the request is not sent, in one or two sentences."""
        about = "" if self.exact else "about "
        window = self.max_model_len or 0
        over = self.prompt_tokens - window
        if over >= 0:
            how = f"the prompt alone is {about}{over:,} tokens over the window" if over else \
                "the prompt alone fills the window"
        else:
            how = f"that leaves {about}{-over:,} tokens for the reply, which needs at least {self.min_reply:,}"
        return (f"This would not fit: the prompt takes {about}{self.prompt_tokens:,} of the model's "
                f"{window:,}-token context window (max_model_len), and {how}.")


def compact_offer(messages: int, kept_turns: int, fits: bool | None) -> Offer:
    """The offer to summarise `messages` older messages, keeping `kept_turns` turns."""
    kept = f"keep the last {kept_turns} turn{'s' if kept_turns != 1 else ''} as they are" if kept_turns \
        else "keep nothing else"
    maybe = "" if fits is not False else " (may not be enough: the recent turns alone are long)"
    return Offer("compact", f"Compact: summarise the {messages} older messages into one and {kept}{maybe}",
                 fits, messages=messages)


def drop_offer(turns: int, messages: int, spare: int) -> Offer:
    """The offer to leave out the `turns` oldest turns (`messages` messages)."""
    return Offer("drop", f"Leave out the {turns} oldest turn{'s' if turns != 1 else ''} ({messages} "
                 f"message{'s' if messages != 1 else ''}; the system prompt stays): "
                 f"{fmt.count(spare)} tokens to spare", True, turns=turns, messages=messages)


def attachments_offer(draft: int, earlier: int, saves: int, fits: bool | None) -> Offer:
    """The offer to leave out `draft` attachments of the message and `earlier` older ones."""
    parts = []
    if draft:
        parts.append(f"the {draft} attached to this message")
    if earlier:
        parts.append(f"the {earlier} earlier in the conversation")
    return Offer("attachments", f"Leave out the attachments ({' and '.join(parts)}): about "
                 f"{fmt.count(saves)} tokens fewer", fits, saves=saves)


def tools_offer(saves: int, fits: bool | None) -> Offer:
    """The offer to send without tools, whose schemas take `saves` tokens."""
    return Offer("tools", f"Switch tools off for this conversation: their schemas take {fmt.count(saves)} "
                 "tokens ({toggle-tools} switches them back on)", fits, saves=saves)


def send_offer(check_exact: bool) -> Offer:
    """The offer to send as it is."""
    why = "the server refuses a prompt over the window, or the reply is cut short" if check_exact else \
        "the count is an estimate, so the server may still take it"
    return Offer("send", f"Send anyway ({why})", None)


def tools_notice(tool_tokens: int, window: int) -> str:
    """What to say once when tool schemas take a large share of the window."""
    share = round(100 * tool_tokens / window)
    return (f"The tool schemas take {tool_tokens:,} of the {window:,}-token context window ({share}%). "
            "{toggle-tools} switches tools off for this conversation.")
