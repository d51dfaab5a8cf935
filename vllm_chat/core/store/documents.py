"""Session documents: a conversation as the JSON text of its file, and back.

A session file holds `Conversation.model_dump()` (the tree included: see
`core/tree.py`) with `schema_version` and `generation` first and a derived
`usage_total` last. `generation` counts the saves of the file; a writer
compares it (with the file's bytes) to notice that another process saved in
between. Older schemas are upgraded on reading (`migrations.py`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vllm_chat.core.conversation import Conversation
from vllm_chat.core.migrations import CURRENT_VERSION, MigrationError, migrate
from vllm_chat.core.store.errors import StoreError
from vllm_chat.core.store.files import StatKey
from vllm_chat.core.titles import title_from_prompt
from vllm_chat.core.urls import redact_url as redact_url  # re-exported: the store's callers used it

SCHEMA_VERSION = CURRENT_VERSION
"""The `schema_version` written into every session file."""

INTERRUPTED = "interrupted (the app exited while this reply was streaming)"
"""The error given on load to a reply that was still streaming when the file was last saved."""

PREVIEW_CHARS = 100
"""Longest preview of the last message in a summary."""


@dataclass(frozen=True)
class DiskState:
    """What the store last read from or wrote to a session's file, for one conversation.

    Kept on the conversation (`Conversation._disk`); the next save compares
    the file with it to notice another writer, and merges against `base`.
    """

    session_id: str
    """The session it belongs to (a conversation that changed id starts afresh)."""
    generation: int
    """The file's `generation` then."""
    stat: StatKey | None
    """The file's stat key then (None: unknown)."""
    base: bytes
    """The file's bytes then: the common ancestor of a merge."""
    seq: int = -1
    """Order of the save that wrote it in this process (-1: read, not written): of two
    states, the one with the higher `seq` is newer."""


@dataclass(frozen=True, slots=True)  # slots: a listing keeps 10,000 of them, each one object for the GC
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
    """Messages in the shown branch (other branches not counted)."""
    preview: str
    """The start of the last user or assistant text, on one line."""
    folder: Path = dataclasses.field(repr=False, compare=False, default=Path())
    """The sessions folder it is in."""

    @property
    def path(self) -> Path:
        """The session file (made when asked: a list of 10,000 summaries makes no paths)."""
        return self.folder / f"{self.id}.json"


@dataclass(frozen=True)
class UnreadableSession:
    """A file in the sessions folder that can't be opened as a session."""

    path: Path
    """The file; the app never changes or deletes it on its own."""
    reason: str
    """Why it can't be read, in words."""


def session_json(conv: Conversation, generation: int = 0) -> str:
    """The session document the store writes, as compact JSON text.

    `Conversation.model_dump()` with `schema_version` and `generation` first
    and the derived `usage_total` last (pydantic's serializer is several times
    faster than `json.dumps` of a dumped dict, which matters for saves during
    streaming).
    """
    if "@" in conv.base_url:
        conv = conv.model_copy(update={"base_url": redact_url(conv.base_url)})
    body = conv.model_dump_json()
    usage = conv.usage_total.model_dump_json()
    return (f'{{"schema_version":{SCHEMA_VERSION},"generation":{generation},{body[1:-1]},'
            f'"usage_total":{usage}}}')


def read_document(data: bytes | str) -> dict[str, Any]:
    """A session file's JSON object brought to the current schema (not validated).

    Raises `StoreError` whose message is the reason the file is unreadable.
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
    return doc


def parse_document(data: bytes | str, session_id: str | None = None) -> tuple[Conversation, int]:
    """A session document (any known schema version) as a `Conversation`, and its generation.

    Raises `StoreError` whose message is the reason the document is
    unreadable. A reply still marked `streaming` (the app was killed while it
    streamed, or another window is streaming it) comes back `stopped` with the
    error `INTERRUPTED`. When `session_id` is given it wins over the id inside
    the document, so a copied file is its own session.
    """
    doc = read_document(data)
    doc.pop("schema_version", None)
    doc.pop("usage_total", None)  # derived from the messages
    generation = doc.pop("generation", 0)
    if type(generation) is not int or generation < 0:
        generation = 0
    try:
        conv = Conversation.model_validate(doc)
    except ValidationError as exc:
        raise StoreError(f"not a valid session: {_first_problem(exc)}") from None
    for message in [*conv.messages, *conv.aside, *conv.removed]:
        if message.status == "streaming":
            message.status = "stopped"
            message.error = INTERRUPTED
    if session_id is not None:
        conv.id = session_id
    return conv, generation


def parse_session(data: bytes | str, session_id: str | None = None) -> Conversation:
    """A session document as a `Conversation` (see `parse_document`)."""
    return parse_document(data, session_id)[0]


SUMMARY_FIELDS = ("id", "title", "model", "created_at", "updated_at", "message_count", "preview")
"""The fields of `SessionSummary` but `folder`, in its order: the order of a `SummaryRow` and
of the columns of the listing's index and the search index."""

SummaryRow = tuple[str, str, str, float, float, int, str]
"""A summary as plain values in `SUMMARY_FIELDS` order (`SessionSummary(*row, folder=...)`): the
garbage collector stops tracking such a tuple after one look, so 10,000 of them cost nothing."""


def summarize(conv: Conversation) -> SummaryRow:
    """The summary of a conversation, as the listing keeps it."""
    preview = ""
    for message in reversed(conv.messages):
        if message.role in ("user", "assistant") and message.content.strip():
            preview = one_line(message.content, PREVIEW_CHARS)
            break
    first_prompt = next((m.content for m in conv.messages if m.role == "user"), "")
    return (conv.id, conv.title.strip() or title_from_prompt(first_prompt), conv.model, conv.created_at,
            conv.updated_at, len(conv.messages), preview)


def summarize_document(doc: dict[str, Any], session_id: str) -> dict[str, Any]:
    """`summarize` of a session document that was read but not validated, by field name (the
    search index keeps these without building a `Conversation` for every file)."""
    messages = [m for m in doc.get("messages") or [] if isinstance(m, dict)]
    texts = [(m.get("role"), m.get("content")) for m in messages]
    preview = next((one_line(c, PREVIEW_CHARS) for r, c in reversed(texts)
                    if r in ("user", "assistant") and isinstance(c, str) and c.strip()), "")
    first = next((c for r, c in texts if r == "user"), "")
    raw_title = doc.get("title")
    title = raw_title if isinstance(raw_title, str) else ""

    def number(key: str) -> float:
        value = doc.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0

    return {
        "id": session_id,
        "title": title.strip() or title_from_prompt(first if isinstance(first, str) else ""),
        "model": doc.get("model") if isinstance(doc.get("model"), str) else "",
        "created_at": number("created_at"),
        "updated_at": number("updated_at"),
        "message_count": len(messages),
        "preview": preview,
    }


def one_line(text: str, limit: int) -> str:
    """`text` on one line (whitespace runs made one space), cut with an ellipsis at `limit`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


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
