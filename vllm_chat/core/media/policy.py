"""Leaving media out of a conversation's requests after vLLM refused them.

vLLM reads the whole history on every request, so media a text-only model
refused ("<model> is not a multimodal model"), or one image too many for
`--limit-mm-per-prompt`, would be refused again on every later turn, retry,
edit and continue. When the user accepts the offer to leave media out, the
choice becomes a `MediaPolicy` for that conversation and model, and every
later request is built with it until either changes.

`offer_for` turns the server's refusal into the offer to make: no media at
all, or the newest N of the kind the server limits (N = the server's limit,
and for images at most `attachments.recent_images`). When the policy in use
already leaves out what the server asks for, there is nothing better to
offer, and `offer_for` says so (`still_refused`) instead of asking again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_chat.core.conversation import Conversation
from vllm_chat.core.errors import ChatError
from vllm_chat.core.media.requests import (
    build_request_messages,
    parse_media_limit_error,
)

KINDS = ("image", "video", "audio")
"""The media kinds vLLM limits per prompt (`--limit-mm-per-prompt`)."""

_PLURAL = {"image": "images", "video": "videos", "audio": "audio clips"}
_SINGULAR = {"image": "image", "video": "video", "audio": "audio clip"}


@dataclass(frozen=True)
class MediaPolicy:
    """Which media the requests of one conversation leave out, while one model is in use."""

    conversation_id: str
    """The conversation the user accepted the offer in."""
    model: str
    """The model that refused the media; another model gets every attachment again."""
    drop_all: bool = False
    """Send no media at all (each becomes `[image omitted: name]`), for text-only models."""
    keep_recent: Mapping[str, int] = field(default_factory=dict)
    """Per kind, how many of the newest items to send (older ones become a note);
    kinds not named are all sent."""

    def applies_to(self, conv: Conversation) -> bool:
        """Whether requests for `conv` as it stands now follow this policy."""
        return conv.id == self.conversation_id and conv.model == self.model

    def request_messages(self, conv: Conversation, *, media_root: Path | None = None) -> list[dict[str, Any]]:
        """The request `messages` for `conv` with the media this policy leaves out replaced by notes."""
        if self.drop_all:
            return build_request_messages(conv, drop_media=True, media_root=media_root)
        return build_request_messages(conv, max_recent=self.keep_recent, media_root=media_root)

    @property
    def hint(self) -> str:
        """A few words for the status line, e.g. `older images left out`."""
        if self.drop_all:
            return "attachments left out"
        older = [_PLURAL[k] for k, n in self.keep_recent.items() if n > 0]
        none = [_PLURAL[k] for k, n in self.keep_recent.items() if n == 0]
        parts = []
        if older:
            parts.append("older " + _and(older))
        if none:
            parts.append(_and(none))
        return " and ".join(parts) + " left out"

    @property
    def notice(self) -> str:
        """What the user is told once the policy is in force (and when it ends)."""
        until = (f"while {self.model} is in use in this conversation; switching the model or the "
                 "conversation sends them all again.")
        if self.drop_all:
            return f"Attachments are left out of every request (each replaced by a note) {until}"
        kept = [_count(n, k) if n else f"no {_PLURAL[k]}" for k, n in self.keep_recent.items()]
        return (f"Requests carry only the newest {_and(kept)}; older ones are replaced by a note, "
                f"{until}")


@dataclass(frozen=True)
class MediaOffer:
    """The question to ask after the server refused media, and the policy a yes puts in force."""

    question: str
    """What is asked, ending with a question mark."""
    accept: str
    """The label of the yes button."""
    detail: str
    """What a yes does."""
    policy: MediaPolicy
    """The policy for this and every later request while the model and conversation stay."""


def media_limit(error: ChatError) -> tuple[str, int] | None:
    """`(kind, limit)` of a too-many-media refusal, from its details, else from the server's words.

    The kind is one of `KINDS`; None when the refusal says neither.
    """
    limit, modality = error.details.get("limit"), error.details.get("modality")
    if isinstance(limit, int) and isinstance(modality, str):
        kind = _kind(modality)
        return (kind, limit) if kind else None
    message = error.details.get("server_message")
    parsed = parse_media_limit_error(message) if isinstance(message, str) else None
    if parsed is None:
        return None
    kind = _kind(parsed[0])
    return (kind, parsed[1]) if kind else None


def offer_for(
    error: ChatError, conv: Conversation, current: MediaPolicy | None, recent_images: int
) -> MediaOffer | None:
    """The offer to make after `error` (not_multimodal or too_many_media), or None.

    None means leaving out more can't help: the policy in use (`current`)
    already leaves out everything this refusal asks for, so the request was
    refused with the offer applied. Then say `still_refused(error)` instead of
    asking again. `recent_images` is the `attachments.recent_images` setting,
    the most images ever offered; it is also the guess when the refusal's
    details say neither kind nor limit.
    """
    if current is not None and not current.applies_to(conv):
        current = None
    model = conv.model or "this model"
    if error.kind == "not_multimodal":
        if current is not None and current.drop_all:
            return None
        return MediaOffer(
            f"{error.message} Send without the attachments?",
            "Send without",
            f"Each attachment is replaced by a note naming it, in this and later requests while "
            f"{model} is in use; the files stay in the conversation.",
            MediaPolicy(conv.id, conv.model, drop_all=True),
        )
    if error.kind != "too_many_media" or (current is not None and current.drop_all):
        return None
    # Without the server's numbers, the setting is all we know (and a retry that
    # fails again ends here with None, so this never loops).
    kind, server_limit = media_limit(error) or ("image", recent_images)
    keep = max(0, min(server_limit, recent_images) if kind == "image" else server_limit)
    kept = dict(current.keep_recent) if current is not None else {}
    if kind in kept and kept[kind] <= keep:
        return None
    kept[kind] = keep
    policy = MediaPolicy(conv.id, conv.model, keep_recent=kept)
    later = f"in this and later requests while {model} is in use"
    if keep == 0:
        return MediaOffer(
            f"{error.message} Send without the {_PLURAL[kind]}?",
            "Send without",
            f"Each {_SINGULAR[kind]} is replaced by a note naming it, {later}; "
            "the files stay in the conversation.",
            policy,
        )
    noun = _SINGULAR[kind] if keep == 1 else _PLURAL[kind]
    setting = " (attachments.recent_images caps how many images)" if kind == "image" else ""
    return MediaOffer(
        f"{error.message} Send only the {keep} most recent {noun}?",
        f"Send {keep} recent",
        f"Older {_PLURAL[kind]} are replaced by a note naming them, {later}{setting}.",
        policy,
    )


def still_refused(error: ChatError) -> str:
    """What to say when the server refuses media even with them left out: no offer, a way out."""
    if error.kind == "not_multimodal":
        return (f"The server still refuses the request with every attachment left out: {error.message} "
                "Switch to a vision model ({pick-model}), or start a new conversation ({new-conversation}).")
    return (f"Leaving out older media did not help; the server still refuses: {error.message} "
            "Remove attachments by editing earlier messages, start a new conversation ({new-conversation}), "
            "or restart vLLM with a higher --limit-mm-per-prompt.")


def _kind(modality: str) -> str | None:
    modality = modality.strip().lower()
    if modality in KINDS:
        return modality
    if modality.endswith("s") and modality[:-1] in KINDS:
        return modality[:-1]
    return None


def _count(n: int, kind: str) -> str:
    return f"{n} {_SINGULAR[kind] if n == 1 else _PLURAL[kind]}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
