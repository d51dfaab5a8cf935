"""Exporting a conversation as Markdown (to read or share) or JSON (the session file).

The Markdown keeps everything a reader needs of the branch shown: who said
what, reasoning in a collapsible `<details>` block, tool calls with
pretty-printed arguments, tool results, attachments by name, and marks on
stopped or failed replies; it says how many other versions the JSON holds.
The JSON is exactly the document the store writes, pretty-printed: the shown
branch in `messages`, the whole tree with `aside`, `forks` and `removed`.
Files are written atomically with mode 0600, like session files.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Literal

from vllm_chat.core import tree
from vllm_chat.core.conversation import Attachment, Conversation, Message
from vllm_chat.core.store import INTERRUPTED, StoreError, atomic_write, session_json
from vllm_chat.core.titles import title_from_prompt
from vllm_chat.core.urls import redact_url, redact_urls

ExportFormat = Literal["md", "json"]
"""The export formats: Markdown or the session JSON."""

_SUFFIXES: dict[str, ExportFormat] = {".md": "md", ".markdown": "md", ".json": "json"}
_HEADING_SHIFT = 2
"""How many levels a heading inside a message body moves down, so `#` nests under `## Assistant`."""
_ATX_RE = re.compile(r"^( {0,3})(#{1,6})(?=[ \t]|$)")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


class ExportError(StoreError):
    """An export failed; the message says why and what to do.

    A `StoreError`, so a caller that handles session errors handles these too.
    """


def to_json(conv: Conversation) -> str:
    """The session document the store writes (the whole tree), pretty-printed (ends with a
    newline); error texts have credentials in URLs hidden (a session saved by an older
    version may hold them)."""
    tree.link(conv)
    state = conv._disk
    generation = state.generation if state is not None and state.session_id == conv.id else 0
    doc = _without_credentials(json.loads(session_json(conv, generation)))
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _without_credentials(node: Any, in_error: bool = False) -> Any:
    """`node` (a session document or part of it) with `redact_urls` applied to the text of
    every `error` and `failure` field, wherever in the tree the message sits."""
    if isinstance(node, str):
        return redact_urls(node) if in_error else node
    if isinstance(node, list):
        return [_without_credentials(item, in_error) for item in node]
    if isinstance(node, dict):
        return {key: _without_credentials(value, in_error or key in ("error", "failure"))
                for key, value in node.items()}
    return node


def to_markdown(conv: Conversation) -> str:
    """The conversation as a Markdown document (ends with a newline)."""
    first_prompt = next((m.content for m in conv.messages if m.role == "user"), "")
    title = " ".join(conv.title.split()) or title_from_prompt(first_prompt)
    blocks = [f"# {title}", _metadata(conv)]
    if conv.system_prompt.strip():
        blocks += ["## System", nest_headings(conv.system_prompt.strip())]
    names = {c.id: c.name for m in conv.messages for c in m.tool_calls}
    for message in conv.messages:
        if message.compaction_id is not None:
            blocks += _compaction_blocks(message, conv)
            continue
        blocks += _message_blocks(message, names)
    return "\n\n".join(b for b in blocks if b) + "\n"


def export(conv: Conversation, path: Path, fmt: ExportFormat | None = None) -> Path:
    """Write `conv` to `path` as Markdown or JSON and return the path written.

    The format comes from the suffix (`.md`, `.markdown`, `.json`) when `fmt`
    is None. Raises `ExportError` for an unknown format or a path that can't
    be written.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise ExportError(f"{path} is a folder: give a file name, e.g. {path / 'chat.md'}")
    if fmt is None:
        fmt = _SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            raise ExportError(
                f"can't tell the export format from {path.name!r}: "
                "end the name with .md or .json"
            )
    if fmt not in ("md", "json"):
        raise ExportError(f"unknown export format {fmt!r}: use 'md' or 'json'")
    if not path.parent.is_dir():
        raise ExportError(f"can't export to {path}: the folder {path.parent} does not exist")
    text = to_markdown(conv) if fmt == "md" else to_json(conv)
    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as exc:
        raise ExportError(f"can't write {path}: {exc.strerror or exc}") from None
    return path


def nest_headings(text: str) -> str:
    """`text` with every Markdown heading two levels deeper (at most `######`), so a body's
    headings sit under the export's turn headings; lines inside code fences stay as they are."""
    lines = text.split("\n")
    fence = ""
    for i, line in enumerate(lines):
        opening = _FENCE_RE.match(line)
        if fence:
            if opening and _closes(fence, opening.group(1), line[opening.end():]):
                fence = ""
            continue
        if opening and not (opening.group(1)[0] == "`" and "`" in line[opening.end():]):
            fence = opening.group(1)
            continue
        heading = _ATX_RE.match(line)
        if heading:
            level = min(6, len(heading.group(2)) + _HEADING_SHIFT)
            lines[i] = heading.group(1) + "#" * level + line[heading.end():]
    return "\n".join(lines)


def _closes(fence: str, marker: str, rest: str) -> bool:
    """Whether a line starting with `marker` (then `rest`) closes a code fence opened by `fence`:
    CommonMark wants the same character, at least as many, and nothing else on the line."""
    return marker[0] == fence[0] and len(marker) >= len(fence) and not rest.strip()


def _models(conv: Conversation) -> list[str]:
    """The models that answered, in the order they first did; the current one if none is recorded."""
    answered = [m.model for m in conv.messages if m.role == "assistant" and m.model]
    return list(dict.fromkeys(answered)) or ([conv.model] if conv.model else [])


def _metadata(conv: Conversation) -> str:
    parts = []
    models = _models(conv)
    if models:
        label = "Model" if len(models) == 1 else "Models"
        parts.append(f"{label}: " + ", ".join(f"`{m}`" for m in models))
    parts.append(time.strftime("%Y-%m-%d %H:%M", time.localtime(conv.created_at)))
    if conv.base_url:
        parts.append(f"Server: {redact_url(conv.base_url)}")
    others = tree.other_versions(conv)
    if others:
        parts.append(f"{others} other version{'s' if others > 1 else ''} kept in the JSON export")
    return "*" + " · ".join(parts) + "*"


def _compaction_blocks(message: Message, conv: Conversation) -> list[str]:
    """A compaction's summary (marked as one) or the mark of left-out turns."""
    record = conv.compaction(message.compaction_id or "")
    count = len(record.messages) if record is not None else 0
    what = f"{count} earlier message{'s' if count != 1 else ''}"
    if not message.is_summary:
        return [(f"*{what.capitalize()} were left out of the conversation here to make room "
                 "(kept in the JSON export).*")]
    tokens = ""
    if record is not None and record.tokens_before is not None and record.tokens_after is not None:
        tokens = f"; {record.tokens_before:,} → {record.tokens_after:,} prompt tokens"
    return [f"## Summary of {what} (compacted)",
            f"*Written by the model in place of the {what}, which are kept in the JSON export{tokens}.*",
            nest_headings(message.content)]


def messages_markdown(messages: list[Message]) -> str:
    """`messages` as the Markdown the export writes for them (to show compacted originals)."""
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    blocks: list[str] = []
    for message in messages:
        if message.compaction_id is not None:  # an earlier compaction's summary or mark
            blocks += ["## Summary of earlier messages", nest_headings(message.content)] if message.content \
                else ["*Earlier messages were left out here.*"]
            continue
        blocks += _message_blocks(message, names)
    return "\n\n".join(b for b in blocks if b) + "\n"


def _message_blocks(message: Message, tool_names: dict[str, str]) -> list[str]:
    if message.role == "user":
        return ["## User", nest_headings(message.content), _attachments(message.attachments)]
    if message.role == "assistant":
        blocks = ["## Assistant"]
        if message.reasoning and message.reasoning.strip():
            reasoning = nest_headings(message.reasoning.strip())
            blocks.append(f"<details><summary>Reasoning</summary>\n\n{reasoning}\n\n</details>")
        blocks.append(nest_headings(message.content))
        blocks += [_tool_call(c.name, c.id, c.arguments) for c in message.tool_calls]
        blocks.append(_status_mark(message))
        blocks.append(_measures(message))
        return blocks
    if message.role == "tool":
        name = message.name or tool_names.get(message.tool_call_id or "", "") or "tool"
        status = f" ({message.tool_status})" if message.tool_status not in (None, "ok") else ""
        return [f"### Tool result: `{name}`{status}", _fenced(message.content, "")]
    return [f"## {message.role.capitalize()}", nest_headings(message.content)]


def _tool_call(name: str, call_id: str, arguments: str) -> str:
    try:
        pretty = json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
        lang = "json"
    except (ValueError, RecursionError):
        pretty, lang = arguments, ""  # shown exactly as the model sent it
    return f"**Tool call** `{name}` (`{call_id}`)\n\n{_fenced(pretty, lang)}"


def _attachments(attachments: list[Attachment]) -> str:
    lines = []
    for a in attachments:
        facts = [f for f in (a.mime, _dimensions(a), _size(a.size)) if f]
        where = f" <{a.url}>" if a.url and not a.url.startswith("data:") else ""
        detail = f" ({', '.join(facts)})" if facts else ""
        lines.append(f"- {a.kind} `{a.name}`{detail}{where}")
    return "**Attachments:**\n\n" + "\n".join(lines) if lines else ""


def _dimensions(a: Attachment) -> str:
    return f"{a.width}×{a.height}" if a.width and a.height else ""


def _size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _status_mark(message: Message) -> str:
    if message.status == "stopped":
        if message.error == INTERRUPTED:
            return "*Interrupted: the app exited while this reply was streaming.*"
        return "*Stopped by the user.*"
    if message.status == "failed":
        return f"*Failed: {redact_urls(message.error)}*" if message.error else "*Failed.*"
    if message.finish_reason == "length":
        return "*Cut off: the reply reached the token limit.*"
    if message.error:
        return f"*Note: {redact_urls(message.error)}*"
    return ""


def _measures(message: Message) -> str:
    """The reply's confidence (when logprobs were asked for) and the server's timings."""
    from vllm_chat.core.logprobs import summary

    parts = [summary(message.logprobs)]
    if message.server_metrics is not None:
        parts.append(message.server_metrics.summary())
    text = " · ".join(p for p in parts if p)
    return f"*{text}*" if text else ""


def _fenced(text: str, lang: str) -> str:
    # A fence must be longer than any run of backticks inside the text.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"
