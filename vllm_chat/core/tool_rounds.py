"""The tool side of a turn: running the calls a reply asked for, with approval, and
what is left when the user stops the turn.

`ToolRounds` is a base of `Engine` (it uses the engine's `tools`, `approval` and
`approver`); `TurnState` is what a running turn keeps: the sink of the reply
being streamed, the calls not run yet, and when the running tool started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vllm_chat.core.conversation import Conversation, Message, Timings, ToolCall
from vllm_chat.core.events import ToolApprovalNeeded, ToolCallReady, ToolResult, ToolRunning
from vllm_chat.core.streaming import ChoiceSink

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.engine import Approver
    from vllm_chat.core.tools.approval import ApprovalPolicy
    from vllm_chat.core.tools.base import ToolOutcome
    from vllm_chat.core.tools.registry import ToolRegistry

_STOPPED_BEFORE_RUN = "The user stopped the turn before this call ran; it did not run."
_STOPPED_WHILE_RUNNING = "The user stopped the turn while this call was running; it did not finish."


class StopRequested(Exception):
    """The user chose "stop" at an approval prompt: the turn ends as if Esc was pressed."""


class TurnState:
    """The message being streamed (its sink), and the tool calls of the round."""

    def __init__(self) -> None:
        self.sink: ChoiceSink | None = None
        """The reply of the current round, as it streams."""
        self.pending_calls: list[ToolCall] = []
        """Calls of the round that have no result yet."""
        self.running_since: tuple[float, float] | None = None
        """(wall clock, monotonic) when the running tool started; None when none runs."""

    @property
    def message(self) -> Message | None:
        """The assistant message of the current round."""
        return self.sink.message if self.sink is not None else None

    def begin(self, message: Message, emit: Callable[[Any], None], *, keep_text: bool) -> ChoiceSink:
        """Stream the next round into `message` (`keep_text`: it goes on from its text)."""
        self.sink = ChoiceSink(message, emit, keep_text=keep_text)
        return self.sink

    def sync(self) -> bool:
        """Copy the streamed text into the message (for saves and readers); True if that
        brought anything new."""
        return self.sink.sync() if self.sink is not None else False

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


def unanswered_calls(conv: Conversation) -> list[ToolCall]:
    """The calls of the last message, when it is a complete reply whose calls have no
    results yet (a picked candidate that asked for tools)."""
    last = conv.messages[-1] if conv.messages else None
    if last is None or last.role != "assistant" or last.status != "complete":
        return []
    return list(last.tool_calls)


class ToolRounds:
    """Running a reply's tool calls (a base of `Engine`)."""

    tools: ToolRegistry | None
    approval: ApprovalPolicy | None
    approver: Approver | None

    async def _run_calls(
        self, conv: Conversation, calls: list[ToolCall], emit: Callable[[Any], None], state: TurnState
    ) -> None:
        state.pending_calls = list(calls)
        for call in calls:
            emit(ToolCallReady(call))
        for call in calls:
            outcome = await self._run_one(call, emit, state)
            tool_msg = conv.add(
                Message(
                    role="tool",
                    tool_call_id=call.id,
                    name=call.name,
                    content=outcome.output,
                    attachments=list(outcome.attachments),
                    tool_status=outcome.status,
                    timings=state.finish_running(),
                )
            )
            state.pending_calls.remove(call)
            emit(ToolResult(call, tool_msg))

    async def _run_one(self, call: ToolCall, emit: Callable[[Any], None], state: TurnState) -> ToolOutcome:
        from vllm_chat.core.tools.approval import Decision
        from vllm_chat.core.tools.base import ToolOutcome

        if self.tools is None:
            return ToolOutcome("error", "Error: tools are switched off in this client; answer without them.")
        problem = self.tools.check(call)
        if problem is not None:
            return problem  # nobody should approve a call that can't run anyway
        # In a thread: deciding may read the start of the file a call names (a secret?).
        if self.approval is not None and await asyncio.to_thread(self.approval.needs_prompt, call):
            emit(ToolApprovalNeeded(call))
            decision = await self.approver(call) if self.approver is not None else Decision.DENY
            if decision is Decision.STOP:
                raise StopRequested
            await asyncio.to_thread(self.approval.record, call, decision)
            if decision == Decision.DENY:
                return self.approval.denied_outcome(call)
        emit(ToolRunning(call, state.start_running()))
        return await self.tools.execute(call)

    def _mark_stopped(self, conv: Conversation, state: TurnState, emit: Callable[[Any], None]) -> None:
        state.sync()
        msg = state.message
        if msg is not None and msg.status == "streaming":
            msg.status = "stopped"
            if state.sink is not None and state.sink.assembler:
                # Calls cut off mid-stream never run; they are kept so the session shows
                # them as the user saw them (`request_messages` keeps them out of requests).
                msg.tool_calls = state.sink.calls()
        for call in state.pending_calls:
            ran = state.running_since is not None
            timings = state.finish_running()
            tool_msg = conv.add(Message(
                role="tool", tool_call_id=call.id, name=call.name, tool_status="error", status="stopped",
                content=_STOPPED_WHILE_RUNNING if ran else _STOPPED_BEFORE_RUN, timings=timings,
            ))
            emit(ToolResult(call, tool_msg))
        state.pending_calls = []
        conv.touch()
