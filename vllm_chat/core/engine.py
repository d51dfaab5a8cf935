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

A request the server turns away as busy (429/503 with `Retry-After`) before any
token goes again when the server says (`ServerBusy`, then the wait, which Esc
ends), within `max_busy_wait` seconds for the whole turn (see `core.busy`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from vllm_chat.core.busy import BusyBudget
from vllm_chat.core.client import ChatClient
from vllm_chat.core.conversation import Conversation, Failure, Message, Timings, ToolCall
from vllm_chat.core.errors import ChatError
from vllm_chat.core.events import (
    Event,
    ServerBusy,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnStopped,
)
from vllm_chat.core.generation.requests import request_problem
from vllm_chat.core.loop_share import LoopShare
from vllm_chat.core.media.errors import AttachmentError
from vllm_chat.core.reply_capture import ReplyCapture
from vllm_chat.core.streaming import (
    attachment_failure,
    fail,
    settle_warning,
    stream_choices,
    truncated,
    with_faults,
)
from vllm_chat.core.tool_media import only_tool_media, without_tool_media
from vllm_chat.core.tool_rounds import StopRequested, ToolRounds, TurnState, unanswered_calls
from vllm_chat.core.turn_request import (
    TurnOptions,
    build_request,
    default_messages,
    fit_max_tokens,
    request_messages,
)

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.candidates import CandidatePlan
    from vllm_chat.core.tools.approval import ApprovalPolicy, Decision
    from vllm_chat.core.tools.registry import ToolRegistry

Approver = Callable[[ToolCall], Awaitable["Decision"]]
"""Asks the user about one call; returns allow once / allow for the session / deny."""


@dataclass
class _Round:
    message: Message
    calls: list[ToolCall]
    error: ChatError | None = None


class _End:
    """Marks the end of the event queue."""


_END = _End()


class Engine(ToolRounds):
    """Runs turns against a `ChatClient`, with optional tools and approval."""

    def __init__(
        self,
        client: ChatClient,
        *,
        tools: ToolRegistry | None = None,
        approval: ApprovalPolicy | None = None,
        approver: Approver | None = None,
        max_rounds: int = 8,
        max_busy_wait: float = 0.0,
    ) -> None:
        self.client = client
        """The server connection."""
        self.max_busy_wait = max_busy_wait
        """Most seconds a turn waits, in all, for a busy server before it fails (0: never waits)."""
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
        self.loop_share = LoopShare()
        """Whether the front end's input is on its way: the long steps of a turn wait for it."""
        self._task: asyncio.Task[None] | None = None
        self._state: _Syncs | None = None
        self._busy = BusyBudget(max_busy_wait)

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

    async def stop_and_wait(self, timeout: float = 2.0) -> bool:
        """Stop the current turn and wait (at most `timeout` seconds) until the reply is
        marked stopped, its text complete in the message; False if nothing was running."""
        task = self._task
        if not self.stop() or task is None:
            return False
        await asyncio.wait({task}, timeout=timeout)
        return True

    def sync(self) -> bool:
        """Copy the text streamed so far into the messages being written; True if that
        brought anything new.

        The engine does this every `streaming.SYNC_EVERY` seconds while chunks arrive
        and at the end of each reply; call it before saving while the stream stalls.
        """
        return self._state.sync() if self._state is not None else False

    async def run(
        self,
        conv: Conversation,
        options: TurnOptions | None = None,
        *,
        on_idle: Callable[[bool], None] | None = None,
        idle_every: float = 1.0,
    ) -> AsyncGenerator[Event, None]:
        """Run one turn on `conv` (whose last message is the user's) and yield its events.

        `on_idle(synced)` is called after `sync` whenever `idle_every` seconds pass
        without an event (a stalled stream, a long tool run, a pending approval);
        `synced` says whether the sync brought new text. The session recorder uses
        it to save text that arrived before a stall.
        """
        state = TurnState()
        opts = options or TurnOptions()

        async def produce(emit: Callable[[Any], None]) -> None:
            await self._produce(conv, opts, emit, state)

        async for event in self._drive(state, produce, on_idle, idle_every):
            yield event

    async def run_candidates(
        self,
        conv: Conversation,
        plan: CandidatePlan,
        options: TurnOptions | None = None,
        *,
        on_idle: Callable[[bool], None] | None = None,
        idle_every: float = 1.0,
    ) -> AsyncGenerator[Event, None]:
        """Stream several replies to the turn `conv` ends with (N candidates of one request,
        or the same turn sent to several models) and yield their events (see
        `core.candidates`). `stop()` stops them all; `on_idle` as for `run`."""
        from vllm_chat.core.candidates import CandidateRun

        run = CandidateRun(self.client, self.tools, conv, plan, options or TurnOptions(),
                           text_only_models=self.text_only_models, max_busy_wait=self.max_busy_wait)
        async for event in self._drive(run, run.produce, on_idle, idle_every):
            yield event

    async def _drive(
        self,
        state: _Syncs,
        producer: Callable[[Callable[[Any], None]], Awaitable[None]],
        on_idle: Callable[[bool], None] | None,
        idle_every: float,
    ) -> AsyncGenerator[Event, None]:
        """Run `producer` in a task of its own (so `stop()` can cancel it at any await) and
        yield what it emits until it ends."""
        if self.running:
            raise RuntimeError("a turn is already running")
        queue: asyncio.Queue[Event | _End] = asyncio.Queue()
        self._state = state
        # Its own task, kept here too: a consumer may close this run after the next has begun.
        self._task = task = asyncio.create_task(self._guarded(producer, queue.put_nowait))
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
            if not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass

    async def _guarded(self, producer: Callable[[Callable[[Any], None]], Awaitable[None]],
                       emit: Callable[[Any], None]) -> None:
        try:
            await producer(emit)
        finally:
            self._state = None
            emit(_END)

    async def _watch(self, last_event: list[float], on_idle: Callable[[bool], None], every: float) -> None:
        """Call `on_idle(synced)` (after `sync`) whenever `every` seconds pass without an event."""
        while True:
            await asyncio.sleep(every)
            if time.monotonic() - last_event[0] >= every:
                on_idle(self.sync())

    async def _produce(self, conv: Conversation, options: TurnOptions, emit: Callable[[Any], None],
                       state: TurnState) -> None:
        self._busy = BusyBudget(self.max_busy_wait)
        try:
            first = 1
            pending = unanswered_calls(conv) if options.run_pending else []
            if pending:
                # A picked candidate asked for tools: its calls run now, then the model goes on.
                state.begin(conv.messages[-1], emit, keep_text=True)
                emit(TurnStarted.of(conv.messages[-1], 1))
                await self._run_calls(conv, pending, emit, state)
                first = 2
            for round_no in range(first, self.max_rounds + 1):
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
        except (asyncio.CancelledError, StopRequested):
            self._mark_stopped(conv, state, emit)
            emit(TurnStopped(state.message))
        except Exception as exc:  # a bug must not take the app down; the turn fails visibly
            error = ChatError(
                "internal",
                f"Unexpected error: {type(exc).__name__}: {exc}",
                "This is a bug in vllm-chat; the conversation is kept. Please report it.",
            )
            if state.message is not None and state.message.status == "streaming":
                fail(state.message, error)
            emit(TurnFailed(error, state.message))

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
            msg.status, msg.error, msg.finish_reason, msg.reply_limit = "streaming", None, None, None
            msg.tool_calls = []  # calls cut off in the reply never ran; the continuation replaces them
        else:
            continuing = False
            msg = conv.add(Message(role="assistant", status="streaming", model=conv.model))
        msg.model = conv.model
        msg.timings = Timings(started_at=time.time())
        sink = state.begin(msg, emit, keep_text=continuing)
        emit(TurnStarted.of(msg, round_no))

        while True:
            try:
                request = self.request_for(conv, options, round_no=round_no, continuing=continuing)
            except AttachmentError as exc:
                error = attachment_failure(exc)
                fail(msg, error)
                return _Round(msg, [], error)
            problem = request_problem(request, continuing=continuing)
            if problem is not None:  # vLLM would refuse it, or quietly get it wrong: nothing is sent
                fail(msg, problem)
                return _Round(msg, [], problem)
            await fit_max_tokens(request, options.reply_room, msg, chosen=conv.params.max_tokens is not None)
            sink.restart()
            prepared = time.monotonic()
            sink.capture = capture = ReplyCapture(msg, conv, request, continuing=continuing)
            # A long history's fingerprint; its body comes next. (Never before: nothing may hold
            # a request back from leaving.)
            await self.loop_share.after_long_step(prepared)
            try:
                await stream_choices(self.client, request, {0: sink})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = with_faults(self.client.explain(exc, mid_stream=sink.first_at is not None,
                                                        model=conv.model), sink.faults)
                wait = self._busy.wait_for(error, started=sink.first_at is not None)
                if wait is not None:  # turned away before it was processed: it goes again
                    emit(ServerBusy(error, wait))
                    await asyncio.sleep(wait)
                    continue
                error = self._busy.gave_up(error)
                tool_media_only = only_tool_media(request.get("messages", []))
                if error.kind == "not_multimodal" and sink.first_at is None and tool_media_only:
                    # Images a tool returned, and a text-only model: the request goes again with
                    # a note for each image (the user attached nothing, so nothing needs asking).
                    self.text_only_models.add(conv.model)
                    continue
                fail(msg, error)
                return _Round(msg, [], error)
            finally:
                capture.finish()
            break
        msg.finish_reason = finish = sink.finish_reason
        if finish == "length" and "max_tokens" not in request and msg.usage is not None:
            msg.reply_limit = msg.usage.completion_tokens  # no max_tokens: the window's end cut it
        if finish is None:
            error = with_faults(truncated(), sink.faults)
            fail(msg, error)
            return _Round(msg, [], error)
        msg.status = "complete"
        calls = sink.calls()
        msg.tool_calls = calls
        settle_warning(msg, sink.faults)  # a warning: the reply is complete but may miss a piece
        if calls and finish not in ("tool_calls", "stop"):
            # Kept for display (the panel shows what was written); never run, never sent back.
            return _Round(msg, [])
        return _Round(msg, calls)

    def request_for(self, conv: Conversation, options: TurnOptions, *, round_no: int = 1,
                    continuing: bool | None = None) -> dict[str, Any]:
        """The keyword arguments of the chat request a round of a turn on `conv` sends
        (without `stream`). The context meter counts exactly this request, so nothing
        else builds one. `continuing`: whether the round continues the last reply
        (default: `options.continue_last`)."""
        specs = self.tools.specs() if (self.tools is not None and options.tools_enabled) else None
        # A forced choice applies to the first request only; forcing every round would
        # loop until max_rounds, since the model could never answer with text.
        forced = options.tool_choice not in ("auto", "none")
        choice = "auto" if (forced and round_no > 1) else options.tool_choice
        continuing = options.continue_last if continuing is None else continuing
        messages = request_messages(default_messages(conv, options))
        if conv.model in self.text_only_models:
            messages = without_tool_media(messages)
        return build_request(conv, replace(options, continue_last=continuing, tool_choice=choice), messages, specs)


class _Syncs(Protocol):
    """What the engine keeps of a running turn: something whose streamed text can be synced."""

    def sync(self) -> bool:
        """Copy the text streamed so far into the messages; True if that brought anything new."""
