"""Compaction: the older part of a conversation replaced by a summary the model writes,
or the oldest turns left out, with every original kept in the session file.

`plan` picks what to summarise (everything before the last N turns);
`summary_conversation` is the side conversation that asks the model for the
summary (one user message holding a transcript, so any chat template takes
it); `apply_summary` and `leave_out` change the conversation and keep what
they took out as a `Compaction`. The session runs the summary request as a
turn (`ChatSession.compact`), so it streams and Esc stops it.
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm_chat.core.context.request import turn_starts
from vllm_chat.core.conversation import Compaction, Conversation, Message, Usage
from vllm_chat.core.params import SamplingParams

SUMMARISER_PROMPT = (
    "You condense conversations so they can go on without their earlier messages. "
    "Write for the assistant who will continue the conversation, not for the user."
)
"""The system prompt of the summary request."""

INSTRUCTION = (
    "Summarise the conversation below so that it can continue from your summary alone. Keep "
    "every fact, decision, name, number, file name, code identifier and open question, what the "
    "user wants and prefers, and what was tried and how it went. Leave out greetings and "
    "repetition. Write compact notes, no preamble.\n\n<conversation>\n{transcript}\n</conversation>"
)
"""The summary request's user message (`{transcript}` is the older messages as text)."""

_CLIPPED = "\n[… {n:,} characters left out …]\n"
_OVERHEAD_TOKENS = 160
"""Tokens the summary request takes besides the transcript (prompts and template)."""


@dataclass(frozen=True)
class CompactionPlan:
    """What a compaction would take out of a conversation."""

    cut: int
    """Index of the first message kept as it is (everything before is summarised)."""
    kept_turns: int
    """How many recent turns stay word for word."""

    def older(self, conv: Conversation) -> list[Message]:
        """The messages the summary replaces."""
        return conv.messages[:self.cut]


@dataclass(frozen=True)
class CompactionStarted:
    """A compaction began: `messages` older messages are being summarised."""

    messages: int
    """How many messages the summary will replace."""
    tokens_before: int
    """The conversation's prompt size before (the server's count when `exact`)."""
    exact: bool
    """Whether `tokens_before` is the server's own count."""


@dataclass(frozen=True)
class CompactionFinished:
    """A compaction replaced older messages by a summary (or left them out)."""

    compaction: Compaction
    """What was taken out, with the token counts before and after."""
    message: Message
    """The summary (or the mark of left-out turns) that stands in their place."""


def plan(conv: Conversation, keep_turns: int) -> CompactionPlan | None:
    """What to summarise to keep the last `keep_turns` turns as they are (None when there is
    nothing older, or only an earlier summary, to summarise)."""
    starts = turn_starts(conv.messages)
    if keep_turns >= len(starts) and keep_turns:
        return None
    cut = starts[len(starts) - keep_turns] if keep_turns else len(conv.messages)
    older = conv.messages[:cut]
    if not any(m.content or m.tool_calls for m in older if m.compaction_id is None):
        return None
    return CompactionPlan(cut, keep_turns)


def transcript(messages: list[Message], char_budget: int) -> str:
    """`messages` as plain text for the summary request, at most about `char_budget`
    characters: the longest messages are shortened first (their middle left out)."""
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    entries = [_entry(m, names) for m in messages]
    entries = [e for e in entries if e[1]]
    limit = _fair_share([len(body) for _, body in entries], max(char_budget, 400))
    return "\n\n".join(f"{who}: {_clip(body, limit)}" for who, body in entries)


def _entry(m: Message, names: dict[str, str]) -> tuple[str, str]:
    if m.compaction_id is not None:
        return "Summary of what came before", m.content
    if m.role == "tool":
        name = m.name or names.get(m.tool_call_id or "", "") or "tool"
        return f"Tool result ({name})", m.content
    body = m.content
    for att in m.attachments:
        body += f"\n[{att.kind} attached: {att.name}]"
    for call in m.tool_calls:
        body += f"\n[called {call.name} with {call.arguments}]"
    return m.role.capitalize(), body.strip()


def _fair_share(sizes: list[int], budget: int) -> int:
    """The largest per-message length that keeps the total within `budget`: short
    messages stay whole and the long ones share what is left."""
    if sum(sizes) <= budget:
        return max(sizes, default=0)
    remaining, left = budget, len(sizes)
    for size in sorted(sizes):
        share = remaining // left
        if size > share:
            return max(share, 200)
        remaining -= size
        left -= 1
    return max(sizes, default=0)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 100)
    head, tail = text[:keep * 2 // 3], text[-(keep // 3):]
    return head + _CLIPPED.format(n=len(text) - len(head) - len(tail)) + tail


def transcript_budget(window: int, summary_tokens: int, tokens_per_char: float) -> int:
    """Characters of transcript that fit a summary request with room for the summary."""
    room = window - summary_tokens - _OVERHEAD_TOKENS
    return max(400, int(room / max(tokens_per_char, 0.05) * 0.9))


def summary_tokens(window: int, setting: int) -> int:
    """The summary's `max_tokens`: the setting, but at most a quarter of the window."""
    return max(32, min(setting, window // 4))


def summary_conversation(conv: Conversation, text: str, max_tokens: int) -> Conversation:
    """The side conversation that asks `conv`'s model for a summary of `text` (no tools,
    no thinking, a low temperature)."""
    params = SamplingParams(max_tokens=max_tokens, temperature=0.3, enable_thinking=False)
    return Conversation(base_url=conv.base_url, model=conv.model, system_prompt=SUMMARISER_PROMPT,
                        params=params, tools_enabled=False,
                        messages=[Message(role="user", content=INSTRUCTION.format(transcript=text))])


def apply_summary(conv: Conversation, cut: int, text: str, *, model: str, usage: Usage | None,
                  tokens_before: int, exact: bool) -> tuple[Compaction, Message]:
    """Replace `conv.messages[:cut]` with a summary message; the originals are kept."""
    record = Compaction(kind="summary", messages=conv.messages[:cut], tokens_before=tokens_before,
                        exact=exact, model=model)
    summary = Message(role="user", content=text.strip(), compaction_id=record.id, model=model, usage=usage)
    conv.messages[:cut] = [summary]
    conv.compactions.append(record)
    conv.touch()
    return record, summary


def leave_out(conv: Conversation, cut: int, *, tokens_before: int, exact: bool) -> tuple[Compaction, Message]:
    """Take `conv.messages[:cut]` (the oldest turns) out of the conversation, with a mark
    in their place; the originals are kept."""
    record = Compaction(kind="dropped", messages=conv.messages[:cut], tokens_before=tokens_before, exact=exact)
    mark = Message(role="user", content="", compaction_id=record.id)
    conv.messages[:cut] = [mark]
    conv.compactions.append(record)
    conv.touch()
    return record, mark
