"""`/v1/completions` stream chunks in the shape of chat chunks.

A completion chunk carries `choices[i].text` where a chat chunk carries
`choices[i].delta.content`; it has no role chunk, no reasoning and no tool
calls (vLLM's wire format, capture round2/12). Seen through this shape, a
completion streams through exactly the engine path a chat reply takes:
the same events, timings, usage, finish reasons, stop and continue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A chat delta holding only text (what a completion choice carries)."""

    content: str | None
    """The piece of text (None for a chunk without any)."""
    reasoning: None = None
    """Completions have no separate reasoning."""
    reasoning_content: None = None
    """The older name of `reasoning`; always None here too."""
    tool_calls: None = None
    """Completions never call tools."""
    role: None = None
    """Completion chunks have no role chunk."""


@dataclass(frozen=True, slots=True)
class TextChoice:
    """One choice of a completion chunk, as a chat choice."""

    index: int
    """The choice index (`n` > 1 interleaves them)."""
    delta: TextDelta
    """The text as a delta."""
    finish_reason: str | None
    """`stop`, `length`, `abort` ... on the choice's last chunk."""
    stop_reason: Any = None
    """The stop string or token id that ended it, as vLLM reports it."""
    logprobs: Any = None
    """The legacy completions logprobs object, when asked for."""


@dataclass(frozen=True, slots=True)
class TextChunk:
    """A completion chunk as a chat chunk."""

    id: str
    """The response id (`cmpl-...`)."""
    model: str
    """The model that wrote it."""
    choices: list[TextChoice] = field(default_factory=list)
    """Its choices (empty on the final usage chunk)."""
    usage: Any = None
    """Token usage, on the final chunk when `include_usage` was asked for."""


def as_chat_chunk(chunk: Any) -> TextChunk:
    """The SDK's `Completion` chunk as a `TextChunk`."""
    choices = [
        TextChoice(index=c.index or 0, delta=TextDelta(c.text or None), finish_reason=c.finish_reason,
                   stop_reason=getattr(c, "stop_reason", None), logprobs=getattr(c, "logprobs", None))
        for c in chunk.choices or []
    ]
    return TextChunk(id=chunk.id, model=chunk.model, choices=choices, usage=getattr(chunk, "usage", None))
