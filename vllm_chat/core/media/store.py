"""The media folder: attached files stored once, under the hash of their content.

A session refers to a file by its `ref` (`<sha256>.<ext>`) instead of carrying
base64, so session files stay small and an attachment survives the original
being moved or deleted. The same content attached twice is one file.

Every turn re-sends the whole history, so data URLs are cached per file in a
small LRU bounded by total size.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from vllm_chat.core.media.errors import AttachmentError
from vllm_chat.core.paths import ensure_private_dir

DATA_URL_CACHE_CHARS = 64 * 1024 * 1024
"""Total size of cached data URLs (characters, i.e. bytes), about 48 MB of media."""

# A ref comes from a session file, which could have been edited by hand: only
# a bare `<name>.<ext>` may be joined to the media folder, never a path. (Ours
# are SHA-256 names; older sessions may hold other hash names.)
_REF = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]*\.[0-9A-Za-z]{1,8}\Z")


def media_root(override: Path | None) -> Path:
    """The media folder to use: `override`, or the one in the user's data folder (created
    by the first `store`)."""
    if override is None:
        from vllm_chat.core.paths import media_dir

        return media_dir()
    return override


def ref_for(data: bytes, ext: str) -> str:
    """The file name content is stored under: its SHA-256 and the extension."""
    return f"{hashlib.sha256(data).hexdigest()}.{ext}"


def store(data: bytes, ext: str, root: Path) -> tuple[str, Path]:
    """Write `data` into `root` under its hash (atomically; not again if already there).

    Returns the ref and the file's path. Raises `OSError` if it can't be written.
    """
    ref = ref_for(data, ext)
    path = root / ref
    ensure_private_dir(root)
    try:
        if path.stat().st_size == len(data):
            return ref, path
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".incoming-", suffix=f".{ext}")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return ref, path


def stored_path(ref: str, root: Path) -> Path:
    """The path of a stored file; `AttachmentError` if `ref` is not a media-folder name."""
    if not _REF.match(ref):
        raise AttachmentError(
            f"The attachment reference {ref!r} is not a media-folder file name; the session "
            "file may have been edited. Remove the attachment and attach the file again."
        )
    return root / ref


def missing_file_message(kind: str, name: str, path: Path) -> str:
    """What to say when a session refers to a media file that is gone."""
    return (
        f"The {kind} {name} is no longer in the media folder ({path}), so it can't be sent. "
        "Remove it from the message, or attach the file again."
    )


def read_stored(ref: str, root: Path, kind: str, name: str) -> bytes:
    """The bytes of a stored file, or `AttachmentError` if it vanished or can't be read."""
    path = stored_path(ref, root)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise AttachmentError(missing_file_message(kind, name, path)) from None
    except OSError as exc:
        raise AttachmentError(
            f"Can't read the stored {kind} {name} ({path}): {exc.strerror or exc}. "
            "Check the media folder's permissions, or attach the file again."
        ) from None


def data_url(mime: str, data: bytes) -> str:
    """`data:<mime>;base64,<...>`, the form vLLM accepts for inline media."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class DataUrlCache:
    """A thread-safe LRU of data URLs, bounded by their total length.

    Keys are stored file paths: a ref names its content, so an entry never
    goes stale. An entry larger than the whole budget is not kept.
    """

    def __init__(self, max_chars: int = DATA_URL_CACHE_CHARS) -> None:
        self.max_chars = max_chars
        """The budget: cached URLs never add up to more characters than this."""
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        """The cached URL for `key` (now the most recently used), or None."""
        with self._lock:
            url = self._entries.get(key)
            if url is not None:
                self._entries.move_to_end(key)
            return url

    def put(self, key: str, url: str) -> None:
        """Remember `url`, dropping the least recently used entries to stay in budget."""
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._chars -= len(old)
            if len(url) > self.max_chars:
                return
            self._entries[key] = url
            self._chars += len(url)
            while self._chars > self.max_chars:
                _, dropped = self._entries.popitem(last=False)
                self._chars -= len(dropped)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._chars = 0

    @property
    def total_chars(self) -> int:
        """Characters currently held."""
        return self._chars

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


DATA_URLS = DataUrlCache()
"""The process-wide cache `content_part` uses."""


def stored_data_url(ref: str, root: Path, mime: str, kind: str, name: str) -> str:
    """The data URL of a stored file, from the cache when possible.

    The file's presence is checked on every call, so a deleted file is
    reported even if its URL is still cached.
    """
    path = stored_path(ref, root)
    if not path.is_file():
        raise AttachmentError(missing_file_message(kind, name, path))
    key = f"{path}|{mime}"
    url = DATA_URLS.get(key)
    if url is None:
        url = data_url(mime, read_stored(ref, root, kind, name))
        DATA_URLS.put(key, url)
    return url
