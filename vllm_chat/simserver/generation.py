"""The token loop: queueing, pacing, faults, counters and cancellation for one request.

A stream sends its headers at once, stays silent (or sends `: keep-alive`) while the
request queues in the engine and fills its prompt, then writes one SSE event per piece.
When the client goes away the handler is cancelled (or a write fails): generation stops
there and the engine frees the slot, as vLLM aborts the request. Non-streamed requests run
the same loop without writing. Beam search streams the way vLLM 0.32 does: the role
chunks, then each beam whole, with its finish reason, once the search is over.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from vllm_chat.simserver import pacing
from vllm_chat.simserver.chunks import DONE
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.engine import Engine, Ticket
from vllm_chat.simserver.errors import SimError, internal_error, plain_bad_request
from vllm_chat.simserver.faults import Fault
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

REASONING_KINDS = frozenset({REASONING, REASONING_END, HIDDEN_REASONING})
_DISCONNECTS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
_STREAM_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Vary": "Origin"}


class Chunks(Protocol):
    """The chunk builder of one stream (chat or legacy completions)."""

    def role(self, index: int) -> bytes:
        """The first chunk of a choice (empty for completions)."""

    def delta(self, plan: ChoicePlan, k: int, tool_id: str, completion: int, reasoning: int,
              first_args: Piece | None = None) -> bytes:
        """A chunk carrying piece `k` of a choice."""

    def finish(self, plan: ChoicePlan, last: int | None, tool_id: str, completion: int, reasoning: int,
               with_fingerprint: bool) -> bytes:
        """The chunk with the finish reason (it may carry piece `last`)."""

    def whole(self, plan: ChoicePlan, with_fingerprint: bool) -> bytes:
        """A choice in one chunk, with its finish reason (beam search)."""

    def usage(self, completion: int, reasoning: int, metrics: dict[str, Any] | None) -> bytes:
        """The usage chunk."""


@dataclass
class Job:
    """One request ready to generate."""

    plans: list[ChoicePlan]
    """One plan per choice."""
    prompt: list[str]
    """Prompt tokens (prefix caching hashes them)."""
    budget: int
    """Completion budget of each choice."""
    fault: Fault | None
    """The fault to inject, if any."""
    engine_error: SimError | None
    """An error the engine reports before the first token."""
    include_usage: bool
    """Whether a usage chunk ends the stream."""
    per_request_metrics: bool = False
    """Whether the response carries vLLM's per-request `metrics` (`n` = 1 only)."""
    beam: bool = False
    """Beam search: choices arrive whole at the end."""
    tool_parser: bool = False
    """Whether a tool parser reads this request's output (counted in `/metrics`)."""
    metrics: dict[str, Any] | None = None
    """Filled at the end: the per-request metrics to report, when asked for."""


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


def _schedule(plans: list[ChoicePlan]) -> list[tuple[int, int, int]]:
    """(choice, piece index, tokens to wait for) in sending order. Choices interleave one piece
    at a time, the first one a step ahead of the others, as vLLM's `n` > 1 children stream
    (captures main/14, round2/07); all choices of a step advance together, so only a step's
    first piece waits (for the dearest piece of that step)."""
    if len(plans) == 1:
        return [(0, k, piece.cost) for k, piece in enumerate(plans[0].pieces)]
    lead = 1
    order = []
    longest = max((len(p.pieces) + (lead if c else 0) for c, p in enumerate(plans)), default=0)
    for s in range(longest):
        step = [(c, s - (lead if c else 0)) for c in range(len(plans))]
        step = [(c, k) for c, k in step if 0 <= k < len(plans[c].pieces)]
        if not step:
            continue
        cost = max(plans[c].pieces[k].cost for c, k in step)
        order.extend((c, k, cost if i == 0 else 0) for i, (c, k) in enumerate(step))
    return order


class _Run:
    """The engine side of one request: its ticket, and what happens when it ends."""

    def __init__(self, engine: Engine, job: Job) -> None:
        self.engine = engine
        self.job = job
        self.ticket: Ticket | None = None
        self.outcome = "aborted"

    async def admit(self, cfg: SimConfig, write: pacing.Write) -> None:
        """Stall (if a fault says so), queue for a slot, then spend the prefill time."""
        interval = pacing.keep_alive_interval(cfg, self.job.fault)
        seqs = len(self.job.plans)
        await pacing.stall(self.engine, seqs, self.job.fault, write, interval)
        self.ticket = self.engine.submit(self.job.prompt, seqs, self.job.budget)
        await pacing.until_running(self.ticket, write, interval)
        await pacing.quiet(cfg.ttft, write, interval)

    async def tokens(self, count: int) -> None:
        """Account generated tokens, waiting out a preemption."""
        assert self.ticket is not None
        if not self.engine.generated(self.ticket, count):
            await self.ticket.running.wait()

    def close(self, streaming: bool) -> None:
        """Free the slot and count the outcome (and the tool parser's work)."""
        job = self.job
        if self.ticket is None:
            if self.outcome == "aborted":
                self.engine.stats.aborted += 1
            elif self.outcome == "failed":
                self.engine.stats.failed += 1
            return
        if self.outcome == "completed" and job.tool_parser:
            mode = "streaming" if streaming else "non_streaming"
            for plan in job.plans:
                outcome = "tool_call" if plan.tool_ids and plan.finish_reason == "tool_calls" else "no_tool_call"
                self.engine.stats.tool_parser_calls[(mode, outcome)] += visible_count(plan) if streaming else 1
        self.engine.finish(self.ticket, self.outcome, [p.finish_reason for p in job.plans])


async def stream(request: web.Request, job: Job, chunks: Chunks, cfg: SimConfig, engine: Engine) -> web.StreamResponse:
    """Answer with an SSE stream, the way vLLM frames it."""
    run = _Run(engine, job)
    response = web.StreamResponse(status=200, headers=_STREAM_HEADERS)
    try:
        await response.prepare(request)
        first_error = job.engine_error or (
            simulated_first_error() if job.fault and job.fault.kind == "error-first" else None
        )
        if first_error is not None:
            await response.write(first_error.sse_event() + DONE)
            run.outcome = "failed"
            return response
        await run.admit(cfg, response.write)
        run.outcome = await _send_tokens(request, response, job, chunks, cfg, run)
        return response
    except asyncio.CancelledError:
        run.outcome = "aborted"
        raise
    except _DISCONNECTS:
        run.outcome = "aborted"
        return response
    finally:
        run.close(streaming=True)


async def _send_tokens(request: web.Request, response: web.StreamResponse, job: Job, chunks: Chunks,
                       cfg: SimConfig, run: _Run) -> str:
    plans = job.plans
    midway = job.fault if job.fault is not None and job.fault.kind in ("error-mid", "drop") else None
    stop_after = midway.after_tokens(visible_count(plans[0])) if midway else None
    write = response.write
    if role_chunks_wanted(chunks):
        await write(b"".join(chunks.role(p.index) for p in plans))
    pacer = pacing.Pacer(cfg.tps)
    pacer.begin()
    used = [0] * len(plans)
    reasoning = [0] * len(plans)
    visible = [0] * len(plans)
    merged: set[tuple[int, int]] = set()
    quirk = cfg.duplicate_index_tool_deltas
    with_fingerprint = not job.include_usage

    async def finish(c: int, last: int | None, tool_id: str = "") -> None:
        """Write choice `c`'s finish chunk, counting the tokens no delta carried."""
        plan = plans[c]
        # EOS, a stop string, or the part of a tool call's opener that never became a delta.
        await run.tokens(max(0, plan.completion_tokens - used[c]))
        await write(chunks.finish(plan, last, tool_id, max(used[c], plan.completion_tokens), reasoning[c],
                                  with_fingerprint=with_fingerprint))

    if not job.beam:
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
        await run.tokens(piece.cost)
        used[c] += piece.cost
        if piece.kind in REASONING_KINDS:
            reasoning[c] += 1
        if job.beam:
            continue
        last = k == len(plan.pieces) - 1
        if piece.kind not in VISIBLE:
            if last:
                await finish(c, None)
            continue
        visible[c] += 1
        tool_id = plan.tool_ids[piece.tool] if piece.kind in (TOOL_NAME, TOOL_ARGS) else ""
        if last and plan.merge_last:
            await finish(c, k, tool_id)
            continue
        first_args = None
        if quirk and piece.kind == TOOL_NAME:
            j = next((m for m in range(k + 1, len(plan.pieces)) if plan.pieces[m].kind in VISIBLE), None)
            if j is not None and plan.pieces[j].kind == TOOL_ARGS and plan.pieces[j].tool == piece.tool:
                first_args = plan.pieces[j]
                merged.add((c, j))
                await run.tokens(first_args.cost)
                used[c] += first_args.cost
                visible[c] += 1
                last = j == len(plan.pieces) - 1
        await write(chunks.delta(plan, k, tool_id, used[c], reasoning[c], first_args))
        if last:
            await finish(c, None)
    if job.beam:
        for c, plan in enumerate(plans):
            await run.tokens(max(0, plan.completion_tokens - used[c]))
        await write(b"".join(chunks.whole(plan, with_fingerprint) for plan in plans))
    if job.include_usage:
        _fill_metrics(job, run)
        await write(chunks.usage(sum(p.completion_tokens for p in plans), sum(p.reasoning_tokens for p in plans),
                                 job.metrics))
    await write(DONE)
    return "completed"


def _fill_metrics(job: Job, run: _Run) -> None:
    """vLLM's per-request metrics, when the server reports them (never for `n` > 1)."""
    if job.per_request_metrics and len(job.plans) == 1 and run.ticket is not None:
        job.metrics = run.engine.timings(run.ticket)


def role_chunks_wanted(chunks: Chunks) -> bool:
    """Whether this kind of stream opens each choice with a role chunk."""
    return bool(chunks.role(0))


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


async def complete(request: web.Request, job: Job, cfg: SimConfig, engine: Engine) -> None:
    """Run a non-streamed request's generation (same queue, pacing and counters). Raises the
    `SimError` the response must carry, or `Dropped` when the connection was cut on purpose."""
    run = _Run(engine, job)
    try:
        if job.engine_error is not None:
            run.outcome = "failed"
            raise job.engine_error
        if job.fault is not None and job.fault.kind == "error-first":
            run.outcome = "failed"
            raise simulated_first_error()
        await run.admit(cfg, None)
        pacer = pacing.Pacer(cfg.tps)
        pacer.begin()
        midway = job.fault if job.fault is not None and job.fault.kind in ("error-mid", "drop") else None
        stop_after = midway.after_tokens(visible_count(job.plans[0])) if midway else None
        seen = 0
        used = 0
        for c, k, wait in _schedule(job.plans):
            piece = job.plans[c].pieces[k]
            if c == 0 and piece.kind in VISIBLE:
                if stop_after is not None and seen >= stop_after:
                    run.outcome = "failed"
                    if midway.kind == "drop":
                        drop_connection(request)
                        raise Dropped()
                    raise internal_error()
                seen += 1
            await pacer.step(wait)
            await run.tokens(piece.cost)
            used += piece.cost
        await run.tokens(sum(p.completion_tokens for p in job.plans) - used)
        _fill_metrics(job, run)
        run.outcome = "completed"
    finally:
        run.close(streaming=False)


class Dropped(Exception):
    """The connection was cut on purpose (the `drop` fault); there is no response to send."""
