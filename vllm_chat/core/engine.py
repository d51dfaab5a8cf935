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
and `request_messages` leaves calls without results out of every request.

Send, regenerate and continue all come through here, so they share one path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from vllm_chat.core.assembler import ToolCallAssembler
from vllm_chat.core.client import ChatClient
from vllm_chat.core.conversation import Conversation, Message, Timings, ToolCall
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
from vllm_chat.core.media.errors import AttachmentError
from vllm_chat.core.stream_guard import FaultLog, describe_faults
from vllm_chat.core.turn_state import TurnState, usage_from, with_faults

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.media.policy import MediaPolicy
    from vllm_chat.core.tools.approval import ApprovalPolicy, Decision
    from vllm_chat.core.tools.base import ToolOutcome
    from vllm_chat.core.tools.registry import ToolRegistry

Approver = Callable[[ToolCall], Awaitable["Decision"]]
"""Asks the user about one call; returns allow once / allow for the session / deny."""

MessagesBuilder = Callable[[Conversation, "TurnOptions"], list[dict[str, Any]]]
"""Turns the conversation into the request's `messages` (attachments become parts)."""

_SYNC_EVERY = 0.2
"""Seconds between copies of the streamed text into the message, for periodic saves."""

_YIELD_EVERY = 0.008
"""Seconds of reading chunks before the event loop gets a turn (keys, frames)."""

_STOPPED_BEFORE_RUN = "The user stopped the turn before this call ran; it did not run."
_STOPPED_WHILE_RUNNING = "The user stopped the turn while this call was running; it did not finish."


@dataclass(frozen=True)
class TurnOptions:
    """How to send one turn."""

    tools_enabled: bool = True
    """Offer the registry's tools (the request carries `tools` only then)."""
    tool_choice: Literal["auto", "none", "required"] = "auto"
    """`tool_choice` to send with the tools ("required" applies to the first request of a
    turn; the requests after tool results use "auto" so the model can answer)."""
    media_policy: MediaPolicy | None = None
    """Media to leave out of the request (the user accepted an offer after vLLM refused
    them); None sends every attachment."""
    continue_last: bool = False
    """Continue the last assistant message instead of starting a new one
    (`continue_final_message`, used for replies cut off or stopped)."""


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


def default_messages(conv: Conversation, options: TurnOptions) -> list[dict[str, Any]]:
    """The request messages, with attachments turned into content parts."""
    if not any(m.attachments for m in conv.messages):
        return conv.to_openai()
    if options.media_policy is not None:
        return options.media_policy.request_messages(conv)
    from vllm_chat.core.attachments import build_request_messages

    return build_request_messages(conv)


def request_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` without the tool calls that have no result right after their message.

    Such calls were cut off while their arguments streamed, or the app stopped
    before they ran; the session keeps them for display, but a request must
    not carry a call without its result (and vLLM parses the arguments of
    every call in the history, so half-written JSON would fail the request).
    An assistant message left with neither text nor calls is left out.
    """
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        calls = message.get("tool_calls")
        if message.get("role") == "assistant" and calls:
            answered = set()
            for later in messages[i + 1:]:
                if later.get("role") != "tool":
                    break
                answered.add(later.get("tool_call_id"))
            kept = [c for c in calls if c.get("id") in answered]
            if len(kept) != len(calls):
                message = {k: v for k, v in message.items() if k != "tool_calls"}
                if kept:
                    message["tool_calls"] = kept
                elif not message.get("content"):
                    continue
        out.append(message)
    return out


def build_request(
    conv: Conversation,
    options: TurnOptions,
    messages: list[dict[str, Any]],
    tool_specs: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The keyword arguments for `chat.completions.create` (without `stream`)."""
    request: dict[str, Any] = {
        "model": conv.model,
        "messages": messages,
        "stream_options": {"include_usage": True},
    }
    request.update(conv.params.request_kwargs())
    if tool_specs:
        request["tools"] = tool_specs
        request["tool_choice"] = options.tool_choice
    if options.continue_last:
        extra = dict(request.get("extra_body", {}))
        extra.update(continue_final_message=True, add_generation_prompt=False)
        request["extra_body"] = extra
    return request


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
        messages_builder: MessagesBuilder = default_messages,
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
        self.messages_builder = messages_builder
        self._task: asyncio.Task[None] | None = None
        self._state: TurnState | None = None

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
        state = self._state = TurnState()
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
            emit(TurnFailed(
                ChatError(
                    "round_limit",
                    f"Stopped after {self.max_rounds} tool rounds in one turn.",
                    "The model kept calling tools. Ask it to answer directly, or raise "
                    "tools.max_rounds in the config.",
                ),
                state.message,
            ))
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
                state.message.status = "failed"
                state.message.error = error.message
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
        state: TurnState,
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
        # "required" forces a call in the first request only; forcing every round would
        # loop until max_rounds, since the model could never answer with text.
        choice = "auto" if (options.tool_choice == "required" and round_no > 1) else options.tool_choice
        try:
            messages = request_messages(self.messages_builder(conv, options))
        except AttachmentError as exc:
            # A media file the session refers to is gone or the reference was edited:
            # the input's fault, said as such; nothing was sent.
            error = ChatError(
                "attachment",
                f"An attachment of this conversation can't be sent: {exc}",
                "The conversation is kept. This comes from the session's data, not a bug in vllm-chat.",
            )
            msg.status, msg.error = "failed", error.message
            return _Round(msg, [], error)
        request = build_request(
            conv, replace(options, continue_last=continuing, tool_choice=choice), messages, specs,
        )
        assembler = state.assembler = ToolCallAssembler()
        faults = FaultLog()
        finish: str | None = None
        t0 = time.monotonic()
        first_at: float | None = None
        last_sync = last_yield = t0
        try:
            async for chunk in self.client.stream_chat(request, faults):
                # Fields are read with getattr: the stream guard checked the types of what
                # is there, but a server may leave any field out (the SDK builds chunks
                # without validation, so a missing field is a missing attribute).
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    msg.usage = usage_from(usage)
                    emit(UsageUpdated(msg.usage))
                for choice in getattr(chunk, "choices", None) or ():
                    if getattr(choice, "index", 0):
                        continue  # n > 1 is not used by the app; only the first choice counts
                    delta = getattr(choice, "delta", None)
                    content = getattr(delta, "content", None)
                    reasoning = getattr(delta, "reasoning", None) or getattr(delta, "reasoning_content", None)
                    calls = getattr(delta, "tool_calls", None)
                    if reasoning:
                        state.reasoning.append(reasoning)
                        emit(ReasoningDelta(reasoning))
                    if content:
                        state.content.append(content)
                        emit(ContentDelta(content))
                    if calls:
                        for entry in calls:
                            emit(assembler.add(entry))
                    if first_at is None and (reasoning or content or calls):
                        first_at = time.monotonic()
                    if getattr(choice, "finish_reason", None):
                        finish = choice.finish_reason
                now = time.monotonic()
                if now - last_sync > _SYNC_EVERY:
                    state.sync()
                    last_sync = now
                if now - last_yield > _YIELD_EVERY:
                    # Chunks already in the socket's buffer come without a real wait: a fast
                    # server would otherwise hold the event loop (and every key) until drained.
                    await asyncio.sleep(0)
                    last_yield = time.monotonic()
        except asyncio.CancelledError:
            self._finish_timings(msg, t0, first_at)
            raise
        except Exception as exc:
            self._finish_timings(msg, t0, first_at)
            state.sync()
            error = with_faults(self.client.explain(exc, mid_stream=first_at is not None, model=conv.model),
                                 faults)
            msg.status, msg.error = "failed", str(error)
            return _Round(msg, [], error)
        self._finish_timings(msg, t0, first_at)
        state.sync()
        msg.finish_reason = finish
        if finish is None:
            error = with_faults(ChatError(
                "truncated",
                "The reply ended without a finish signal: the server or a proxy cut the stream.",
                "The partial reply is kept. Retry the turn.",
                retryable=True,
            ), faults)
            msg.status, msg.error = "failed", error.message
            return _Round(msg, [], error)
        msg.status = "complete"
        msg.error = describe_faults(faults) or None  # a warning: the reply is complete but may miss a piece
        calls = assembler.calls() if assembler else []
        msg.tool_calls = calls
        if calls and finish not in ("tool_calls", "stop"):
            # Kept for display (the panel shows what was written); never run, never sent back.
            msg.error = " ".join(filter(None, [
                f"The reply ended ({finish}) while a tool call was being written; the call was not run.",
                msg.error]))
            return _Round(msg, [])
        return _Round(msg, calls)

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
        # In a thread: deciding may read the start of the file a call names.
        if self.approval is not None and await asyncio.to_thread(self.approval.needs_prompt, call):
            emit(ToolApprovalNeeded(call))
            decision = await self.approver(call) if self.approver is not None else Decision.DENY
            if decision is Decision.STOP:
                raise _StopRequested
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
