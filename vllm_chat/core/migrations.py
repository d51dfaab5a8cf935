"""Upgrading session documents written by older versions of vllm-chat.

A session file carries `schema_version`. `migrate()` takes the parsed JSON
object of any known version and returns it in the current shape, one small
step per version, so that a file is never rewritten until the user changes the
session (the store saves the current version then). A version newer than this
code knows, or a missing version, is refused with a reason the session list
can show.

Version history:

**1** (vllm-chat 0.1) differed from version 2 in these ways:

- times were ISO 8601 strings: `created` / `updated` on the session,
  `created` on each message (version 2: epoch seconds in `created_at` /
  `updated_at`);
- the server was `server` and the sampling options `sampling` (version 2:
  `base_url` and `params`);
- token totals were flat integers `prompt_tokens_total` and
  `completion_tokens_total` (version 2 writes a derived `usage_total` object
  and recomputes it from the messages on load);
- an assistant message kept its reasoning in `reasoning_content` (the vLLM
  wire name; version 2: `reasoning`), its tool calls in OpenAI wire shape
  `{"id", "type": "function", "function": {"name", "arguments"}}`
  (version 2: flat `{"id", "name", "arguments"}`) and its timings as flat
  `ttft` / `duration` seconds, timed from the message's `created` time
  (version 2: a `timings` object with `started_at`);
- message status was `done`, `stopped` or `error` (version 2: `complete`,
  `stopped`, `failed`; `streaming` is new);
- a tool message said `is_error: true|false` (version 2: `tool_status`
  `ok` / `error` / `denied`);
- an attachment was `{"type", "name", "path", "mime"}` (version 2: `kind`,
  `ref`, plus sizes and `url`);
- there were no `branches` and no per-session `tools_enabled`.

**2** (vllm-chat 0.2) differed from version 3 in these ways:

- what an edit, a regeneration or a deletion replaced was kept in `branches`:
  a list of `{"id", "parent_message_id", "messages", "created_at"}`, each a
  run of messages that had followed the message `parent_message_id`;
- messages had no `parent_id`, and there were no `aside`, `forks`,
  `removed`, `origin` or `generation`.

  Version 3 holds a tree. Each message of the shown branch gets the previous
  one's id as `parent_id`; each message of a branch the previous message of
  that branch (the first one: `parent_message_id`). A branch whose first
  message has the role of another message that follows the same point (a
  reply next to a reply, a prompt next to a prompt) was an earlier version
  and goes to `aside`, and every point with several versions gets a `forks`
  entry (oldest first; the shown one chosen). Any other branch was a
  deletion and goes to `removed`. Messages without an id get one.

**3** (current): `Conversation.model_dump()` plus `schema_version`,
`generation` (how many times the file was saved; a save compares it to
notice another writer) and a derived `usage_total`. The generation controls
came within version 3, every one optional (a file without them reads as a
chat with none set): the conversation's `kind` (`chat` or `completion`),
`constraint` and `reasoning_controls`, and each reply's `check` and
`reasoning_controls`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

CURRENT_VERSION = 3
"""The schema version this code writes."""


class MigrationError(ValueError):
    """A document that no migration can bring to the current version (the reason is the message)."""


def migrate(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` brought up to `CURRENT_VERSION` (a new dict; `doc` is left as it was).

    Raises `MigrationError` for a missing, malformed or too new
    `schema_version`. Shape problems that a step can't fix are left for model
    validation to report.
    """
    version = doc.get("schema_version")
    if version is None:
        raise MigrationError("not a vllm-chat session (it has no schema_version)")
    if type(version) is not int or version < 1:
        raise MigrationError(f"schema_version {version!r} is not a version number")
    if version > CURRENT_VERSION:
        raise MigrationError(
            f"written by a newer vllm-chat (schema_version {version}; this version reads up to "
            f"{CURRENT_VERSION}): upgrade vllm-chat to open it"
        )
    out = dict(doc)
    while version < CURRENT_VERSION:
        out = _STEPS[version](out)
        version += 1
        out["schema_version"] = version
    return out


def _epoch(value: Any, where: str) -> Any:
    """An ISO 8601 string as epoch seconds; other values pass through for validation to judge."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MigrationError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # version 1 wrote UTC
    return parsed.timestamp()


_V1_STATUS = {"done": "complete", "stopped": "stopped", "error": "failed"}


def _v1_tool_call(call: Any) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return call
    fn = call["function"]
    return {"id": call.get("id"), "name": fn.get("name"), "arguments": fn.get("arguments", "")}


def _v1_attachment(att: Any) -> Any:
    if not isinstance(att, dict):
        return att
    out = {k: v for k, v in att.items() if k not in ("type", "path")}
    if "type" in att:
        out["kind"] = att["type"]
    if "path" in att:
        out["ref"] = att["path"]
    return out


def _v1_message(msg: Any, where: str) -> Any:
    if not isinstance(msg, dict):
        return msg
    out = dict(msg)
    if "created" in out:
        out["created_at"] = _epoch(out.pop("created"), f"{where}.created")
    if "reasoning_content" in out:
        out["reasoning"] = out.pop("reasoning_content")
    if isinstance(out.get("tool_calls"), list):
        out["tool_calls"] = [_v1_tool_call(c) for c in out["tool_calls"]]
    if isinstance(out.get("attachments"), list):
        out["attachments"] = [_v1_attachment(a) for a in out["attachments"]]
    if "status" in out:
        out["status"] = _V1_STATUS.get(out["status"], out["status"])
    if "is_error" in out:
        out["tool_status"] = "error" if out.pop("is_error") else "ok"
    ttft, duration = out.pop("ttft", None), out.pop("duration", None)
    if ttft is not None or duration is not None:
        out["timings"] = {"started_at": out.get("created_at", 0.0), "ttft": ttft, "duration": duration}
    return out


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    if "created" in out:
        out["created_at"] = _epoch(out.pop("created"), "created")
    if "updated" in out:
        out["updated_at"] = _epoch(out.pop("updated"), "updated")
    if "server" in out:
        out["base_url"] = out.pop("server")
    if "sampling" in out:
        out["params"] = out.pop("sampling")
    out.pop("prompt_tokens_total", None)
    out.pop("completion_tokens_total", None)
    if isinstance(out.get("messages"), list):
        out["messages"] = [
            _v1_message(m, f"messages.{i}") for i, m in enumerate(out["messages"])
        ]
    out.setdefault("branches", [])
    return out


def _with_id(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    out = dict(message)
    if not isinstance(out.get("id"), str):
        out["id"] = uuid.uuid4().hex
    return out


def _created(message: dict[str, Any]) -> float:
    value = message.get("created_at")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    branches = out.pop("branches", None)
    shown = out.get("messages")
    if not isinstance(shown, list):
        return out  # validation will say what is wrong
    shown = [_with_id(m) for m in shown]
    seen = {m["id"] for m in shown if isinstance(m, dict)}
    parent = None
    for message in shown:
        if isinstance(message, dict):
            message["parent_id"] = parent
            parent = message["id"]
    out["messages"] = shown
    # Each branch as a chain hanging off its parent; duplicate ids (a hand-edited file) are dropped.
    chains: list[list[dict[str, Any]]] = []
    for branch in branches if isinstance(branches, list) else []:
        if not isinstance(branch, dict) or not isinstance(branch.get("messages"), list):
            continue
        parent = branch.get("parent_message_id")
        chain = []
        for message in map(_with_id, branch["messages"]):
            if not isinstance(message, dict) or message["id"] in seen:
                continue
            seen.add(message["id"])
            message["parent_id"] = parent
            parent = message["id"]
            chain.append(message)
        if chain:
            chains.append(chain)
    # The children that are surely versions: the shown ones and the later messages of each run.
    solid: dict[Any, list[dict[str, Any]]] = {}
    for message in shown + [m for chain in chains for m in chain[1:]]:
        if isinstance(message, dict):
            solid.setdefault(message["parent_id"], []).append(message)
    aside: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    for chain in chains:
        head = chain[0]
        if any(c.get("role") == head.get("role") for c in solid.get(head["parent_id"], [])):
            aside += chain
        else:
            removed += chain
    out["aside"], out["removed"] = aside, removed
    shown_child = {m["parent_id"]: m["id"] for m in shown if isinstance(m, dict)}
    children: dict[Any, list[dict[str, Any]]] = {}
    for message in [m for m in shown if isinstance(m, dict)] + aside:
        children.setdefault(message["parent_id"], []).append(message)
    forks = []
    for after, kids in children.items():
        if len(kids) < 2:
            continue
        kids = sorted(kids, key=_created)
        chosen = shown_child.get(after)
        if chosen is None:  # off the shown branch: the run that continued was the one shown
            chosen = next((m["id"] for m in reversed(kids) if m in solid.get(after, [])), kids[-1]["id"])
        forks.append({"after": after, "options": [m["id"] for m in kids], "chosen": chosen})
    out["forks"] = forks
    return out


_STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3}
"""`_STEPS[n]` turns a version-n document into a version n+1 document."""
