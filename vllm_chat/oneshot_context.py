"""One-shot mode and the context window: `--count`, `--compact`, and the check before sending.

`vllm-chat -p … --count` prints the exact prompt size of the request the
prompt would make (and the model's `max_model_len`) without generating.
Before a one-shot turn is sent, the request is measured; one that would not
fit is not sent: the explanation goes to stderr (the ways out spelled as
flags) and the exit status is 1, instead of a server 400. `--compact`
compacts a continued session first; `context.auto_compact_at` does it when
the prompt passes that share of the window.
"""

from __future__ import annotations

import sys
from typing import Any

from vllm_chat.core import format as fmt
from vllm_chat.core.context.compaction import CompactionFinished
from vllm_chat.core.context.fit import SendCheck
from vllm_chat.core.errors import ChatError, render_hint
from vllm_chat.core.events import TurnFailed, TurnStopped
from vllm_chat.core.session import ChatSession, NothingToCompact
from vllm_chat.core.text import json_text, message_text

PART_NAMES = {"draft": "prompt"}
"""How `--count` names the parts of a breakdown (the draft is the prompt given with -p)."""


async def print_count(session: ChatSession, prompt: str, attachments: list[Any], *, as_json: bool) -> int:
    """`--count`: print the prompt's size as the server counts it; 1 when it can't count."""
    session.set_draft(prompt, attachments)
    breakdown = await session.context_breakdown()
    window, exact = breakdown.max_model_len, breakdown.total_exact
    parts = {PART_NAMES.get(name, name): tokens for name, tokens in breakdown.parts}
    if as_json:
        doc: dict[str, Any] = {"prompt_tokens": breakdown.total if exact else None, "max_model_len": window,
                               "parts": parts, "parts_exact": breakdown.exact}
        if not exact:
            doc["estimate"] = breakdown.total
            doc["error"] = {"kind": "count", "message": _cant_count(breakdown.note)}
        sys.stdout.write(json_text(doc) + "\n")
    elif exact:
        sys.stdout.write(f"{breakdown.total} prompt tokens" + (f" of {window} (max_model_len)\n" if window else "\n"))
        width = max(len(name) for name in parts)
        about = "" if breakdown.exact else "~"
        for name, tokens in parts.items():
            sys.stdout.write(f"  {message_text(name):<{width}}  {about}{tokens}\n")
    if not exact:
        sys.stderr.write(f"vllm-chat: {message_text(_cant_count(breakdown.note))} (about {breakdown.total} tokens)\n")
        return 1
    return 0


def _cant_count(note: str) -> str:
    return f"the server can't count the prompt exactly: {note.removeprefix('estimate: ')}"


async def compact_first(session: ChatSession, err: Any) -> ChatError | None:
    """Compact the conversation before the turn; says on stderr how it went. Returns the
    error that stopped it (None when it compacted, or had nothing to compact)."""
    try:
        async for event in session.compact():
            match event:
                case CompactionFinished(compaction=record):
                    before, after = record.tokens_before or 0, record.tokens_after or 0
                    err.write(f"vllm-chat: compacted {len(record.messages)} older messages: "
                              f"{fmt.count(before)} → {fmt.count(after)} tokens\n")
                case TurnFailed(error=error):
                    return error
                case TurnStopped():
                    return ChatError("internal", "The compaction was stopped.")
    except NothingToCompact as exc:
        err.write(f"vllm-chat: {message_text(str(exc))}\n")
    return None


def refusal(check: SendCheck, steps: dict[str, str], *, continuing: bool) -> ChatError:
    """Why the request is not sent, as the error one-shot mode reports, with its ways out."""
    ways = []
    compact = check.offer("compact")
    if compact is not None and continuing:
        ways.append(f"--compact summarises the {compact.messages} older messages first")
    if check.offer("drop") is not None and continuing:
        ways.append("{new-conversation} starts afresh")
    attachments = check.offer("attachments")
    if attachments is not None:
        ways.append("leave out the attachments (-a)")
    tools = check.offer("tools")
    if tools is not None:
        ways.append(f"--no-tools leaves out the tool schemas ({fmt.count(tools.saves)} tokens)")
    ways.append("shorten the prompt")
    hint = render_hint("; ".join(ways) + ".", steps)
    return ChatError("context_length", check.explanation(), hint[:1].upper() + hint[1:],
                     details={"max_model_len": check.max_model_len, "prompt_tokens": check.prompt_tokens})
