"""One user turn: stream the reply, run the tools it asks for, continue until done.

`Engine.run(conversation)` is an async iterator of events (see `events.py`).
The work happens in a task of its own, so `Engine.stop()` can interrupt it at
any await (streaming, waiting for approval, running a tool), and so does the
user's "stop" at an approval prompt: the stream is closed (vLLM then aborts
the generation), the partial reply is kept and marked stopped, calls that
never ran get a result saying so (status `stopped`, so the history stays
valid for the next request and a reloaded session shows what the user saw),
and `TurnStopped` is the last event.

A call that was cut off while its arguments streamed (by Esc, or by
`finish_reason` length) is kept in the message for display but never runs,
and `turn_request.request_messages` leaves calls without results out of every request.

Send, regenerate and continue all come through here, so they share one path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from vllm_chat.core.assembler import ToolCallAssembler
from vllm_chat.core.client import ChatClient
from vllm_chat.core.conversation import (
    Conversation,
    Failure,
    Message,
    Timings,
    ToolCall,
    Usage,
)
from vllm_chat.core.errors import ChatError
from vllm_chat.core.events import (
    ContentDelta,
    Event,
    ReasoningDelta,
    ToolApprovalNeeded,
    ToolCallReady,
    ToolResult,
    ToolRunning,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnStopped,
    UsageUpdated,
)
from vllm_chat.core.tool_media import only_tool_media, without_tool_media
from vllm_chat.core.turn_request import TurnOptions, build_request, default_messages, request_messages

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.tools.approval import ApprovalPolicy, Decision
    from vllm_chat.core.tools.base import ToolOutcome
    from vllm_chat.core.tools.registry import ToolRegistry

Approver = Callable[[ToolCall], Awaitable["Decision"]]
"""Asks the user about one call; returns allow once / allow for the session / deny."""

_SYNC_EVERY = 0.2
"""Seconds between copies of the streamed text into the message, for periodic saves."""

_STOPPED_BEFORE_RUN = "The user stopped the turn before this call ran; it did not run."
_STOPPED_WHILE_RUNNING = "The user stopped the turn while this call was running; it did not finish."


@dataclass
class _Round:
    message: Message
    calls: list[ToolCall]
    error: ChatError | None = None


class _End:
    """Marks the end of the event queue."""


class _StopRequested(Exception):
    """The user chose "stop" at an approval prompt: the turn ends as if Esc was pressed."""


_END = _End()


class Engine:
    """Runs turns against a `ChatClient`, with optional tools and approval."""

    def __init__(
        self,
        client: ChatClient,
        *,
        tools: ToolRegistry | None = None,
        approval: ApprovalPolicy | None = None,
        approver: Approver | None = None,
        max_rounds: int = 8,
    ) -> None:
        self.client = client
        """The server connection."""
        self.tools = tools
        """The tools the model may call (None: no tools at all)."""
        self.approval = approval
        """Which calls need the user's approval, and what was already allowed."""
        self.approver = approver
        """Asks the user; without one, calls that need approval are denied."""
        self.max_rounds = max_rounds
        """Requests per turn before the loop is stopped."""
        self.text_only_models: set[str] = set()
        """Models that refused images in tool results: their requests carry a note instead."""
        self._task: asyncio.Task[None] | None = None
        self._state: _TurnState | None = None

    @property
    def running(self) -> bool:
        """True while a turn is in progress."""
        return self._task is not None and not self._task.done()

    def stop(self) -> bool:
        """Stop the current turn at once; False if nothing was running."""
        if self.running:
            assert self._task is not None
            self._task.cancel()
            return True
        return False

    def sync(self) -> None:
        """Copy the text streamed so far into the message being written.

        The engine does this every `_SYNC_EVERY` seconds while chunks arrive and
        at the end of each reply; call it before saving while the stream stalls.
        """
        if self._state is not None:
            self._state.sync()

    async def run(
        self,
        conv: Conversation,
        options: TurnOptions | None = None,
        *,
        on_idle: Callable[[], None] | None = None,
        idle_every: float = 1.0,
    ) -> AsyncIterator[Event]:
        """Run one turn on `conv` (whose last message is the user's) and yield its events.

        `on_idle` is called (after `sync`) whenever `idle_every` seconds pass
        without an event: a stalled stream, a long tool run, a pending approval.
        The session recorder uses it to save text that arrived before a stall.
        """
        if self.running:
            raise RuntimeError("a turn is already running")
        queue: asyncio.Queue[Event | _End] = asyncio.Queue()
        self._task = asyncio.create_task(self._produce(conv, options or TurnOptions(), queue.put_nowait))
        last_event = [time.monotonic()]
        # One watchdog per turn rather than a timeout on every `queue.get()`: that would
        # cost a timer and a task per token on the streaming path.
        watchdog = asyncio.create_task(self._watch(last_event, on_idle, idle_every)) if on_idle else None
        try:
            while True:
                event = await queue.get()
                last_event[0] = time.monotonic()
                if isinstance(event, _End):
                    break
                yield event
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if self._task is not None and not self._task.done():
                self._task.cancel()
                try:
                    await self._task
                except asyncio.CancelledError:
                    pass

    async def _watch(self, last_event: list[float], on_idle: Callable[[], None], every: float) -> None:
        """Call `on_idle` (after `sync`) whenever `every` seconds pass without an event."""
        while True:
            await asyncio.sleep(every)
            if time.monotonic() - last_event[0] >= every:
                self.sync()
                on_idle()

    async def _produce(self, conv: Conversation, options: TurnOptions, emit: Callable[[Any], None]) -> None:
        state = self._state = _TurnState()
        try:
            for round_no in range(1, self.max_rounds + 1):
                result = await self._round(conv, options, round_no, emit, state)
                if result.error is not None:
                    emit(TurnFailed(result.error, result.message))
                    return
                if not result.calls:
                    emit(TurnFinished(result.message))
                    return
                await self._run_calls(conv, result.calls, emit, state)
            limit = ChatError(
                "round_limit",
                f"Stopped after {self.max_rounds} tool rounds in one turn.",
                "The model kept calling tools. Ask it to answer directly, or raise "
                "tools.max_rounds in the config.",
            )
            if state.message is not None:
                state.message.failure = Failure.of(limit)  # shown again when the conversation is reopened
            emit(TurnFailed(limit, state.message))
        except (asyncio.CancelledError, _StopRequested):
            self._mark_stopped(conv, state, emit)
            emit(TurnStopped(state.message))
        except Exception as exc:  # a bug must not take the app down; the turn fails visibly
            error = ChatError(
                "internal",
                f"Unexpected error: {type(exc).__name__}: {exc}",
                "This is a bug in vllm-chat; the conversation is kept. Please report it.",
            )
            if state.message is not None and state.message.status == "streaming":
                _fail(state.message, error)
            emit(TurnFailed(error, state.message))
        finally:
            self._state = None
            emit(_END)

    async def _round(
        self,
        conv: Conversation,
        options: TurnOptions,
        round_no: int,
        emit: Callable[[Any], None],
        state: _TurnState,
    ) -> _Round:
        continuing = options.continue_last and round_no == 1
        if continuing and conv.messages and conv.messages[-1].role == "assistant":
            msg = conv.messages[-1]
            msg.status, msg.error, msg.finish_reason = "streaming", None, None
            msg.tool_calls = []  # calls cut off in the reply never ran; the continuation replaces them
        else:
            continuing = False
            msg = conv.add(Message(role="assistant", status="streaming", model=conv.model))
        msg.model = conv.model
        msg.timings = Timings(started_at=time.time())
        state.begin(msg, keep_text=continuing)
        emit(TurnStarted(msg, round_no))

        specs = self.tools.specs() if (self.tools is not None and options.tools_enabled) else None
        # A forced choice applies to the first request only; forcing every round would
        # loop until max_rounds, since the model could never answer with text.
        forced = options.tool_choice not in ("auto", "none")
        choice = "auto" if (forced and round_no > 1) else options.tool_choice
        while True:
            messages = request_messages(default_messages(conv, options))
            if conv.model in self.text_only_models:
                messages = without_tool_media(messages)
            request = build_request(conv, replace(options, continue_last=continuing, tool_choice=choice),
                                    messages, specs)
            assembler = state.assembler = ToolCallAssembler()
            finish: str | None = None
            t0 = time.monotonic()
            first_at: float | None = None
            last_sync = t0
            try:
                async for chunk in self.client.stream_chat(request):
                    usage = chunk.usage
                    if usage is not None:
                        msg.usage = _usage(usage)
                        emit(UsageUpdated(msg.usage))
                    for choice in chunk.choices:
                        if choice.index:
                            continue  # n > 1 is not used by the app; only the first choice counts
                        delta = choice.delta
                        reasoning = getattr(delta, "reasoning", None) or getattr(delta, "reasoning_content", None)
                        if reasoning:
                            state.reasoning.append(reasoning)
                            emit(ReasoningDelta(reasoning))
                        if delta.content:
                            state.content.append(delta.content)
                            emit(ContentDelta(delta.content))
                        if delta.tool_calls:
                            for entry in delta.tool_calls:
                                emit(assembler.add(entry))
                        if first_at is None and (reasoning or delta.content or delta.tool_calls):
                            first_at = time.monotonic()
                        if choice.finish_reason:
                            finish = choice.finish_reason
                    now = time.monotonic()
                    if now - last_sync > _SYNC_EVERY:
                        state.sync()
                        last_sync = now
            except asyncio.CancelledError:
                self._finish_timings(msg, t0, first_at)
                raise
            except Exception as exc:
                self._finish_timings(msg, t0, first_at)
                state.sync()
                error = self.client.explain(exc, mid_stream=first_at is not None, model=conv.model)
                if error.kind == "not_multimodal" and first_at is None and only_tool_media(request["messages"]):
                    # Images a tool returned, and a text-only model: the request goes again with
                    # a note for each image (the user attached nothing, so nothing needs asking).
                    self.text_only_models.add(conv.model)
                    continue
                _fail(msg, error)
                return _Round(msg, [], error)
            break
        self._finish_timings(msg, t0, first_at)
        state.sync()
        msg.finish_reason = finish
        if finish is None:
            error = ChatError(
                "truncated",
                "The reply ended without a finish signal: the server or a proxy cut the stream.",
                "The partial reply is kept. Retry the turn.",
                retryable=True,
            )
            _fail(msg, error)
            return _Round(msg, [], error)
        msg.status = "complete"
        calls = assembler.calls() if assembler else []
        msg.tool_calls = calls
        if calls and finish not in ("tool_calls", "stop"):
            # Kept for display (the panel shows what was written); never run, never sent back.
            msg.error = (
                f"The reply ended ({finish}) while a tool call was being written; the call was not run."
            )
            return _Round(msg, [])
        return _Round(msg, calls)

    async def _run_calls(
        self, conv: Conversation, calls: list[ToolCall], emit: Callable[[Any], None], state: _TurnState
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

    async def _run_one(self, call: ToolCall, emit: Callable[[Any], None], state: _TurnState) -> ToolOutcome:
        from vllm_chat.core.tools.approval import Decision
        from vllm_chat.core.tools.base import ToolOutcome

        if self.tools is None:
            return ToolOutcome("error", "Error: tools are switched off in this client; answer without them.")
        problem = self.tools.check(call)
        if problem is not None:
            return problem  # nobody should approve a call that can't run anyway
        if self.approval is not None and self.approval.needs_prompt(call.name):
            emit(ToolApprovalNeeded(call))
            decision = await self.approver(call) if self.approver is not None else Decision.DENY
            if decision is Decision.STOP:
                raise _StopRequested
            self.approval.record(call.name, decision)
            if decision == Decision.DENY:
                return self.approval.denied_outcome(call)
        emit(ToolRunning(call, state.start_running()))
        return await self.tools.execute(call)

    def _mark_stopped(self, conv: Conversation, state: _TurnState, emit: Callable[[Any], None]) -> None:
        state.sync()
        msg = state.message
        if msg is not None and msg.status == "streaming":
            msg.status = "stopped"
            if state.assembler:
                # Calls cut off mid-stream never run; they are kept so the session shows
                # them as the user saw them (`request_messages` keeps them out of requests).
                msg.tool_calls = state.assembler.calls()
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

    @staticmethod
    def _finish_timings(msg: Message, t0: float, first_at: float | None) -> None:
        assert msg.timings is not None
        msg.timings.duration = time.monotonic() - t0
        msg.timings.ttft = (first_at - t0) if first_at is not None else None


class _TurnState:
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


def _fail(message: Message, error: ChatError) -> None:
    """Mark `message` failed, keeping the whole explanation for a reload."""
    message.status, message.error, message.failure = "failed", error.message, Failure.of(error)


def _usage(usage: Any) -> Usage:
    details = getattr(usage, "completion_tokens_details", None)
    reasoning = getattr(details, "reasoning_tokens", None) if details is not None else None
    return Usage(
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        reasoning_tokens=reasoning,
    )
