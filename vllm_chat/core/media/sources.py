"""What the user gave as an attachment: a local path, or an http(s) or `data:` URL.

Paths arrive the way terminals paste them: wrapped in quotes, with `~`, with
backslash-escaped spaces (macOS drag and drop), or as `file://` URLs from a
file manager. A `file://` URL naming this computer is read as a local path
(the server could not open it anyway); one naming another host is refused.
Other schemes (`ftp:`, `javascript:`...) are refused, since vLLM fetches
only http(s) and decodes only base64 `data:` URLs.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from vllm_chat.core.conversation import AttachmentKind
from vllm_chat.core.media.errors import AttachmentError
from vllm_chat.core.media.sniff import (
    KIND_FOR_EXTENSION,
    SUPPORTED_FORMATS,
    kind_of_mime,
    sniff_mime,
    what_it_looks_like,
)

MB = 1024 * 1024
"""Bytes in one of the megabytes of `attachments.max_file_mb` (as vLLM counts them)."""

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")
_DATA_URL = re.compile(r"data:(?P<meta>[^,]*),(?P<payload>.*)\Z", re.DOTALL)


@dataclass(frozen=True)
class Source:
    """An attachment source, classified."""

    kind: Literal["path", "http", "data"]
    """A local file, a URL the server fetches, or an inline `data:` URL."""
    text: str
    """The cleaned-up text: the URL, or the path as given."""
    path: Path | None = None
    """For `path`: the absolute path to read."""


def parse_source(source: str | Path, base_dir: Path | None = None) -> Source:
    """Classify what the user gave; relative paths start from `base_dir` (default: cwd).

    Raises `AttachmentError` for URLs we can't use. Only checks whether a path
    exists (to tell `notes:1.png` the file from a URL); never reads it.
    """
    if isinstance(source, Path):
        return Source("path", str(source), _absolute(source, base_dir))
    text = _unquote_paste(source)
    if not text:
        raise AttachmentError("Nothing to attach: give a file path or an http(s) URL.")
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        return Source("http", _check_http_url(text))
    if lowered.startswith("data:"):
        return Source("data", text)
    if lowered.startswith("file:"):
        return Source("path", text, _file_url_path(text))
    path = _local_path(text, base_dir)
    scheme = _SCHEME.match(text)
    if scheme and not _exists(path):
        raise AttachmentError(
            f"Only http(s) and data: URLs can be attached; {scheme.group(1)}: URLs are not "
            "supported. Download the file and attach it by its path."
        )
    return Source("path", text, path)


def _unquote_paste(text: str) -> str:
    """Strip whitespace and one pair of surrounding quotes, as terminals paste paths."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    return text


def _absolute(path: Path, base_dir: Path | None) -> Path:
    try:
        path = path.expanduser()
    except RuntimeError:
        pass  # no home folder to expand `~` into: take the path literally
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return path


def _local_path(text: str, base_dir: Path | None) -> Path:
    """The path for typed text, undoing backslash escapes if only that makes it exist."""
    path = _absolute(Path(text), base_dir)
    if "\\" in text and os.name != "nt" and not _exists(path):
        unescaped = _absolute(Path(re.sub(r"\\(.)", r"\1", text)), base_dir)
        if _exists(unescaped):
            return unescaped
    return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.netloc or any(c.isspace() for c in url):
        raise AttachmentError(
            f"{url} is not a valid web address (it needs a host name and no spaces). "
            "Check the URL."
        )
    return url


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise AttachmentError(
            f"{url} names a file on another computer ({parts.netloc}). Only http(s) and data: "
            "URLs can be attached; copy the file here and attach it by its path."
        )
    return Path(url2pathname(unquote(parts.path)))


def url_name(url: str) -> str:
    """A display name for an http(s) URL: the last part of its path, else its host."""
    parts = urlsplit(url)
    last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return last or parts.netloc


def url_kind(url: str) -> AttachmentKind | None:
    """What an http(s) URL points at, judged by the extension of its path (None: can't tell)."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    if "." not in name:
        return None
    return KIND_FOR_EXTENSION.get(name.rsplit(".", 1)[-1].lower())


def read_local(path: Path, max_bytes: int, limit_mb: float) -> bytes:
    """The whole file, or `AttachmentError` if it is missing, unreadable, special or too big."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise AttachmentError(f"No such file: {path}. Check the path and try again.") from None
    except PermissionError:
        raise AttachmentError(_permission_message(path)) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise AttachmentError(f"Can't use {path}: {reason}. Check the path.") from None
    if stat.S_ISDIR(info.st_mode):
        raise AttachmentError(
            f"{path} is a folder, not a file. Attach a single image, video or audio file."
        )
    if not stat.S_ISREG(info.st_mode):
        raise AttachmentError(
            f"{path} is not a regular file (a device, pipe or socket). "
            "Attach an image, video or audio file."
        )
    if info.st_size > max_bytes:
        raise AttachmentError(too_big_message(path.name, info.st_size, limit_mb))
    try:
        with open(path, "rb") as f:
            # One byte more than allowed tells a file that grew since stat().
            data = f.read(max_bytes + 1)
    except PermissionError:
        raise AttachmentError(_permission_message(path)) from None
    except OSError as exc:
        raise AttachmentError(
            f"Can't read {path}: {exc.strerror or exc}. Check the file and try again."
        ) from None
    if len(data) > max_bytes:
        raise AttachmentError(too_big_message(path.name, len(data), limit_mb))
    return data


def _permission_message(path: Path) -> str:
    return (
        f"Can't read {path}: permission denied. "
        "Check the file's permissions (or copy it somewhere you can read)."
    )


def too_big_message(name: str, size: int, limit_mb: float) -> str:
    """What to say about a file over `attachments.max_file_mb`."""
    shown, limit = human_size(size), f"{limit_mb:g} MB"
    if round(size / MB, 1) <= limit_mb:
        # "20.0 MB, over the 20 MB limit" would read as a contradiction.
        shown, limit = f"{size:,} bytes", f"{limit} ({int(limit_mb * MB):,} bytes)"
    return (
        f"{name} is {shown}, over the {limit} limit for attachments. "
        "Attach a smaller file, or raise attachments.max_file_mb in the config."
    )


def human_size(size: int) -> str:
    """Bytes for people: `512 B`, `48 KB`, `1.2 MB`, `3.4 GB` (1 KB = 1024 bytes)."""
    if size < 1024:
        return f"{size} B"
    if size < MB:
        return f"{size / 1024:.0f} KB"
    if size < 1024 * MB:
        return f"{size / MB:.1f} MB"
    return f"{size / (1024 * MB):.1f} GB"


def media_mime(data: bytes, name: str) -> str:
    """The sniffed MIME type of a file's content, or `AttachmentError` if it isn't media."""
    if not data:
        raise AttachmentError(f"{name} is empty. Attach {SUPPORTED_FORMATS}.")
    mime = sniff_mime(data)
    if mime is None:
        raise AttachmentError(
            f"{name} is not an image, video or audio file (it looks like "
            f"{what_it_looks_like(data)}). Attach {SUPPORTED_FORMATS}."
        )
    return mime


@dataclass(frozen=True)
class DataUrl:
    """A checked `data:` URL and what it holds."""

    mime: str
    """The MIME type sniffed from the decoded content."""
    kind: AttachmentKind
    """image, video or audio."""
    data: bytes
    """The decoded content."""


def parse_data_url(url: str, max_bytes: int | None = None, limit_mb: float = 0) -> DataUrl:
    """Check a `data:` URL the way vLLM will, plus content and size; `AttachmentError` if bad.

    `max_bytes` limits the decoded content (None: no limit); `limit_mb` is the
    same limit in the user's terms, for the message.
    """
    match = _DATA_URL.match(url)
    if match is None:
        raise AttachmentError(
            "This data: URL is malformed (it has no comma before the data). "
            "Use data:<type>;base64,<data>, or attach the file by its path."
        )
    meta = [p.strip().lower() for p in match.group("meta").split(";")]
    declared = meta[0]
    if meta[-1] != "base64":
        raise AttachmentError(
            "This data: URL is not base64-encoded, and vLLM accepts only base64 data URLs "
            "(it answers 501 Not Implemented). Use data:<type>;base64,<data>, "
            "or attach the file by its path."
        )
    kind = kind_of_mime(declared)
    if kind is None:
        raise AttachmentError(
            f"This data: URL holds {declared or 'data of no declared type'}, not an image, "
            "video or audio. Attach an image, video or audio file."
        )
    payload = re.sub(r"\s+", "", match.group("payload"))
    estimate = len(payload) * 3 // 4
    if max_bytes is not None and estimate > max_bytes + 2:
        # Refuse before decoding: the estimate is within two bytes of the truth.
        raise AttachmentError(too_big_message("The data: URL's content", estimate, limit_mb))
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise AttachmentError(
            "This data: URL's content is not valid base64. Copy it again in full, "
            "or attach the file by its path."
        ) from None
    if max_bytes is not None and len(data) > max_bytes:
        raise AttachmentError(too_big_message("The data: URL's content", len(data), limit_mb))
    sniffed = media_mime(data, "The data: URL's content")
    if kind_of_mime(sniffed) != kind:
        raise AttachmentError(
            f"This data: URL says it holds {declared}, but its content is {sniffed}. "
            "Fix the type in the URL, or attach the file by its path."
        )
    return DataUrl(sniffed, kind, data)
