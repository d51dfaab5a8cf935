"""What one turn carries between its steps: the message being streamed, and the helpers
that read a chunk's usage and word a failure with the stream's faults.

Split from `engine.py`: the engine's loop uses these, nothing else does.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from vllm_chat.core.assembler import ToolCallAssembler
from vllm_chat.core.conversation import Message, Timings, ToolCall, Usage
from vllm_chat.core.errors import ChatError
from vllm_chat.core.stream_guard import FaultLog, describe_faults


class TurnState:
    """The message being streamed, with its text kept in lists until synced."""

    def __init__(self) -> None:
        self.message: Message | None = None
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.assembler: ToolCallAssembler | None = None
        self.pending_calls: list[ToolCall] = []
        self.running_since: tuple[float, float] | None = None

    def begin(self, message: Message, *, keep_text: bool) -> None:
        self.message = message
        self.assembler = None
        # Appending to lists and joining now and then keeps long replies linear;
        # `str +=` on a model attribute would copy the whole text per token.
        self.content = [message.content] if keep_text and message.content else []
        self.reasoning = [message.reasoning] if keep_text and message.reasoning else []

    def sync(self) -> None:
        """Copy the streamed text into the message (for saves and readers)."""
        if self.message is None:
            return
        self.message.content = "".join(self.content)
        if self.reasoning:
            self.message.reasoning = "".join(self.reasoning)

    def start_running(self) -> float:
        """Note that a tool starts now; returns `time.monotonic()` for `ToolRunning`."""
        now = time.monotonic()
        self.running_since = (time.time(), now)
        return now

    def finish_running(self) -> Timings | None:
        """How long the tool that was running took (None if none ran), kept in its result
        so a reloaded session shows the same duration as the live panel did."""
        if self.running_since is None:
            return None
        wall, started = self.running_since
        self.running_since = None
        return Timings(started_at=wall, duration=time.monotonic() - started)


def with_faults(error: ChatError, faults: FaultLog) -> ChatError:
    """`error`, saying also what was malformed in the stream before it ended (often the cause)."""
    if not faults:
        return error
    return replace(error, message=f"{error.message} {describe_faults(faults)}")


def usage_from(usage: Any) -> Usage:
    """The app's `Usage` from a chunk's usage object (fields may be missing)."""
    details = getattr(usage, "completion_tokens_details", None)
    reasoning = getattr(details, "reasoning_tokens", None) if details is not None else None
    return Usage(
        prompt_tokens=getattr(usage, "prompt_tokens", None) or 0,
        completion_tokens=getattr(usage, "completion_tokens", None) or 0,
        reasoning_tokens=reasoning,
    )
