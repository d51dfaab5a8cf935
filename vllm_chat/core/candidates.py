"""Several replies to one turn, streamed side by side: N candidates, or a model comparison.

- **N candidates**: one request with `n` = N (sampling), or with `use_beam_search`
  (the N best beams; vLLM sends each beam whole once the search ends). The choices
  interleave in one stream, choice 0 a step ahead.
- **Compare**: the same turn sent to 2–4 served models or LoRA adapters at once, one
  request each; a model that fails fails its own column only.

Each reply is an assistant message of the conversation from the start: the first
is shown, the others hang next to it as its alternatives (`tree.add_alternatives`),
so whatever streamed is saved as it arrives and stays in the session whichever one
the user picks. Picking shows the chosen one in their place (`tree.choose`).

Tools: a comparison offers the tools as the conversation does (each model may
answer with calls), but no candidate's calls run while they stream: only the
reply the user picks acts (`TurnOptions.run_pending`), so N replies never run N
sets of side effects. N candidates of one request are sent without tools: vLLM
before the fix of vllm-project/vllm#38158 shared one tool parser between the
choices of a stream and garbled every choice's calls, and beam search does not
parse calls at all; picking among texts is what candidates are for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from vllm_chat.core import tree
from vllm_chat.core.busy import BusyBudget
from vllm_chat.core.errors import ChatError
from vllm_chat.core.events import (
    CandidateEvent,
    CandidatesDone,
    CandidatesStarted,
    Event,
    ServerBusy,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnStopped,
)
from vllm_chat.core.generation.requests import request_problem
from vllm_chat.core.media.errors import AttachmentError
from vllm_chat.core.streaming import (
    ChoiceSink,
    attachment_failure,
    fail,
    new_reply,
    settle_warning,
    stream_choices,
    truncated,
    with_faults,
)
from vllm_chat.core.tool_media import without_tool_media
from vllm_chat.core.turn_request import (
    TurnOptions,
    build_request,
    default_messages,
    fit_max_tokens,
    request_messages,
)

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.client import ChatClient
    from vllm_chat.core.conversation import Conversation, Message
    from vllm_chat.core.tools.registry import ToolRegistry

MAX_CANDIDATES = 8
"""Most candidates one request asks for (each takes a sequence slot of the server)."""
MAX_COMPARED = 4
"""Most models one comparison sends the turn to."""

CandidateMode = Literal["sample", "beam", "compare"]
"""How the replies are asked for: `n` sampled choices, beam search, or one request per model."""

CandidateState = Literal["waiting", "streaming", "done", "failed", "stopped"]
"""Where one of several replies to a turn stands: no token yet, arriving, complete,
failed (see `error`), or stopped by the user."""


@dataclass(frozen=True)
class CandidateStatus:
    """One of several replies to the same turn (N candidates, a model comparison), live."""

    label: str
    """What the front end calls it: "#2", or the model's name in a comparison."""
    model: str
    """The model that writes it."""
    message_id: str
    """Its message (an alternative of the others; `ChatSession.pick_candidate` shows it)."""
    state: CandidateState
    """Where it stands."""
    tokens: int = 0
    """Tokens generated so far (the server's count per choice when it sends one)."""
    ttft: float | None = None
    """Seconds from the request to its first token."""
    tokens_per_second: float | None = None
    """Speed after the first token (None while too few tokens or too short a span)."""
    finish_reason: str | None = None
    """The server's finish reason, once it came."""
    error: str = ""
    """Why it failed ('' unless `state` is failed)."""
    tool_calls: int = 0
    """Tool calls it asked for (they run only if it is picked)."""


@dataclass(frozen=True)
class CandidatePlan:
    """What to ask for: N candidates of one request, or one reply from each of some models."""

    count: int = 0
    """How many candidates (`n`, or the beam width); unused for a comparison."""
    beam: bool = False
    """Beam search (`use_beam_search`) instead of sampling `n` independent replies."""
    models: tuple[str, ...] = ()
    """The models (or LoRA adapters) a comparison sends the turn to, in column order."""

    @property
    def mode(self) -> CandidateMode:
        """sample, beam or compare."""
        if self.models:
            return "compare"
        return "beam" if self.beam else "sample"

    @property
    def size(self) -> int:
        """How many replies this asks for."""
        return len(self.models) if self.models else self.count

    def problem(self, temperature: float | None = None) -> str:
        """What is wrong with this plan, in words that say what to do ('' when nothing).
        `temperature`: the conversation's, since greedy sampling makes every candidate alike."""
        if self.models:
            if len(self.models) < 2:
                return "A comparison needs at least two models: pick another one."
            if len(self.models) > MAX_COMPARED:
                return f"A comparison takes at most {MAX_COMPARED} models: leave some out."
            if len(set(self.models)) != len(self.models):
                return "The same model is picked twice: pick different models (or ask it for N candidates)."
            return ""
        if not 2 <= self.count <= MAX_CANDIDATES:
            return f"Ask for 2 to {MAX_CANDIDATES} candidates (not {self.count})."
        if temperature == 0 and not self.beam:
            return ("With temperature 0 every candidate would be the same reply: raise the temperature "
                    "in the settings, or use beam search.")
        return ""

    def labels(self) -> list[str]:
        """The column titles: "#1".."#N", "beam 1".., or the model names."""
        if self.models:
            return list(self.models)
        word = "beam " if self.beam else "#"
        return [f"{word}{k + 1}" for k in range(self.count)]


@dataclass
class _Slot:
    label: str
    model: str
    sink: ChoiceSink
    error: ChatError | None = None
    state: CandidateState = "waiting"

    @property
    def message(self) -> Message:
        return self.sink.message


class CandidateRun:
    """One run of several replies to the turn `conv` ends with; the engine drives `produce`
    in its own task (so `Engine.stop()` stops every reply at once)."""

    def __init__(self, client: ChatClient, tools: ToolRegistry | None, conv: Conversation, plan: CandidatePlan,
                 options: TurnOptions, *, text_only_models: set[str] | None = None,
                 max_busy_wait: float = 0.0) -> None:
        self.client = client
        """The server connection."""
        self.tools = tools
        """The tools a comparison offers (when `options.tools_enabled`)."""
        self.conv = conv
        """The conversation: its last message is the prompt being answered."""
        self.plan = plan
        """What was asked for."""
        self.options = options
        """How the turn is sent (tools, tool choice, media policy)."""
        self.slots: list[_Slot] = []
        """One per reply, in column order (made when `produce` starts)."""
        self.max_busy_wait = max_busy_wait
        """Most seconds a reply's request waits for a busy server before it fails."""
        self._text_only = text_only_models or set()

    @property
    def messages(self) -> tuple[Message, ...]:
        """The replies' messages, in column order."""
        return tuple(slot.message for slot in self.slots)

    @property
    def labels(self) -> tuple[str, ...]:
        """The replies' titles, in column order."""
        return tuple(slot.label for slot in self.slots)

    def sync(self) -> bool:
        """Copy the text streamed so far into every reply's message; True if that brought
        anything new."""
        synced = [slot.sink.sync() for slot in self.slots]  # every one, not up to the first
        return any(synced)

    def status(self, now: float | None = None) -> tuple[CandidateStatus, ...]:
        """Each reply as it stands now."""
        now = time.monotonic() if now is None else now
        out = []
        for slot in self.slots:
            sink = slot.sink
            state = slot.state
            if state in ("waiting", "streaming") and sink.finish_reason is not None:
                state = "done"  # its last chunk came; the others of its request may still stream
            elif state == "waiting" and sink.first_at is not None:
                state = "streaming"
            out.append(CandidateStatus(
                label=slot.label, model=slot.model, message_id=slot.message.id, state=state, tokens=sink.tokens,
                ttft=(sink.first_at - sink.sent_at) if sink.first_at is not None else None,
                tokens_per_second=sink.tokens_per_second(now), finish_reason=sink.finish_reason,
                error=slot.error.message if slot.error is not None else "",
                tool_calls=len(slot.message.tool_calls)))
        return tuple(out)

    # -- running ------------------------------------------------------------------------

    async def produce(self, emit: Callable[[Any], None]) -> None:
        """Start every reply, stream them, and say how each ended; stopped (cancelled), every
        reply still streaming is kept, marked stopped."""
        conv, plan = self.conv, self.plan
        failure: ChatError | None = None
        try:
            messages = request_messages(default_messages(conv, self.options))
        except AttachmentError as exc:
            messages, failure = [], attachment_failure(exc)
        models = list(plan.models) or [conv.model] * plan.count
        replies = [new_reply(model) for model in models]
        first = conv.add(replies[0])
        tree.add_alternatives(conv, first.id, [[m] for m in replies[1:]])
        for k, (label, reply) in enumerate(zip(plan.labels(), replies, strict=True)):
            self.slots.append(_Slot(label, reply.model or "", ChoiceSink(reply, self._emitter(emit, k))))
        emit(CandidatesStarted(self))
        for k, slot in enumerate(self.slots):
            emit(CandidateEvent(k, TurnStarted.of(slot.message, 1)))
        if failure is not None:  # nothing was sent: every reply fails with the attachment's fault
            for k in range(len(self.slots)):
                self._failed(k, failure)
            conv.touch()
            emit(CandidatesDone(self.messages))
            return
        if plan.models:
            tasks = [asyncio.create_task(self._one_model(k, messages)) for k in range(len(self.slots))]
        else:
            tasks = [asyncio.create_task(self._one_request(messages))]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._stop_all()
            emit(CandidatesDone(self.messages, stopped=True))
            return
        except Exception as exc:  # a bug must not take the app down; the replies fail visibly
            error = ChatError("internal", f"Unexpected error: {type(exc).__name__}: {exc}",
                              "This is a bug in vllm-chat; the conversation is kept. Please report it.")
            for k, slot in enumerate(self.slots):
                if slot.state in ("waiting", "streaming"):
                    self._failed(k, error)
        conv.touch()
        emit(CandidatesDone(self.messages))

    @staticmethod
    def _emitter(emit: Callable[[Any], None], slot: int) -> Callable[[Event], None]:
        return lambda event: emit(CandidateEvent(slot, event))

    def _request(self, model: str, messages: list[dict[str, Any]], *, with_tools: bool) -> dict[str, Any]:
        specs = self.tools.specs() if (with_tools and self.tools is not None and self.options.tools_enabled) else None
        if model in self._text_only:
            messages = without_tool_media(messages)
        options = self.options
        if model != self.conv.model:  # a compared model gets its own template, not the conversation's
            options = replace(options, chat_template=options.model_templates.get(model))
        request = build_request(self.conv, options, messages, specs)
        request["model"] = model
        # Each chunk then carries its own choice's token count: live figures per column
        # (the final usage of an `n` request counts every choice together).
        request["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
        return request

    async def _one_request(self, messages: list[dict[str, Any]]) -> None:
        """N candidates: one request, one sink per choice; an error fails every column."""
        request = self._request(self.conv.model, messages, with_tools=False)
        request["n"] = self.plan.count
        if self.plan.beam:
            request["extra_body"] = {**request.get("extra_body", {}), "use_beam_search": True}
        sinks = {k: slot.sink for k, slot in enumerate(self.slots)}
        problem = request_problem(request)
        if problem is not None:  # vLLM would refuse it, or quietly get it wrong: nothing is sent
            for k in sinks:
                self._failed(k, problem)
            return
        first = self.slots[0].message
        await fit_max_tokens(request, self.options.reply_room, first, chosen=self.conv.params.max_tokens is not None)
        for slot in self.slots[1:]:
            slot.message.reply_limit = first.reply_limit
        for sink in sinks.values():
            sink.restart()
        error = await self._send(request, sinks, self.conv.model)
        for k in sinks:
            if error is not None:
                self._failed(k, error)
            else:
                self._settle(k)

    async def _one_model(self, k: int, messages: list[dict[str, Any]]) -> None:
        """One column of a comparison: its own request; its error is its own."""
        slot = self.slots[k]
        request = self._request(slot.model, messages, with_tools=True)
        problem = request_problem(request)
        if problem is not None:  # vLLM would refuse it, or quietly get it wrong: nothing is sent
            self._failed(k, problem)
            return
        await fit_max_tokens(request, self.options.reply_room, slot.message,
                             chosen=self.conv.params.max_tokens is not None)
        slot.sink.restart()
        error = await self._send(request, {0: slot.sink}, slot.model)
        if error is not None:
            self._failed(k, error)
            return
        self._settle(k)

    async def _send(self, request: dict[str, Any], sinks: dict[int, ChoiceSink], model: str) -> ChatError | None:
        """Stream `request` into `sinks`; the error it ended with (None: it streamed). A busy
        server's Retry-After before any token is waited for and the request sent again, as
        for a turn (`core.busy`: within `max_busy_wait` for this request)."""
        budget = BusyBudget(self.max_busy_wait)
        while True:
            try:
                await stream_choices(self.client, request, sinks)
                return None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                started = any(s.first_at is not None for s in sinks.values())
                error = self.client.explain(exc, mid_stream=started, model=model)
                wait = budget.wait_for(error, started=started)
                if wait is None:
                    return budget.gave_up(error)
            next(iter(sinks.values())).emit(ServerBusy(error, wait))
            await asyncio.sleep(wait)
            for sink in sinks.values():
                sink.restart()

    def _settle(self, k: int) -> None:
        """A reply's stream ended: complete (with the calls it asked for, not run), or cut."""
        slot = self.slots[k]
        msg, sink = slot.message, slot.sink
        msg.finish_reason = finish = sink.finish_reason
        if finish is None:
            self._failed(k, truncated())
            return
        msg.status = "complete"
        msg.tool_calls = sink.calls()
        settle_warning(msg, sink.faults)
        slot.state = "done"
        sink.emit(TurnFinished(msg))

    def _failed(self, k: int, error: ChatError) -> None:
        slot = self.slots[k]
        slot.sink.sync()
        error = with_faults(error, slot.sink.faults)
        fail(slot.message, error)
        slot.error, slot.state = error, "failed"
        slot.sink.emit(TurnFailed(error, slot.message))

    def _stop_all(self) -> None:
        for k, slot in enumerate(self.slots):
            if slot.state not in ("waiting", "streaming"):
                continue
            if slot.sink.finish_reason is not None:
                self._settle(k)  # it had ended before the stop; only its request went on
                continue
            slot.sink.sync()
            slot.message.status, slot.state = "stopped", "stopped"
            if slot.sink.assembler:
                slot.message.tool_calls = slot.sink.calls()  # shown as written; never run
            slot.sink.emit(TurnStopped(slot.message))
        self.conv.touch()
