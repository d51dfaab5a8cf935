"""What the engine keeps while it streams one reply, and how a reply's `max_tokens` is fitted
to the room the context window leaves.

Split from `engine.py` to keep that module about the turn loop itself.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from vllm_chat.core.assembler import ToolCallAssembler
from vllm_chat.core.conversation import Message, Timings, ToolCall


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


async def fit_max_tokens(request: dict[str, Any],
                         reply_room: Callable[[dict[str, Any]], Awaitable[int | None]] | None,
                         message: Message) -> None:
    """Lower the request's `max_tokens` to the room the context window leaves for the reply
    (see `TurnOptions.reply_room`), and record the limit on `message`."""
    wanted = request.get("max_tokens")
    if reply_room is None or not wanted:
        return
    room = await reply_room(request)
    # No room at all: the prompt alone fills the window, and the server's own error says so.
    if room is not None and 1 <= room < wanted:
        request["max_tokens"] = message.reply_limit = room
