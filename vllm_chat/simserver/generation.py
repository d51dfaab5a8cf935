"""The token loop: pacing, faults, counters and cancellation for one request.

A stream sends its headers at once, stays silent (or sends `: keep-alive`)
until the first token, then writes one SSE event per piece. When the client
goes away the handler is cancelled (or a write fails): generation stops there,
`running` drops and `aborted` counts it, as vLLM aborts the request in its
engine. Non-streamed requests run the same loop without writing.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from vllm_chat.simserver.chunks import DONE, KEEP_ALIVE
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.errors import SimError, internal_error, plain_bad_request
from vllm_chat.simserver.faults import Fault
from vllm_chat.simserver.metrics import SimStats
from vllm_chat.simserver.plan import (
    HIDDEN_REASONING,
    REASONING,
    REASONING_END,
    TOOL_ARGS,
    TOOL_NAME,
    VISIBLE,
    ChoicePlan,
    Piece,
    cut_after,
    visible_count,
)

_YIELD_EVERY = 64
REASONING_KINDS = frozenset({REASONING, REASONING_END, HIDDEN_REASONING})
_DISCONNECTS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
_STREAM_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Vary": "Origin"}


class Chunks(Protocol):
    """The chunk builder of one stream (chat or legacy completions)."""

    def role(self, index: int) -> bytes:
        """The first chunk of a choice (empty for completions)."""

    def delta(self, index: int, piece: Piece, tool_id: str, completion: int, reasoning: int,
              first_args: Piece | None = None) -> bytes:
        """A chunk carrying one piece."""

    def finish(self, plan: ChoicePlan, last: Piece | None, tool_id: str, completion: int, reasoning: int,
               with_fingerprint: bool) -> bytes:
        """The chunk with the finish reason."""

    def usage(self, completion: int, reasoning: int) -> bytes:
        """The usage chunk."""


@dataclass
class Job:
    """One request ready to generate."""

    plans: list[ChoicePlan]
    """One plan per choice."""
    prompt_tokens: int
    """Prompt size, for the counters."""
    fault: Fault | None
    """The fault to inject, if any."""
    engine_error: SimError | None
    """An error the engine reports before the first token."""
    include_usage: bool
    """Whether a usage chunk ends the stream."""


def simulated_first_error() -> SimError:
    """The error of the `error-first` fault: an engine-side rejection, as vLLM sends for
    requests its engine refuses (bad logprobs, thinking budget without a parser...)."""
    return plain_bad_request("Simulated engine-side rejection (sim:error-first).")


def apply_cut_faults(job: Job) -> None:
    """`length` and `abort` faults shorten the plans before anything is sent."""
    fault = job.fault
    if fault is None or fault.kind not in ("length", "abort"):
        return
    after = fault.after_tokens(visible_count(job.plans[0]))
    for plan in job.plans:
        cut_after(plan, after, fault.kind)


class _Counters:
    """Keeps SimStats right whatever happens to the request."""

    def __init__(self, stats: SimStats, prompt_tokens: int) -> None:
        self.stats = stats
        self.prompt = prompt_tokens
        self.used = 0
        self.state = "new"

    def waiting(self) -> None:
        """The request is queued (before its first token)."""
        self.stats.waiting += 1
        self.state = "waiting"

    def running(self) -> None:
        """The request produces tokens."""
        if self.state == "waiting":
            self.stats.waiting -= 1
        self.stats.running += 1
        self.stats.prompt_tokens += self.prompt
        self.stats.active_tokens += self.prompt
        self.state = "running"

    def generated(self, cost: int) -> None:
        """`cost` more tokens were generated."""
        self.used += cost
        self.stats.generation_tokens += cost
        self.stats.active_tokens += cost

    def close(self, outcome: str, plans: list[ChoicePlan] | None = None) -> None:
        """The request is over: `completed`, `aborted` (client gone) or `failed` (an injected fault)."""
        if self.state == "waiting":
            self.stats.waiting -= 1
        elif self.state == "running":
            self.stats.running -= 1
            self.stats.active_tokens -= self.prompt + self.used
        self.state = "closed"
        if outcome == "completed":
            self.stats.completed += 1
            for plan in plans or []:
                self.stats.finished[plan.finish_reason or "error"] += 1
        elif outcome == "aborted":
            self.stats.aborted += 1
        else:
            self.stats.failed += 1


class _Pacer:
    """Spaces tokens at `tps` per second; at 0, yields to the loop now and then."""

    def __init__(self, tps: float) -> None:
        self.tps = tps
        self.start = 0.0
        self.sent = 0

    def begin(self) -> None:
        """The first token is due now."""
        self.start = time.monotonic()

    async def step(self, tokens: int) -> None:
        """Wait until `tokens` more tokens are due."""
        if tokens == 0:
            return
        self.sent += tokens
        if self.tps > 0:
            delay = self.start + self.sent / self.tps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        elif self.sent % _YIELD_EVERY < tokens:
            # Let the loop notice a disconnect (and serve others) even at full speed.
            await asyncio.sleep(0)


async def _first_token_wait(cfg: SimConfig, fault: Fault | None, write: Any) -> None:
    """Queue plus prefill: `ttft`, plus a stall fault, with keep-alive comments when enabled."""
    delay = cfg.ttft
    interval = cfg.sse_keep_alive
    if fault is not None and fault.kind in ("stall", "keepalive"):
        delay += fault.seconds
        if fault.kind == "keepalive":
            interval = interval or 1.0
    if delay <= 0:
        return
    if write is None or interval <= 0:
        await asyncio.sleep(delay)
        return
    end = time.monotonic() + delay
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(interval, left))
        if time.monotonic() < end - 1e-3:
            await write(KEEP_ALIVE)


def _schedule(plans: list[ChoicePlan]) -> list[tuple[int, int, int]]:
    """(choice, piece index, tokens to wait for) in sending order. Choices interleave one piece
    at a time; all choices advance in the same engine step, so only a step's first piece waits
    (for the dearest piece of that step)."""
    order = []
    longest = max((len(p.pieces) for p in plans), default=0)
    for k in range(longest):
        step = [(c, k) for c, plan in enumerate(plans) if k < len(plan.pieces)]
        cost = max(plans[c].pieces[k].cost for c, k in step)
        order.extend((c, k, cost if i == 0 else 0) for i, (c, k) in enumerate(step))
    return order


async def stream(request: web.Request, job: Job, chunks: Chunks, cfg: SimConfig, stats: SimStats,
                 role_chunks: bool = True) -> web.StreamResponse:
    """Answer with an SSE stream, the way vLLM frames it."""
    counters = _Counters(stats, job.prompt_tokens)
    response = web.StreamResponse(status=200, headers=_STREAM_HEADERS)
    outcome = "aborted"
    try:
        await response.prepare(request)
        first_error = job.engine_error or (
            simulated_first_error() if job.fault and job.fault.kind == "error-first" else None
        )
        if first_error is not None:
            await response.write(first_error.sse_event() + DONE)
            outcome = "failed"
            return response
        counters.waiting()
        await _first_token_wait(cfg, job.fault, response.write)
        counters.running()
        outcome = await _send_tokens(request, response, job, chunks, cfg, counters, role_chunks)
        return response
    except asyncio.CancelledError:
        outcome = "aborted"
        raise
    except _DISCONNECTS:
        outcome = "aborted"
        return response
    finally:
        counters.close(outcome, job.plans)


async def _send_tokens(request: web.Request, response: web.StreamResponse, job: Job, chunks: Chunks,
                       cfg: SimConfig, counters: _Counters, role_chunks: bool) -> str:
    plans = job.plans
    midway = job.fault if job.fault is not None and job.fault.kind in ("error-mid", "drop") else None
    stop_after = midway.after_tokens(visible_count(plans[0])) if midway else None
    write = response.write
    if role_chunks:
        await write(b"".join(chunks.role(p.index) for p in plans))
    pacer = _Pacer(cfg.tps)
    pacer.begin()
    used = [0] * len(plans)
    reasoning = [0] * len(plans)
    visible = [0] * len(plans)
    merged: set[tuple[int, int]] = set()
    quirk = cfg.duplicate_index_tool_deltas

    async def finish(c: int, last: Piece | None, tool_id: str = "") -> None:
        plan = plans[c]
        # EOS, a stop string, or the part of a tool call's opener that never became a delta.
        counters.generated(max(0, plan.completion_tokens - used[c]))
        await write(chunks.finish(plan, last, tool_id, max(used[c], plan.completion_tokens), reasoning[c],
                                  with_fingerprint=not job.include_usage))

    for c in (c for c, plan in enumerate(plans) if not plan.pieces):
        await finish(c, None)
    for c, k, wait in _schedule(plans):
        if (c, k) in merged:
            continue
        plan = plans[c]
        piece = plan.pieces[k]
        if stop_after is not None and visible[c] >= stop_after and piece.kind in VISIBLE:
            return await _fail_midway(request, response, midway)
        await pacer.step(wait)
        counters.generated(piece.cost)
        used[c] += piece.cost
        if piece.kind in REASONING_KINDS:
            reasoning[c] += 1
        last = k == len(plan.pieces) - 1
        if piece.kind not in VISIBLE:
            if last:
                await finish(c, None)
            continue
        visible[c] += 1
        tool_id = plan.tool_ids[piece.tool] if piece.kind in (TOOL_NAME, TOOL_ARGS) else ""
        if last and plan.merge_last:
            await finish(c, piece, tool_id)
            continue
        first_args = None
        if quirk and piece.kind == TOOL_NAME:
            j = next((m for m in range(k + 1, len(plan.pieces)) if plan.pieces[m].kind in VISIBLE), None)
            if j is not None and plan.pieces[j].kind == TOOL_ARGS and plan.pieces[j].tool == piece.tool:
                first_args = plan.pieces[j]
                merged.add((c, j))
                counters.generated(first_args.cost)
                used[c] += first_args.cost
                visible[c] += 1
                last = j == len(plan.pieces) - 1
        await write(chunks.delta(plan.index, piece, tool_id, used[c], reasoning[c], first_args))
        if last:
            await finish(c, None)
    if job.include_usage:
        await write(chunks.usage(sum(p.completion_tokens for p in plans), sum(p.reasoning_tokens for p in plans)))
    await write(DONE)
    return "completed"


async def _fail_midway(request: web.Request, response: web.StreamResponse, fault: Fault) -> str:
    if fault.kind == "error-mid":
        await response.write(internal_error().sse_event() + DONE)
        return "failed"
    drop_connection(request)
    return "failed"


def drop_connection(request: web.Request) -> None:
    """Cut the TCP connection at once: no chunked terminator, so the client sees an incomplete body."""
    transport = request.transport
    if transport is not None:
        transport.abort()


async def complete(request: web.Request, job: Job, cfg: SimConfig, stats: SimStats) -> None:
    """Run a non-streamed request's generation (same pacing and counters). Raises the `SimError`
    the response must carry, or `Dropped` when the connection was cut on purpose."""
    counters = _Counters(stats, job.prompt_tokens)
    outcome = "aborted"
    try:
        if job.engine_error is not None:
            outcome = "failed"
            raise job.engine_error
        if job.fault is not None and job.fault.kind == "error-first":
            outcome = "failed"
            raise simulated_first_error()
        counters.waiting()
        await _first_token_wait(cfg, job.fault, None)
        counters.running()
        pacer = _Pacer(cfg.tps)
        pacer.begin()
        midway = job.fault if job.fault is not None and job.fault.kind in ("error-mid", "drop") else None
        stop_after = midway.after_tokens(visible_count(job.plans[0])) if midway else None
        seen = 0
        for c, k, wait in _schedule(job.plans):
            piece = job.plans[c].pieces[k]
            if c == 0 and piece.kind in VISIBLE:
                if stop_after is not None and seen >= stop_after:
                    outcome = "failed"
                    if midway.kind == "drop":
                        drop_connection(request)
                        raise Dropped()
                    raise internal_error()
                seen += 1
            await pacer.step(wait)
            counters.generated(piece.cost)
        counters.generated(sum(p.completion_tokens for p in job.plans) - counters.used)
        outcome = "completed"
    finally:
        counters.close(outcome, job.plans)


class Dropped(Exception):
    """The connection was cut on purpose (the `drop` fault); there is no response to send."""
