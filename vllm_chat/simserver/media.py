"""Content parts of chat messages: text, and the images, audio and video a request carries.

`inspect_messages` walks every message's parts in order, raising vLLM's errors
(unknown part type, media for a text-only model, non-base64 `data:` URLs, too
many images) and returns the text of each message plus the media it found.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from vllm_chat.simserver.errors import SimError, bad_request, plain_bad_request

TEXT_PARTS = {
    "text": "text",
    "input_text": "text",
    "output_text": "text",
    "refusal": "refusal",
    "thinking": "thinking",
    "tool_reference": "name",
}
MEDIA_PARTS = {
    "image_url": "image",
    "input_image": "image",
    "image_pil": "image",
    "image_embeds": "image",
    "audio_url": "audio",
    "input_audio": "audio",
    "audio_embeds": "audio",
    "video_url": "video",
    "video_embeds": "video",
    "prompt_embeds": "image",
}
SUPPORTED_TYPES = ", ".join(sorted({*TEXT_PARTS, *MEDIA_PARTS}))
PLACEHOLDER_TOKENS = {"image": 64, "audio": 32, "video": 128}
"""Prompt tokens one media item expands to (real models use hundreds for an image)."""


@dataclass(frozen=True)
class MediaItem:
    """One attachment as the simulated model perceives it."""

    kind: str
    """`image`, `audio` or `video`."""
    mime: str | None
    """MIME type of a `data:` URL (or `audio/<format>` for `input_audio`); None for remote URLs."""
    size: int | None
    """Decoded size in bytes of inline data; None for remote URLs."""
    url: str | None
    """The remote URL, when the item was not sent inline."""


def message_text(content: Any) -> str:
    """The plain text of a message's `content` (a string, a list of parts, or None)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            key = TEXT_PARTS.get(part.get("type", ""))
            if key and isinstance(part.get(key), str):
                texts.append(part[key])
    return "\n".join(texts)


def inspect_messages(
    messages: list[dict[str, Any]], model: str, multimodal: bool, limit_images: int | None
) -> list[list[MediaItem]]:
    """Check every content part and return the media of each message (same order as `messages`)."""
    per_message: list[list[MediaItem]] = []
    images = 0
    for message in messages:
        items: list[MediaItem] = []
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                item = _inspect_part(part, model, multimodal)
                if item is None:
                    continue
                if item.kind == "image":
                    images += 1
                    if limit_images is not None and images > limit_images:
                        raise bad_request(
                            f"At most {limit_images} image(s) may be provided in one prompt. "
                            "Set `--limit-mm-per-prompt` to increase this limit.",
                            "image",
                        )
                items.append(item)
        per_message.append(items)
    return per_message


def _inspect_part(part: Any, model: str, multimodal: bool) -> MediaItem | None:
    if isinstance(part, str):
        return None
    if not isinstance(part, dict):
        raise plain_bad_request(f"Invalid content part: expected an object, got {type(part).__name__}.")
    ptype = part.get("type")
    if ptype in TEXT_PARTS:
        return None
    kind = MEDIA_PARTS.get(ptype) if isinstance(ptype, str) else None
    if kind is None:
        raise bad_request(
            f"Unsupported chat content part type: {ptype!r}. Supported types: {SUPPORTED_TYPES}.", "type", ptype
        )
    if not multimodal:
        raise plain_bad_request(f"{model} is not a multimodal model")
    if ptype.endswith("_embeds") or ptype == "image_pil":
        flag = "--enable-prompt-embeds" if ptype == "prompt_embeds" else "--enable-mm-embeds"
        raise plain_bad_request(f"You must set `{flag}` to input `{ptype}`")
    if ptype == "input_audio":
        audio = part.get("input_audio") or {}
        fmt = str(audio.get("format") or "wav")
        return _inline(kind, f"audio/{fmt}", str(audio.get("data") or ""), ptype)
    raw = part.get(ptype)
    url = raw.get("url") if isinstance(raw, dict) else raw
    if not isinstance(url, str) or not url:
        raise bad_request(f"Missing URL in `{ptype}` content part.", ptype)
    if url.startswith("data:"):
        header, sep, payload = url[5:].partition(",")
        if not sep or not header.endswith(";base64"):
            raise SimError(501, "Only base64 data URLs are supported for now.", "NotImplementedError", None)
        return _inline(kind, header[: -len(";base64")] or "application/octet-stream", payload, ptype)
    return MediaItem(kind, None, None, url)


def _inline(kind: str, mime: str, data: str, ptype: str) -> MediaItem:
    try:
        size = len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise bad_request(f"Invalid base64 data in `{ptype}` content part: {exc}", ptype) from None
    return MediaItem(kind, mime, size, None)
