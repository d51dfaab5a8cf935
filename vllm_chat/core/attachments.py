"""Attachments: a file or URL becomes an `Attachment` kept by reference, and a content part.

The public face of `vllm_chat.core.media`. In short:

- `prepare_attachment(source, settings)`: a local path (quotes, `~`,
  backslash escapes and `file://` URLs of this computer accepted) or an
  http(s) / base64 `data:` URL → a checked `Attachment`. Local files and the
  content of `data:` URLs are sniffed by content, never by name or declared
  type; images are turned upright and downscaled to `max_image_side`; the
  result is stored once in the media folder under its SHA-256 (`ref`), so a
  session never carries base64. http(s) URLs are kept unchanged (`url`).
- `content_part(att)` / `build_request_messages(conv, ...)`: the request side,
  including "only the N most recent images" and "no media at all".
- `MediaPolicy` / `offer_for(error, ...)`: what a conversation's later
  requests leave out once the user accepted sending without (some) media.
- `describe(att)` and `load_image(att)`: the chip text and the thumbnail.
- `is_not_multimodal_error` / `parse_media_limit_error`: vLLM's answers to
  media it won't take.

Every bad input raises `AttachmentError` with a message that says what is
wrong and what to do; nothing is stored or sent in that case. Pillow is
imported only when an image is actually processed.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vllm_chat.core.config import AttachmentSettings
from vllm_chat.core.conversation import Attachment, AttachmentKind
from vllm_chat.core.media.errors import AttachmentError
from vllm_chat.core.media.images import prepare_image, upright_image
from vllm_chat.core.media.policy import (
    MediaOffer,
    MediaPolicy,
    offer_for,
    still_refused,
)
from vllm_chat.core.media.requests import (
    build_request_messages,
    content_part,
    count_media,
    is_not_multimodal_error,
    parse_media_limit_error,
)
from vllm_chat.core.media.sniff import (
    EXTENSION_FOR_MIME,
    SNIFF_BYTES,
    kind_of_mime,
    sniff_mime,
)
from vllm_chat.core.media.sources import (
    MB,
    human_size,
    media_mime,
    parse_data_url,
    parse_source,
    read_local,
    url_kind,
    url_name,
)
from vllm_chat.core.media.store import media_root as resolve_media_root
from vllm_chat.core.media.store import read_stored, store

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "AttachmentError",
    "MediaOffer",
    "MediaPolicy",
    "PreparedAttachment",
    "build_request_messages",
    "content_part",
    "count_media",
    "describe",
    "human_size",
    "is_not_multimodal_error",
    "load_image",
    "looks_like_attachment",
    "offer_for",
    "parse_media_limit_error",
    "prepare_attachment",
    "sniff_mime",
    "still_refused",
]

_MAX_PASTED_PATH = 4096
_MEDIA_DATA_URL = re.compile(r"data:(image|video|audio)/[\w.+-]+(;[^,;]*)*;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class PreparedAttachment:
    """An attachment ready to go into a message, and where its content was stored."""

    attachment: Attachment
    """The model for `Message.attachments`: kind, name, mime, size, pixels, and ref or url."""
    path: Path | None
    """The stored file in the media folder; None for URLs."""


def prepare_attachment(
    source: str | Path,
    settings: AttachmentSettings,
    *,
    media_root: Path | None = None,
    base_dir: Path | None = None,
    kind: AttachmentKind | None = None,
) -> PreparedAttachment:
    """Check and store one attachment, or raise `AttachmentError` saying what to do.

    `source` is a local path (relative to `base_dir`, default the current
    folder; `~` expanded; surrounding quotes, backslash-escaped characters and
    `file://` URLs of this computer accepted) or an http(s) or base64 `data:`
    URL. A `data:` URL is decoded and then treated like a local file named
    `pasted-<kind>.<ext>`. Local files must be images, video or audio by
    content and at most `settings.max_file_mb`; images are turned upright (EXIF
    orientation) and downscaled to `settings.max_image_side`, then the content
    is copied into the media folder (`media_root`, default `paths.media_dir()`)
    under its hash. http(s) URLs are kept unchanged and not fetched (their
    kind is `kind` if given, else guessed from the extension, else image).
    `kind` is ignored for files and `data:` URLs, whose content decides.
    """
    src = parse_source(source, base_dir)
    max_bytes = int(settings.max_file_mb * MB)
    if src.kind == "http":
        att_kind = kind or url_kind(src.text) or "image"
        return PreparedAttachment(
            Attachment(kind=att_kind, name=url_name(src.text), url=src.text), None
        )
    if src.kind == "data":
        inline = parse_data_url(src.text, max_bytes, settings.max_file_mb)
        return _store_media(inline.data, inline.mime, None, settings, media_root)
    path = src.path or Path(src.text)
    data = read_local(path, max_bytes, settings.max_file_mb)
    return _store_media(data, media_mime(data, path.name), path.name, settings, media_root)


def prepare_bytes(data: bytes, settings: AttachmentSettings, *, name: str = "clipboard",
                  media_root: Path | None = None) -> PreparedAttachment:
    """Check and store media that arrived as bytes (an image pasted from the clipboard), like a
    file named `name` (with the right extension); `AttachmentError` when it isn't media."""
    max_bytes = int(settings.max_file_mb * MB)
    if len(data) > max_bytes:
        raise AttachmentError(f"The {name} image is {len(data) / MB:.1f} MB; the limit is "
                              f"{settings.max_file_mb:g} MB (attachments.max_file_mb).")
    mime = media_mime(data, name)
    return _store_media(data, mime, f"{name}.{EXTENSION_FOR_MIME[mime]}", settings, media_root)


def _store_media(
    data: bytes, mime: str, name: str | None, settings: AttachmentSettings, media_root: Path | None
) -> PreparedAttachment:
    """Upright and downscale an image, then store any media under its hash.

    `name` None (pasted `data:` URLs) becomes `pasted-<kind>.<ext>` after the
    image work, whose format may differ from the one pasted.
    """
    att_kind = kind_of_mime(mime) or "image"
    width = height = None
    if att_kind == "image":
        image = prepare_image(data, mime, name or "The pasted image", settings.max_image_side)
        data, mime, width, height = image.data, image.mime, image.width, image.height
    name = name or f"pasted-{att_kind}.{EXTENSION_FOR_MIME[mime]}"
    try:
        root = resolve_media_root(media_root)
        ref, stored = store(data, EXTENSION_FOR_MIME[mime], root)
    except OSError as exc:
        raise AttachmentError(
            f"Can't save {name} in the media folder: {exc.strerror or exc}. "
            "Check free disk space and the data folder's permissions."
        ) from None
    attachment = Attachment(
        kind=att_kind, name=name, mime=mime, size=len(data), width=width, height=height, ref=ref
    )
    return PreparedAttachment(attachment, stored)


def looks_like_attachment(text: str, *, base_dir: Path | None = None) -> bool:
    """True if pasted `text` is one attachment: a path, http(s) media URL or media data URL.

    A path counts when it is a single line naming an existing regular file
    whose content is an image, video or audio (quotes, `~`, backslash escapes
    and `file://` accepted, as in `prepare_attachment`). An http(s) URL
    counts when its path ends in an image, video or audio extension. Never
    raises and reads at most a few KB.
    """
    stripped = (text or "").strip()
    if not stripped or "\n" in stripped or "\r" in stripped:
        return False
    if _MEDIA_DATA_URL.match(stripped):
        return True
    if len(stripped) > _MAX_PASTED_PATH:
        return False
    try:
        src = parse_source(stripped, base_dir)
    except AttachmentError:
        return False
    if src.kind == "http":
        return url_kind(src.text) is not None
    if src.kind != "path" or src.path is None:
        return False
    try:
        # Check before opening: opening a named pipe would wait for a writer.
        if not stat.S_ISREG(os.stat(src.path).st_mode):
            return False
        with open(src.path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except (OSError, ValueError):
        return False
    return sniff_mime(head) is not None


def load_image(att: Attachment, *, media_root: Path | None = None) -> Image.Image:
    """The attached image, decoded and upright, for drawing a thumbnail.

    Works from the stored file (`ref`) or a `data:` URL (sessions saved before
    pasted data was stored kept it inline). http(s) URLs are not downloaded, so they raise
    `AttachmentError`, as do non-images and vanished files.
    """
    if att.kind != "image":
        raise AttachmentError(
            f"{att.name} is {_a(att.kind)}, not an image; there is no picture to show."
        )
    if att.ref:
        data = read_stored(att.ref, resolve_media_root(media_root), att.kind, att.name)
    elif att.url and att.url[:5].lower() == "data:":
        data = parse_data_url(att.url).data
    else:
        raise AttachmentError(
            f"{att.name} is a web address; vllm-chat does not download it, "
            "so there is no picture to show."
        )
    return upright_image(data, att.mime, att.name)


def describe(att: Attachment) -> str:
    """One line for an attachment chip: `cat.png · image · 1.2 MB · 640×480`.

    Unknown parts are left out; http(s) attachments end with `URL`.
    """
    parts = [att.name, att.kind]
    if att.size is not None:
        parts.append(human_size(att.size))
    if att.width and att.height:
        parts.append(f"{att.width}×{att.height}")
    if att.url and att.url[:5].lower() != "data:":
        parts.append("URL")
    return " · ".join(parts)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
