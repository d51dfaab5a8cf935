"""Time in the simulated engine: the wait for a slot and the first token, and token pacing.

A request queues in the engine (`engine.py`), may stall (the `stall` and `keepalive`
faults keep it waiting longer), then spends `ttft` seconds in prefill before its first
token; tokens then come at `tps` per second. While a stream is silent, `: keep-alive`
comments go out when the server (or the `keepalive` fault) asks for them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from vllm_chat.simserver.chunks import KEEP_ALIVE
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.engine import Engine, Ticket
from vllm_chat.simserver.faults import Fault

YIELD_EVERY = 64
Write = Callable[[bytes], Awaitable[None]] | None


class Pacer:
    """Spaces tokens at `tps` per second; at 0, yields to the loop now and then."""

    def __init__(self, tps: float) -> None:
        self.tps = tps
        self.start = 0.0
        self.sent = 0

    def begin(self) -> None:
        """The first token is due now."""
        self.start = time.monotonic()
        self.sent = 0

    async def step(self, tokens: int) -> None:
        """Wait until `tokens` more tokens are due."""
        if tokens == 0:
            return
        self.sent += tokens
        if self.tps > 0:
            delay = self.start + self.sent / self.tps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        elif self.sent % YIELD_EVERY < tokens:
            # Let the loop notice a disconnect (and serve others) even at full speed.
            await asyncio.sleep(0)


def keep_alive_interval(cfg: SimConfig, fault: Fault | None) -> float:
    """Seconds of silence between `: keep-alive` comments (0: none)."""
    if fault is not None and fault.kind == "keepalive":
        return cfg.sse_keep_alive or 1.0
    return cfg.sse_keep_alive


async def quiet(seconds: float, write: Write, interval: float) -> None:
    """Stay silent for `seconds`, sending keep-alive comments every `interval` if asked."""
    if seconds <= 0:
        return
    if write is None or interval <= 0:
        await asyncio.sleep(seconds)
        return
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(interval, left))
        if time.monotonic() < end - 1e-3:
            await write(KEEP_ALIVE)


async def until_running(ticket: Ticket, write: Write, interval: float) -> None:
    """Wait for a slot (after the queue, or after a preemption), with keep-alive comments."""
    if ticket.running.is_set():
        return
    if write is None or interval <= 0:
        await ticket.running.wait()
        return
    while not ticket.running.is_set():
        try:
            await asyncio.wait_for(ticket.running.wait(), interval)
        except asyncio.TimeoutError:
            await write(KEEP_ALIVE)


async def stall(engine: Engine, seqs: int, fault: Fault | None, write: Write, interval: float) -> None:
    """The `stall` and `keepalive` faults: the request waits (counted as waiting) before it
    even reaches the scheduler."""
    seconds = fault.seconds if fault is not None and fault.kind in ("stall", "keepalive") else 0.0
    if seconds <= 0:
        return
    engine.stats.waiting += seqs
    try:
        await quiet(seconds, write, interval)
    finally:
        engine.stats.waiting -= seqs
