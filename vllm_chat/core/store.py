"""Sessions on disk: one JSON file per conversation, written atomically, listed fast.

Each session is `<id>.json` in the sessions folder (`paths.sessions_dir()`):
`Conversation.model_dump()` plus `schema_version` and a derived `usage_total`.
Files are replaced atomically (temp file in the same folder, fsync,
`os.replace`) with mode 0600. Nothing that could hold the API key is written:
the conversation has no key field, a `user:password@` in the server URL is
removed before saving, and the store writes nothing else but the index of
summaries.

A file that can't be read (not JSON, wrong shape, a newer schema) is listed
as unreadable with the reason and is never overwritten or deleted, except by
an explicit `delete()`. Older schemas are upgraded on load (`migrations.py`).

Listing does not parse every session: `.index.json` caches one summary per
file together with the file's inode, size, mtime and ctime. `list()` compares
those with a `scandir` of the folder and re-reads only files that are new or
changed (another vllm-chat, an editor), drops entries of deleted files, and
rebuilds the index when it is missing or corrupt. The index is only a cache:
losing it costs one slow listing, never data.

Also here: titles for new sessions (`title_from_prompt`, and the request and
clean-up for a title asked of the model).
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import json
import os
import re
import secrets
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from vllm_chat.core import paths
from vllm_chat.core.conversation import Conversation
from vllm_chat.core.migrations import CURRENT_VERSION, MigrationError, migrate

SCHEMA_VERSION = CURRENT_VERSION
"""The `schema_version` written into every session file."""

INTERRUPTED = "interrupted (the app exited while this reply was streaming)"
"""The error given on load to a reply that was still streaming when the file was last saved."""

INDEX_NAME = ".index.json"
"""The summary cache in the sessions folder (hidden, so it can't clash with a session id)."""

_INDEX_VERSION = 1
_TEMP_SUFFIX = ".tmp"
_STALE_TEMP_SECONDS = 3600.0
_PREVIEW_CHARS = 100
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z")


class StoreError(Exception):
    """A session operation failed; the message says what happened and what to do."""


class SessionIdConflict(StoreError):
    """Saving would overwrite a session file that can't be read; it is left alone.

    Give the conversation a new id (`vllm_chat.core.conversation.new_id()`) and
    save again; `SessionRecorder` does this by itself.
    """


@dataclass(frozen=True)
class SessionSummary:
    """What the session list shows about one session, without its messages."""

    id: str
    """The session id (the file name without `.json`)."""
    title: str
    """The title; never empty (falls back to the first prompt, then "New chat")."""
    model: str
    """The model the session used last."""
    created_at: float
    """Epoch seconds when the session started."""
    updated_at: float
    """Epoch seconds of the last change; the list is sorted by this, newest first."""
    message_count: int
    """Messages in the conversation (branches not counted)."""
    preview: str
    """The start of the last user or assistant text, on one line."""
    path: Path
    """The session file."""


@dataclass(frozen=True)
class UnreadableSession:
    """A file in the sessions folder that can't be opened as a session."""

    path: Path
    """The file; the app never changes or deletes it on its own."""
    reason: str
    """Why it can't be read, in words."""


@dataclass(frozen=True)
class PreparedSave:
    """A conversation serialized for saving, so the disk write can run in another thread."""

    id: str
    """The session id."""
    payload: bytes
    """The file content."""
    summary: dict[str, Any]
    """The index summary of this content (see `SessionSummary`, without `path`)."""
    seq: int
    """Order of preparation: an older snapshot is never written over a newer one."""


# --- documents --------------------------------------------------------------


def session_json(conv: Conversation) -> str:
    """The session document the store writes, as compact JSON text.

    `Conversation.model_dump()` with `schema_version` first and the derived
    `usage_total` last (pydantic's serializer is several times faster than
    `json.dumps` of a dumped dict, which matters for saves during streaming).
    """
    if "@" in conv.base_url:
        conv = conv.model_copy(update={"base_url": redact_url(conv.base_url)})
    body = conv.model_dump_json()
    usage = conv.usage_total.model_dump_json()
    return f'{{"schema_version":{SCHEMA_VERSION},{body[1:-1]},"usage_total":{usage}}}'


def redact_url(url: str) -> str:
    """`url` without `user:password@`, which must not reach the disk (it may hold a key)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def parse_session(data: bytes | str, session_id: str | None = None) -> Conversation:
    """A session document (any known schema version) as a `Conversation`.

    Raises `StoreError` whose message is the reason the document is
    unreadable. A reply still marked `streaming` (the app was killed while it
    streamed) comes back `stopped` with the error `INTERRUPTED`. When
    `session_id` is given it wins over the id inside the document, so a
    copied file is its own session.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")  # an editor may have added a byte-order mark
        except UnicodeDecodeError:
            raise StoreError("not UTF-8 text (not a session file)") from None
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise StoreError(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise StoreError("not a session: JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise StoreError(f"not a session: the file holds a JSON {_json_type(doc)}, not an object")
    try:
        doc = migrate(doc)
    except MigrationError as exc:
        raise StoreError(str(exc)) from None
    missing = [key for key in ("id", "messages") if key not in doc]
    if missing:
        raise StoreError(f"not a session: no {' or '.join(missing)}")
    doc.pop("schema_version", None)
    doc.pop("usage_total", None)  # derived from the messages
    try:
        conv = Conversation.model_validate(doc)
    except ValidationError as exc:
        raise StoreError(f"not a valid session: {_first_problem(exc)}") from None
    for message in [*conv.messages, *(m for b in conv.branches for m in b.messages)]:
        if message.status == "streaming":
            message.status = "stopped"
            message.error = INTERRUPTED
    if session_id is not None:
        conv.id = session_id
    return conv


def summarize(conv: Conversation) -> dict[str, Any]:
    """The index summary of a conversation (the fields of `SessionSummary` except `path`)."""
    preview = ""
    for message in reversed(conv.messages):
        if message.role in ("user", "assistant") and message.content.strip():
            preview = _one_line(message.content, _PREVIEW_CHARS)
            break
    first_prompt = next((m.content for m in conv.messages if m.role == "user"), "")
    return {
        "id": conv.id,
        "title": conv.title.strip() or title_from_prompt(first_prompt),
        "model": conv.model,
        "created_at": conv.created_at,
        "updated_at": conv.updated_at,
        "message_count": len(conv.messages),
        "preview": preview,
    }


def _json_type(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null"
    )


def _first_problem(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "document"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# --- atomic files -------------------------------------------------------------


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data`: readers see the whole old file or the whole new one.

    The data goes to a hidden temp file in the same folder, is fsynced, and
    is renamed over `path`; on any failure the temp file is removed and the
    old file is untouched. Raises `OSError`.
    """
    folder = path.parent
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}{_TEMP_SUFFIX}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, mode)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)  # the umask may have taken bits away; we want exactly `mode`
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; some file systems can't, which is fine.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# --- the store ----------------------------------------------------------------


class SessionStore:
    """The sessions folder: save, load, list, search, rename and delete sessions.

    Safe to use from several threads (e.g. saves on the UI loop while a
    search runs in a worker) and alongside other vllm-chat processes.
    """

    def __init__(self, root: Path | None = None) -> None:
        """Use `root` as the sessions folder (default: `paths.sessions_dir()`)."""
        # Created by the first save, not here: listing must not create folders.
        self.root: Path = paths.sessions_dir() if root is None else Path(root).expanduser()
        """The sessions folder."""
        self._lock = threading.RLock()
        # file name -> (stat key, summary dict | unreadable reason); None until first needed
        self._index: dict[str, tuple[tuple[int, ...], dict[str, Any] | str]] | None = None
        self._index_dirty = False
        self._seq = itertools.count()
        self._committed: dict[str, int] = {}  # session id -> seq of the last snapshot written

    # paths and ids

    def path_for(self, session_id: str) -> Path:
        """The file of a session id; raises `StoreError` for an id that is not a plain name."""
        if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
            raise StoreError(
                f"{session_id!r} is not a session id (ids are letters, digits, '-' and '_')"
            )
        return self.root / f"{session_id}.json"

    # saving

    def prepare(self, conv: Conversation) -> PreparedSave:
        """Serialize `conv` for `commit()` (cheap; run it where `conv` is being changed)."""
        self.path_for(conv.id)
        payload = session_json(conv).encode("utf-8")
        return PreparedSave(conv.id, payload, summarize(conv), next(self._seq))

    def commit(self, prepared: PreparedSave) -> None:
        """Write a prepared session atomically and update the index.

        Raises `SessionIdConflict` if a file with this id exists and can't be
        read (it is never overwritten), `StoreError` if the write fails. A
        snapshot older than one already written is dropped.
        """
        path = self.path_for(prepared.id)
        with self._lock:
            if self._committed.get(prepared.id, -1) > prepared.seq:
                return
            self._check_overwrite(path)
            try:
                paths.ensure_private_dir(self.root)
                atomic_write(path, prepared.payload)
                key = _stat_key(os.stat(path))
            except OSError as exc:
                raise StoreError(f"can't save session {prepared.id} to {path}: {exc.strerror or exc}") from None
            self._committed[prepared.id] = prepared.seq
            self._ensure_index()[path.name] = (key, dict(prepared.summary))
            self._index_dirty = True

    def save(self, conv: Conversation) -> None:
        """Write `conv` to its file atomically (mode 0600) and update the index."""
        self.commit(self.prepare(conv))

    def _check_overwrite(self, path: Path) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return  # nothing there, or the folder itself is broken and the write will say so
        cached = self._ensure_index().get(path.name)
        if cached is not None and cached[0] == _stat_key(st) and isinstance(cached[1], dict):
            return
        key, result = self._read_summary(path)
        if isinstance(result, str):
            raise SessionIdConflict(
                f"{path} exists and can't be read ({result}); it is left untouched, "
                "so this conversation needs a new id"
            )
        if key is not None:
            self._ensure_index()[path.name] = (key, result)

    # loading

    def load(self, session_id: str) -> Conversation:
        """The session with this id, upgraded to the current schema.

        Raises `StoreError` if there is no such session or it can't be read
        (the message gives the reason).
        """
        path = self.path_for(session_id)
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                data = f.read()
        except FileNotFoundError:
            raise StoreError(f"no session {session_id}") from None
        except OSError as exc:
            raise StoreError(f"session {session_id} can't be read: {exc.strerror or exc}") from None
        try:
            conv = parse_session(data, session_id)
        except StoreError as exc:
            raise StoreError(f"session {session_id} can't be read: {exc}") from None
        entry = (_stat_key(st), summarize(conv))
        with self._lock:
            index = self._ensure_index()
            if index.get(path.name) != entry:
                index[path.name] = entry
                self._index_dirty = True
        return conv

    # listing

    def list(self) -> tuple[list[SessionSummary], list[UnreadableSession]]:
        """Every session, newest `updated_at` first, and every file that can't be read.

        Only files that are new or changed since the index was written are
        parsed. Raises `StoreError` only if the folder itself can't be read.
        """
        # Files are read outside the lock so that a save on the UI thread never
        # waits for a slow listing; entries a save replaced meanwhile are kept.
        with self._lock:
            before = dict(self._ensure_index())
        seen: set[str] = set()
        fresh: dict[str, tuple[tuple[int, ...] | None, dict[str, Any] | str]] = {}
        results: list[tuple[Path, dict[str, Any] | str]] = []
        try:
            entries = os.scandir(self.root)
        except FileNotFoundError:
            return [], []  # nothing saved yet
        except OSError as exc:
            raise StoreError(f"can't list sessions in {self.root}: {exc.strerror or exc}") from None
        with entries:
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    if name.endswith(_TEMP_SUFFIX):
                        self._sweep_temp(entry)
                    continue
                if not name.endswith(".json"):
                    continue
                try:
                    st = entry.stat()
                except OSError:
                    continue  # deleted while we looked
                if not stat.S_ISREG(st.st_mode):
                    continue
                seen.add(name)
                path = self.root / name
                cached = before.get(name)
                if cached is not None and cached[0] == _stat_key(st):
                    results.append((path, cached[1]))
                    continue
                fresh[name] = self._read_summary(path)
                results.append((path, fresh[name][1]))
        with self._lock:
            index = self._ensure_index()
            for name, (key, result) in fresh.items():
                # I/O errors (key None) are retried next time, not cached.
                if key is not None and index.get(name) is before.get(name):
                    index[name] = (key, result)
                    self._index_dirty = True
            for name in before.keys() - seen:
                if index.get(name) is before[name]:
                    del index[name]
                    self._index_dirty = True
            if self._index_dirty:
                self._write_index()
        summaries: list[SessionSummary] = []
        unreadable: list[UnreadableSession] = []
        for path, result in results:
            if isinstance(result, str):
                unreadable.append(UnreadableSession(path, result))
            else:
                summaries.append(SessionSummary(path=path, **result))
        summaries.sort(key=lambda s: (s.updated_at, s.id), reverse=True)
        unreadable.sort(key=lambda u: u.path.name)
        return summaries, unreadable

    def most_recent(self) -> SessionSummary | None:
        """The session changed last, or None when there is none."""
        summaries, _ = self.list()
        return summaries[0] if summaries else None

    def resolve(self, id_or_prefix: str) -> str:
        """The one session id that is `id_or_prefix` or starts with it.

        Raises `StoreError` ("no session ..." or "ambiguous: ... matches a, b").
        Unreadable files count too, so that loading one reports why it fails.
        """
        wanted = id_or_prefix.strip()
        if not wanted:
            raise StoreError("no session id given")
        if _SESSION_ID.match(wanted) and (self.root / f"{wanted}.json").is_file():
            return wanted
        summaries, unreadable = self.list()
        ids = [s.id for s in summaries] + [u.path.stem for u in unreadable]
        matches = sorted({i for i in ids if i.startswith(wanted)})
        if not matches:
            raise StoreError(f"no session matches {wanted!r} (`vllm-chat sessions list` lists them)")
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (f" and {len(matches) - 5} more" if len(matches) > 5 else "")
            raise StoreError(f"ambiguous: {wanted!r} matches {shown}; give more characters")
        return matches[0]

    # changing

    def delete(self, session_id: str) -> None:
        """Remove the session's file (also an unreadable one) and its index entry."""
        path = self.path_for(session_id)
        with self._lock:
            try:
                path.unlink()
            except FileNotFoundError:
                raise StoreError(f"no session {session_id}") from None
            except OSError as exc:
                raise StoreError(f"can't delete {path}: {exc.strerror or exc}") from None
            if self._ensure_index().pop(path.name, None) is not None:
                self._index_dirty = True

    def rename(self, session_id: str, title: str) -> None:
        """Give a saved session a new title (whitespace collapsed; must not be empty).

        For the session open in the app, set `conversation.title` instead and
        let the recorder save it, or the next save would undo the rename.
        """
        clean = " ".join(title.split())
        if not clean:
            raise StoreError("a title can't be empty")
        conv = self.load(session_id)
        conv.title = clean
        self.save(conv)

    # searching

    def search(self, query: str, limit: int | None = None) -> builtins.list[SessionSummary]:
        """Sessions whose title or any message text contains `query` (case-insensitive).

        Newest first. Reads every session file that is not matched by its
        title, so run it in a worker thread from a UI.
        """
        needle = query.strip().lower()
        if not needle:
            return []
        summaries, _ = self.list()
        # The raw file can rule a session out cheaply when JSON would write the
        # query as it is: no characters JSON escapes, and no \u escapes in the file.
        raw_filter = not any(c in needle for c in '"\\') and all(ord(c) >= 0x20 for c in needle)
        hits: list[SessionSummary] = []
        for summary in summaries:
            if limit is not None and len(hits) >= limit:
                break
            if needle in summary.title.lower() or self._content_matches(summary.path, needle, raw_filter):
                hits.append(summary)
        return hits

    @staticmethod
    def _content_matches(path: Path, needle: str, raw_filter: bool) -> bool:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return False
        if raw_filter and "\\u" not in text and needle not in text.lower():
            return False
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            return False
        messages = doc.get("messages") if isinstance(doc, dict) else None
        if not isinstance(messages, list):
            return False
        return any(
            isinstance(m, dict) and isinstance(m.get("content"), str) and needle in m["content"].lower()
            for m in messages
        )

    # the index

    def _read_summary(self, path: Path) -> tuple[tuple[int, ...] | None, dict[str, Any] | str]:
        """(stat key of what was read, summary or unreadable reason); key None on I/O errors."""
        try:
            with open(path, "rb") as f:
                key = _stat_key(os.fstat(f.fileno()))
                data = f.read()
        except OSError as exc:
            return None, f"can't read the file: {exc.strerror or exc}"
        if not _SESSION_ID.match(path.stem):
            return key, "the file name is not a session id (letters, digits, '-' and '_', then .json)"
        try:
            return key, summarize(parse_session(data, path.stem))
        except StoreError as exc:
            return key, str(exc)

    def _ensure_index(self) -> dict[str, tuple[tuple[int, ...], dict[str, Any] | str]]:
        if self._index is None:
            self._index = self._read_index()
        return self._index

    def _read_index(self) -> dict[str, tuple[tuple[int, ...], dict[str, Any] | str]]:
        """The index on disk; anything odd about it just means starting from empty."""
        try:
            doc = json.loads((self.root / INDEX_NAME).read_bytes())
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(doc, dict) or doc.get("index_version") != _INDEX_VERSION:
            return {}
        if doc.get("schema_version") != SCHEMA_VERSION or not isinstance(doc.get("entries"), dict):
            return {}
        index: dict[str, tuple[tuple[int, ...], dict[str, Any] | str]] = {}
        for name, entry in doc["entries"].items():
            parsed = _index_entry(entry)
            if parsed is not None:
                index[name] = parsed
        return index

    def _write_index(self) -> None:
        assert self._index is not None
        entries: dict[str, Any] = {}
        for name, (key, result) in self._index.items():
            if isinstance(result, str):
                entries[name] = {"stat": list(key), "unreadable": result}
            else:
                entries[name] = {"stat": list(key), "summary": result}
        doc = {"index_version": _INDEX_VERSION, "schema_version": SCHEMA_VERSION, "entries": entries}
        try:
            atomic_write(self.root / INDEX_NAME, json.dumps(doc, ensure_ascii=False).encode("utf-8"))
        except OSError:
            return  # a read-only folder still lists; the index is only a cache
        self._index_dirty = False

    @staticmethod
    def _sweep_temp(entry: os.DirEntry[str]) -> None:
        # Left behind only by a crash mid-write; a write takes milliseconds.
        with contextlib.suppress(OSError):
            if time.time() - entry.stat().st_mtime > _STALE_TEMP_SECONDS:
                os.unlink(entry.path)


_SUMMARY_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "title": (str,),
    "model": (str,),
    "created_at": (int, float),
    "updated_at": (int, float),
    "message_count": (int,),
    "preview": (str,),
}


def _index_entry(entry: Any) -> tuple[tuple[int, ...], dict[str, Any] | str] | None:
    """One index entry checked field by field (None: ignore it, the file will be re-read)."""
    if not isinstance(entry, dict):
        return None
    key = entry.get("stat")
    if not isinstance(key, list) or len(key) != 4 or not all(type(k) is int for k in key):
        return None
    if isinstance(entry.get("unreadable"), str):
        return tuple(key), entry["unreadable"]
    summary = entry.get("summary")
    if not isinstance(summary, dict) or set(summary) != set(_SUMMARY_TYPES):
        return None
    if not all(isinstance(summary[k], t) for k, t in _SUMMARY_TYPES.items()):
        return None
    return tuple(key), summary


# --- titles -------------------------------------------------------------------

TITLE_CHARS = 60
"""Longest title made from a prompt or accepted from the model."""

DEFAULT_TITLE = "New chat"
"""The title when there is nothing to make one from."""

_TITLE_SYSTEM = (
    "You name conversations. Reply with a title of at most six words that says what the "
    "conversation is about. Reply with the title only: no quotes, no punctuation at the end, "
    "no explanation."
)
_TITLE_EXCERPT = 2000


def _trim_title(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= TITLE_CHARS:
        return flat
    cut = flat[: TITLE_CHARS - 1]
    space = cut.rfind(" ")
    if space >= TITLE_CHARS // 3:  # cut on a word boundary unless the first word is huge
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def title_from_prompt(text: str) -> str:
    """A title from a first prompt: its first non-blank line, trimmed to ~60 characters.

    Cut on a word boundary with an ellipsis when longer; "New chat" when
    there is no text.
    """
    for line in text.splitlines():
        if line.strip():
            return _trim_title(line)
    return DEFAULT_TITLE


def title_request_messages(conv: Conversation) -> list[dict[str, str]]:
    """The `messages` of a small request asking the model for a title of `conv`.

    Built from the first user prompt and the first assistant answer (each cut
    to a couple of thousand characters); send it without tools, with a small
    `max_tokens` and thinking off where the template supports it.
    """
    prompt = next((m.content for m in conv.messages if m.role == "user" and m.content.strip()), "")
    answer = next(
        (m.content for m in conv.messages if m.role == "assistant" and m.content.strip()), ""
    )
    parts = [f"User:\n{prompt[:_TITLE_EXCERPT]}"]
    if answer:
        parts.append(f"Assistant:\n{answer[:_TITLE_EXCERPT]}")
    excerpt = "\n\n".join(parts)
    return [
        {"role": "system", "content": _TITLE_SYSTEM},
        {"role": "user", "content": f"Write a title for this conversation.\n\n{excerpt}\n\nTitle:"},
    ]


_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_TITLE_LABEL = re.compile(r"^title\s*[:：]\s*", re.IGNORECASE)
# Heading and list marks at the start; emphasis and code marks anywhere, but
# underscores only at word edges so that `snake_case` survives.
_MARKDOWN_MARKS = re.compile(r"^[#>*+\-\s]+|[*`~]+|(?<!\w)_+|_+(?!\w)")
_QUOTES = "\"'`“”‘’«»„"
_LONGEST_MODEL_TITLE = 100


def clean_model_title(text: str) -> str | None:
    """A model's reply to the title request as a usable title, or None if it is no good.

    Drops `<think>` blocks (and everything up to a stray `</think>`), takes
    the first non-blank line, removes a "Title:" label, Markdown marks,
    surrounding quotes and a final period, and trims to ~60 characters. None
    when nothing with a letter or digit is left, when the reply was cut off
    while thinking, or when the line is far too long to be a title (the model
    wrote prose instead).
    """
    text = _THINK_BLOCK.sub("", text)
    lower = text.lower()
    if "</think>" in lower:
        text = text[lower.rindex("</think>") + len("</think>"):]
    elif "<think>" in lower:
        return None
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _TITLE_LABEL.sub("", _MARKDOWN_MARKS.sub("", line).strip())
    line = line.strip().strip(_QUOTES).strip().rstrip(".").strip().strip(_QUOTES).strip()
    if not any(ch.isalnum() for ch in line) or len(line) > _LONGEST_MODEL_TITLE:
        return None
    return _trim_title(line)
