"""Attachments: a file or URL becomes an `Attachment` kept by reference, and a content part.

The public face of `vllm_chat.core.media`. In short:

- `prepare_attachment(source, settings)`: a local path (quotes, `~`,
  backslash escapes and `file://` URLs of this computer accepted) or an
  http(s) / base64 `data:` URL → a checked `Attachment`. Local files are
  sniffed by content, never by extension; images are turned upright and
  downscaled to `max_image_side`; the result is stored once in the media
  folder under its SHA-256 (`ref`). URLs are kept unchanged (`url`).
- `content_part(att)` / `build_request_messages(conv, ...)`: the request side,
  including "only the N most recent images" and "no media at all".
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
from vllm_chat.core.media.images import image_size, prepare_image, upright_image
from vllm_chat.core.media.requests import (
    build_request_messages,
    content_part,
    count_media,
    is_not_multimodal_error,
    parse_media_limit_error,
)
from vllm_chat.core.media.sniff import EXTENSION_FOR_MIME, SNIFF_BYTES, kind_of_mime, sniff_mime
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
    "PreparedAttachment",
    "build_request_messages",
    "content_part",
    "count_media",
    "describe",
    "human_size",
    "is_not_multimodal_error",
    "load_image",
    "looks_like_attachment",
    "parse_media_limit_error",
    "prepare_attachment",
    "sniff_mime",
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
    URL. Local files must be images, video or audio by content and at most
    `settings.max_file_mb`; images are turned upright (EXIF orientation) and
    downscaled to `settings.max_image_side`, then every local file is copied
    into the media folder (`media_root`, default `paths.media_dir()`) under its
    content hash. URLs are kept unchanged: http(s) ones are not fetched (their
    kind is `kind` if given, else guessed from the extension, else image);
    `data:` ones are checked (base64, media type, size, content) but neither
    downscaled nor stored. `kind` is ignored for files and `data:` URLs, whose
    content decides.
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
        width = height = None
        if inline.kind == "image":
            width, height = image_size(inline.data) or (None, None)
        attachment = Attachment(
            kind=inline.kind,
            name=f"pasted-{inline.kind}.{EXTENSION_FOR_MIME[inline.mime]}",
            mime=inline.mime,
            size=len(inline.data),
            width=width,
            height=height,
            url=src.text,
        )
        return PreparedAttachment(attachment, None)

    path = src.path or Path(src.text)
    name = path.name
    data = read_local(path, max_bytes, settings.max_file_mb)
    mime = media_mime(data, name)
    att_kind = kind_of_mime(mime) or "image"
    width = height = None
    if att_kind == "image":
        image = prepare_image(data, mime, name, settings.max_image_side)
        data, mime, width, height = image.data, image.mime, image.width, image.height
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

    Works from the stored file (`ref`) or a `data:` URL. http(s) URLs are not
    downloaded, so they raise `AttachmentError`, as do non-images and
    vanished files.
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
    if att.url and not att.url[:5].lower() == "data:":
        parts.append("URL")
    return " · ".join(parts)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
