"""Streaming one request into one or more messages: the piece every kind of turn shares.

A request streams *choices* (`n` > 1 interleaves their indexes, choice 0 a step
ahead; beam search sends each beam whole at the end). `ChoiceSink` takes the
deltas of one choice into one assistant message: reasoning, answer text,
tool-call fragments (as the same events a plain turn emits), its own timings
(TTFT, duration) and token count. `stream_choices` runs one request and feeds
every chunk to the sink of its choice. The engine's turn uses it with one sink
for choice 0; N candidates use one sink per choice of one request; a model
comparison runs one request per model, each with one sink.

Text is kept in lists and joined into the message only on `sync()` (every
`SYNC_EVERY` seconds while chunks arrive, and at the end), so a long reply
costs linear time, not a string copy per token.

A server may send anything: the client's stream guard leaves malformed chunks
out and notes them in the request's `FaultLog` (each sink's `faults`), and the
chunks that do arrive are read field by field with `getattr`, since the SDK
builds them without validation (a field the server left out is a missing
attribute). `with_faults` and `fault_warning` word what was skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from vllm_chat.core.assembler import ToolCallAssembler
from vllm_chat.core.client import ChatClient
from vllm_chat.core.conversation import Failure, Message, Timings, ToolCall, Usage
from vllm_chat.core.errors import ChatError
from vllm_chat.core.events import ContentDelta, Event, ReasoningDelta, UsageUpdated
from vllm_chat.core.generation.completion import is_completion
from vllm_chat.core.logprobs import TokenKind
from vllm_chat.core.reply_capture import ReplyCapture
from vllm_chat.core.stream_guard import FaultLog, describe_faults

SYNC_EVERY = 0.2
"""Seconds between copies of the streamed text into the messages, for periodic saves."""

YIELD_EVERY = 0.008
"""Seconds of reading chunks before the event loop gets a turn (keys, frames)."""


class ChoiceSink:
    """One choice of a request being streamed into `message`."""

    def __init__(self, message: Message, emit: Callable[[Event], None], *, keep_text: bool = False) -> None:
        """`emit` hears this choice's events; `keep_text` continues the message's text (a
        continued reply) instead of starting it empty."""
        self.message = message
        """The assistant message this choice is written into."""
        self.emit = emit
        """Where this choice's events go."""
        # Appending to lists and joining now and then keeps long replies linear;
        # `str +=` on a model attribute would copy the whole text per token.
        self.content: list[str] = [message.content] if keep_text and message.content else []
        self.reasoning: list[str] = [message.reasoning] if keep_text and message.reasoning else []
        self.assembler = ToolCallAssembler()
        """This choice's tool calls as they stream."""
        self.sent_at = time.monotonic()
        """`time.monotonic()` when the request was sent."""
        self.first_at: float | None = None
        """`time.monotonic()` of the first reasoning, text or tool-call piece."""
        self.ended_at: float | None = None
        """`time.monotonic()` when this choice's finish reason (or the stream's end) came."""
        self.finish_reason: str | None = None
        """The finish reason, once it came."""
        self.tokens = 0
        """Tokens generated so far: the server's own count when it reports one per chunk
        (`continuous_usage_stats`), else the pieces received (a near count)."""
        self._counted_by_server = False
        self.capture: ReplyCapture | None = None
        """Where this choice's request, per-request metrics and logprobs are kept (the
        engine's turns set it; candidates keep none)."""
        self.faults = FaultLog()
        """Malformed chunks the stream guard left out of the request this choice came in
        (shared by the choices of one request)."""

    def restart(self) -> None:
        """The request is sent again (nothing of it had arrived): time it from now."""
        self.sent_at = time.monotonic()
        self.first_at = self.ended_at = None

    def take(self, choice: Any) -> None:
        """One `choices[i]` entry of a chunk for this choice."""
        delta = getattr(choice, "delta", None)
        reasoning = getattr(delta, "reasoning", None) or getattr(delta, "reasoning_content", None)
        content = getattr(delta, "content", None)
        calls = getattr(delta, "tool_calls", None)
        arrived = False
        if reasoning:
            self.reasoning.append(reasoning)
            self.emit(ReasoningDelta(reasoning))
            arrived = True
        if content:
            self.content.append(content)
            self.emit(ContentDelta(content))
            arrived = True
        if calls:
            for entry in calls:
                self.emit(self.assembler.add(entry))
            arrived = True
        logprobs = getattr(choice, "logprobs", None)
        if self.capture is not None and logprobs is not None:
            kind: TokenKind = "reasoning" if reasoning else "tool" if calls else "content"
            self.capture.logprobs(logprobs, kind, reasoning or content)
        if arrived:
            if self.first_at is None:
                self.first_at = time.monotonic()
            if not self._counted_by_server:
                self.tokens += 1
        finish = getattr(choice, "finish_reason", None)
        if finish:
            self.finish_reason = finish
            self.ended_at = time.monotonic()

    def count(self, completion_tokens: int) -> None:
        """The server's running token count for this choice (`continuous_usage_stats`). The
        role chunk's 0 says nothing yet: a server that counts only there (older simulations of
        beam search) leaves the count to the pieces."""
        if completion_tokens or self._counted_by_server:
            self._counted_by_server = True
            self.tokens = completion_tokens

    def set_usage(self, usage: Usage) -> None:
        """The usage of this choice, once the server reported it."""
        self.message.usage = usage
        self.emit(UsageUpdated(usage))

    def sync(self) -> bool:
        """Copy the streamed text into the message (for saves and readers); True if that
        brought anything new."""
        content = "".join(self.content)
        changed = content != self.message.content
        self.message.content = content
        if self.reasoning:
            reasoning = "".join(self.reasoning)
            changed = changed or reasoning != self.message.reasoning
            self.message.reasoning = reasoning
        return changed

    def finish_timings(self) -> None:
        """Write TTFT and duration into the message (the stream ended, or was cut)."""
        timings = self.message.timings
        if timings is None:
            return
        end = self.ended_at if self.ended_at is not None else time.monotonic()
        timings.duration = end - self.sent_at
        timings.ttft = (self.first_at - self.sent_at) if self.first_at is not None else None

    def calls(self) -> list[ToolCall]:
        """The tool calls assembled so far."""
        return self.assembler.calls() if self.assembler else []

    def tokens_per_second(self, now: float) -> float | None:
        """Speed after the first token so far, or None while it can't be measured (as
        `Timings.tokens_per_second`: too few tokens or too short a span says nothing)."""
        if self.first_at is None or self.tokens < 8:
            return None
        span = (self.ended_at if self.ended_at is not None else now) - self.first_at
        return (self.tokens - 1) / span if span >= 0.25 else None


async def stream_choices(client: ChatClient, request: dict[str, Any], sinks: dict[int, ChoiceSink]) -> None:
    """Stream `request`, feeding each choice to its sink (choices without a sink are
    dropped), and the usage: the final usage goes to the only sink whole, or, with several
    choices, split by each choice's own count. Texts are synced into the messages every
    `SYNC_EVERY` seconds and at the end; exceptions from the client propagate. Malformed
    chunks are skipped and noted in the sinks' (one, shared) `faults`."""
    last_sync = last_yield = time.monotonic()
    stream = client.stream_completion if is_completion(request) else client.stream_chat
    faults = FaultLog()
    for sink in sinks.values():
        sink.faults = faults
    try:
        async for chunk in stream(request, faults):
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                for capture in (s.capture for s in sinks.values() if s.capture is not None):
                    capture.usage_chunk(chunk)  # vLLM's per-request metrics ride with the usage
            choices = getattr(chunk, "choices", None) or ()
            for choice in choices:
                target = sinks.get(getattr(choice, "index", None) or 0)
                if target is None:
                    continue
                target.take(choice)
                if usage is not None:
                    # `continuous_usage_stats`: a chunk's usage counts its own choice's tokens.
                    target.count(getattr(usage, "completion_tokens", None) or 0)
            if usage is not None and not choices:
                _final_usage(usage, sinks)
            now = time.monotonic()
            if now - last_sync > SYNC_EVERY:
                for sink in sinks.values():
                    sink.sync()
                last_sync = now
            if now - last_yield > YIELD_EVERY:
                # Chunks already in the socket's buffer come without a real wait: a fast
                # server would otherwise hold the event loop (and every key) until drained.
                await asyncio.sleep(0)
                last_yield = time.monotonic()
    finally:
        now = time.monotonic()
        for sink in sinks.values():
            if sink.ended_at is None:
                sink.ended_at = now  # stopped or cut: its speed is measured up to here
            sink.sync()
            sink.finish_timings()


def _final_usage(usage: Any, sinks: dict[int, ChoiceSink]) -> None:
    if len(sinks) == 1:
        sink = next(iter(sinks.values()))
        sink.set_usage(usage_of(usage))
        if not sink._counted_by_server:
            sink.count(getattr(usage, "completion_tokens", None) or 0)
        return
    prompt = getattr(usage, "prompt_tokens", None) or 0
    for sink in sinks.values():
        sink.set_usage(Usage(prompt_tokens=prompt, completion_tokens=sink.tokens))


def usage_of(usage: Any) -> Usage:
    """The SDK's usage object as ours (reasoning tokens when the server counted them;
    fields a server left out count as 0)."""
    details = getattr(usage, "completion_tokens_details", None)
    reasoning = getattr(details, "reasoning_tokens", None) if details is not None else None
    return Usage(
        prompt_tokens=getattr(usage, "prompt_tokens", None) or 0,
        completion_tokens=getattr(usage, "completion_tokens", None) or 0,
        reasoning_tokens=reasoning,
    )


def with_faults(error: ChatError, faults: FaultLog) -> ChatError:
    """`error`, saying also what was malformed in the stream before it ended (often the cause)."""
    if not faults:
        return error
    return replace(error, message=f"{error.message} {describe_faults(faults)}")


def settle_warning(message: Message, faults: FaultLog) -> None:
    """Note on a reply that ended well what the stream guard skipped (the reply is complete
    but may miss a piece), and that a tool call cut off by its finish reason was not run."""
    finish = message.finish_reason
    cut_call = (f"The reply ended ({finish}) while a tool call was being written; the call was not run."
                if message.tool_calls and finish not in ("tool_calls", "stop") else "")
    message.error = " ".join(filter(None, [cut_call, describe_faults(faults)])) or None


def fail(message: Message, error: ChatError) -> None:
    """Mark `message` failed, keeping the whole explanation for a reload."""
    message.status, message.error, message.failure = "failed", error.message, Failure.of(error)


def attachment_failure(exc: Exception) -> ChatError:
    """The error of a turn whose request can't be built because a media file the session
    refers to is gone or its reference was edited: the session data's fault; nothing was sent."""
    return ChatError(
        "attachment",
        f"An attachment of this conversation can't be sent: {exc}",
        "The conversation is kept. This comes from the session's data, not a bug in vllm-chat.",
    )


def truncated() -> ChatError:
    """The error of a reply whose stream ended without a finish reason."""
    return ChatError(
        "truncated",
        "The reply ended without a finish signal: the server or a proxy cut the stream.",
        "The partial reply is kept. Retry the turn.",
        retryable=True,
    )


def new_reply(model: str) -> Message:
    """An empty assistant message about to be streamed from `model`, timed from now."""
    return Message(role="assistant", status="streaming", model=model, timings=Timings(started_at=time.time()))
