"""Media in a chat request: content parts, keeping only recent media, and server errors.

`content_part` turns one stored attachment into the part vLLM expects
(`image_url`, `video_url` or vLLM's `audio_url`). `build_request_messages`
is `Conversation.to_openai` with two vLLM-shaped escape hatches: send only
the most recent N items of a kind (after "At most 4 image(s) may be
provided in one prompt"), or no media at all (after "<model> is not a
multimodal model"). Left-out media become short text notes, so the model
still knows something was there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vllm_chat.core.conversation import Attachment, Conversation
from vllm_chat.core.media.errors import AttachmentError
from vllm_chat.core.media.sniff import EXTENSION_FOR_MIME, sniff_mime
from vllm_chat.core.media.store import media_root as resolve_media_root
from vllm_chat.core.media.store import read_stored, stored_data_url

PART_TYPE = {"image": "image_url", "video": "video_url", "audio": "audio_url"}
"""The content-part type vLLM reads for each attachment kind."""

_KIND_OF_PART = {
    "image_url": "image",
    "input_image": "image",
    "image_embeds": "image",
    "video_url": "video",
    "video_embeds": "video",
    "audio_url": "audio",
    "input_audio": "audio",
    "audio_embeds": "audio",
}
_MIME_FOR_EXTENSION = {ext: mime for mime, ext in EXTENSION_FOR_MIME.items()}


def content_part(att: Attachment, *, media_root: Path | None = None) -> dict[str, Any]:
    """The request content part for one attachment, from its URL or its stored file.

    A stored file becomes a `data:` URL (cached, see `store.DataUrlCache`); a
    URL is passed through unchanged. Raises `AttachmentError` if the stored
    file is gone.
    """
    if att.url:
        url = att.url
    elif att.ref:
        root = resolve_media_root(media_root)
        mime = att.mime or _mime_of_stored(att.ref, att, root)
        url = stored_data_url(att.ref, root, mime, att.kind, att.name)
    else:
        raise AttachmentError(
            f"The {att.kind} {att.name} has neither a stored file nor a URL, so it can't be sent. "
            "Remove it and attach the file again."
        )
    part_type = PART_TYPE[att.kind]
    return {"type": part_type, part_type: {"url": url}}


def _mime_of_stored(ref: str, att: Attachment, root: Path) -> str:
    """For refs saved without a MIME type: sniff the file, else trust its extension."""
    sniffed = sniff_mime(read_stored(ref, root, att.kind, att.name))
    ext = ref.rsplit(".", 1)[-1]
    return sniffed or _MIME_FOR_EXTENSION.get(ext, "application/octet-stream")


def build_request_messages(
    conv: Conversation,
    *,
    max_recent_images: int | None = None,
    max_recent: Mapping[str, int] | None = None,
    drop_media: bool = False,
    media_root: Path | None = None,
) -> list[dict[str, Any]]:
    """The request `messages` for `conv`, with its media sent, limited or left out.

    - `max_recent_images`: send only the N most recent images (the
      `attachments.recent_images` setting); older ones become
      `[earlier image not sent: cat.png]`.
    - `max_recent`: the same for any kind, e.g. `{"video": 1}` after the
      server said "At most 1 video(s)..."; it overrides `max_recent_images`
      for images. Kinds not limited are all sent.
    - `drop_media`: send no media at all; each becomes `[image omitted: cat.png]`
      (for text-only models).

    A message left with only text is sent as one string, which every chat
    template accepts. Media that are not sent are not read from disk.
    """
    limits: dict[str, int] = {}
    if max_recent_images is not None:
        limits["image"] = max_recent_images
    limits.update(max_recent or {})
    sent = set() if drop_media else _recent(conv, limits)

    def part_for(att: Attachment) -> dict[str, Any]:
        if id(att) in sent:
            return content_part(att, media_root=media_root)
        note = f"[{att.kind} omitted: {att.name}]" if drop_media else (
            f"[earlier {att.kind} not sent: {att.name}]"
        )
        return {"type": "text", "text": note}

    messages = conv.to_openai(part_for)
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and all(p.get("type") == "text" for p in content):
            message["content"] = "\n".join(p["text"] for p in content)
    return messages


def _recent(conv: Conversation, max_recent: Mapping[str, int]) -> set[int]:
    """Ids of the attachments to send: per kind, the newest `max_recent[kind]`."""
    left = dict(max_recent)
    keep: set[int] = set()
    for message in reversed(conv.messages):
        for att in reversed(message.attachments):
            limit = left.get(att.kind)
            if limit is None:
                keep.add(id(att))
            elif limit > 0:
                keep.add(id(att))
                left[att.kind] = limit - 1
    return keep


def count_media(messages: list[dict[str, Any]]) -> dict[str, int]:
    """How many image, video and audio parts request `messages` carry (all three keys present)."""
    counts = {"image": 0, "video": 0, "audio": 0}
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            kind = _KIND_OF_PART.get(part.get("type", "")) if isinstance(part, dict) else None
            if kind is not None:
                counts[kind] += 1
    return counts


_NOT_MULTIMODAL = re.compile(r"\bis not a multimodal model\b", re.IGNORECASE)
# vLLM 0.33 and its predecessors word the per-prompt limit differently.
_LIMIT_PATTERNS = (
    re.compile(
        r"At most (?P<limit>\d+) (?P<kind>\w+)\(s\) may be provided in one (?:prompt|request)",
        re.IGNORECASE,
    ),
    re.compile(
        r"You set (?P<kind>\w+)=(?P<limit>\d+) \(or defaulted to \d+\) in `--limit-mm-per-prompt`",
        re.IGNORECASE,
    ),
)
_LIMIT_JSON = re.compile(
    r"You set or defaulted to '(?P<json>\{[^']*\})' in `--limit-mm-per-prompt`, "
    r"but passed \d+ (?P<kind>\w+) items",
    re.IGNORECASE,
)


def is_not_multimodal_error(message: str) -> bool:
    """True for vLLM's `<model> is not a multimodal model` (media sent to a text-only model)."""
    return bool(_NOT_MULTIMODAL.search(message or ""))


def parse_media_limit_error(message: str) -> tuple[str, int] | None:
    """`(kind, limit)` from vLLM's too-many-media error, e.g. `("image", 4)`, else None.

    Knows 0.33's `At most 4 image(s) may be provided in one prompt.`, the
    earlier `... in one request.`, and the `You set image=1 ...` wordings.
    A limit of 0 means the server takes no media of that kind at all.
    """
    message = message or ""
    for pattern in _LIMIT_PATTERNS:
        match = pattern.search(message)
        if match:
            return match.group("kind").lower(), int(match.group("limit"))
    match = _LIMIT_JSON.search(message)
    if match:
        kind = match.group("kind").lower()
        try:
            limit = json.loads(match.group("json")).get(kind)
        except (ValueError, AttributeError):
            return None
        if isinstance(limit, int):
            return kind, limit
    return None
