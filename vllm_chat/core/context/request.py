"""What the next request carries, in the forms counting needs.

The context meter counts exactly the chat request the engine would send now
(`Engine.request_for`, on the conversation with the draft appended as the next
user message): this module only turns that request into a `/tokenize` body,
measures it for estimates, and finds the turns of a conversation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from vllm_chat.core.conversation import Attachment, Conversation, Message

CHARS_PER_TOKEN = 4.0
"""Characters per token assumed before the server has counted anything (English prose
with most tokenizers; the first exact count replaces it)."""

_MEDIA_TOKENS = {"video": 4096, "audio": 750}
"""Rough tokens of a video or audio clip for estimates (vLLM counts them only when it
processes the request; the real figure depends on the model's processor)."""
_IMAGE_PATCH = 28
"""Pixels per side of one image token for estimates (Qwen2-VL style 14-pixel patches
merged 2x2); an image of unknown size is taken as 1024x1024."""


def draft_message(text: str, attachments: list[Attachment] | None = None) -> Message | None:
    """The user message the draft would become (None for an empty draft)."""
    if not text and not attachments:
        return None
    return Message(role="user", content=text, attachments=list(attachments or []))


def with_messages(conv: Conversation, messages: list[Message]) -> Conversation:
    """`conv` with other messages (a shallow copy: same id, model, system prompt and
    settings, so requests built from it are built as the conversation's own)."""
    return conv.model_copy(update={"messages": messages})


def with_draft(conv: Conversation, draft: Message | None) -> Conversation:
    """`conv` as it would stand once `draft` is sent (itself when there is no draft).
    An empty conversation with no draft gets an empty prompt, so what its first request
    takes before anything is typed (system prompt, tool schemas, template) is measured."""
    if draft is None:
        draft = None if conv.messages else Message(role="user", content="")
    return conv if draft is None else with_messages(conv, [*conv.messages, draft])


def tokenize_body(request: dict[str, Any]) -> dict[str, Any]:
    """The `/tokenize` request that counts the chat request `request` (the keyword
    arguments of `chat.completions.create`): same model, messages, tools and
    template switches; sampling options don't change the prompt and are left out. A
    completion request (completion mode: a `prompt`, no messages) is counted in
    `/tokenize`'s prompt form."""
    if "messages" not in request:
        return {"model": request["model"], "prompt": request.get("prompt") or ""}
    body: dict[str, Any] = {"model": request["model"], "messages": request["messages"]}
    if request.get("tools"):
        body["tools"] = request["tools"]
    extra = request.get("extra_body") or {}
    if extra.get("chat_template_kwargs"):
        body["chat_template_kwargs"] = extra["chat_template_kwargs"]
    if extra.get("continue_final_message"):
        body["continue_final_message"] = True
        body["add_generation_prompt"] = False
    return body


@dataclass(frozen=True)
class Measured:
    """A `/tokenize` body, encoded once, with its fingerprint and size."""

    payload: bytes
    """The `/tokenize` chat request as JSON, as it is sent."""
    key: str
    """A fingerprint of the payload: equal requests count the same."""
    chars: int
    """Its size in characters, media URLs left out (for estimates)."""
    media_tokens: int = 0
    """A rough figure for the media it carries (for estimates)."""
    empty: bool = False
    """The request has no messages (nothing to count: templates refuse it)."""


class Prefix:
    """A `/tokenize` body up to the end of its messages, encoded once, so bodies that only
    add a last message (the draft, typed key by key) cost only that message to encode
    and fingerprint. `measure(body)` and `Prefix(...).measure(last)` give the same bytes
    for the same request, so their counts are shared."""

    def __init__(self, body: dict[str, Any]) -> None:
        head = {k: v for k, v in body.items() if k != "messages"}
        messages = body["messages"]
        opening = _dumps(head)[:-1] + ("," if head else "") + '"messages":['
        self.data = (opening + ",".join(_dumps(m) for m in messages)).encode()
        """The encoded body so far."""
        self.count = len(messages)
        """How many messages it holds."""
        self.chars = len(self.data) - sum(_media_chars(m) for m in messages)
        self._hash = hashlib.blake2b(self.data, digest_size=16)

    def measure(self, last: dict[str, Any] | None = None, media_tokens: int = 0) -> Measured:
        """The whole body: these messages, then `last` (if any)."""
        tail = ("," if self.count else "") + _dumps(last) if last is not None else ""
        end = (tail + "]}").encode()
        digest = self._hash.copy()
        digest.update(end)
        chars = self.chars + len(end) - (_media_chars(last) if last is not None else 0)
        return Measured(self.data + end, digest.hexdigest(), chars, media_tokens,
                        empty=self.count == 0 and last is None)


def measure(request: dict[str, Any], media: list[Attachment] | None = None) -> Measured:
    """The `/tokenize` body of the chat request `request`, encoded and measured (`media`:
    the attachments it carries, for estimates). A completion request (completion mode)
    is counted by its prompt, as `/tokenize` takes it."""
    if "prompt" in request and "messages" not in request:
        prompt = str(request["prompt"])
        data = _dumps({"model": request["model"], "prompt": prompt}).encode()
        return Measured(data, hashlib.blake2b(data, digest_size=16).hexdigest(), len(prompt), empty=not prompt)
    body = tokenize_body(request)
    if "prompt" in body:
        data = _dumps(body).encode()
        return Measured(data, hashlib.blake2b(data, digest_size=16).hexdigest(), len(body["prompt"]),
                        empty=not body["prompt"])
    messages = body["messages"]
    prefix = Prefix({**body, "messages": messages[:-1]})
    return prefix.measure(messages[-1] if messages else None, attachment_tokens(media or []))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _media_chars(message: dict[str, Any]) -> int:
    """Characters of the media URLs in a message (a base64 image says nothing about its tokens)."""
    content = message.get("content")
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        inner = part.get(part.get("type", "")) if isinstance(part, dict) else None
        if isinstance(inner, dict) and str(part.get("type", "")).endswith("_url"):
            total += len(_dumps(inner.get("url", ""))) - 2
    return total


def media_of(conv: Conversation) -> list[Attachment]:
    """Every attachment the conversation's messages carry (for estimates)."""
    return [att for m in conv.messages for att in m.attachments]


def attachment_tokens(attachments: list[Attachment]) -> int:
    """A rough token figure for media, for estimates only."""
    total = 0
    for att in attachments:
        if att.kind == "image":
            width, height = att.width or 1024, att.height or 1024
            total += max(4, -(-width // _IMAGE_PATCH) * -(-height // _IMAGE_PATCH))
        else:
            total += _MEDIA_TOKENS.get(att.kind, 1024)
    return total


def turn_starts(messages: list[Message]) -> list[int]:
    """Where each turn begins: the index of every user message (a compaction's summary or
    mark counts as one), oldest first."""
    return [i for i, m in enumerate(messages) if m.role == "user"]
