"""The simulated engine's scheduler: sequence slots, a FIFO queue, the KV cache, prefix caching
and preemption, so `/metrics` moves with the load the server really has.

Every generation request gets a `Ticket`. It waits until a slot is free
(`max_num_seqs`; a request with `n` choices needs `n`) and its prompt fits in the KV
cache, runs, grows the cache by one token per generated token, and leaves. When a running
request's next token does not fit, the newest running request is preempted (its cache freed,
back to the head of the queue), as vLLM does. Prompts are hashed in blocks of `block_size`
tokens: a block seen before is a prefix-cache hit.

Phantom requests stand for other users: `sim:load=N` adds N that run `load_seconds` each,
`SimConfig.background_load` keeps that many coming, each taking an equal share of 97 % of
the KV cache, so a demo server looks busy (queue, full cache, preemptions).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import time
from dataclasses import dataclass, field

from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.metrics import SimStats

PHANTOM_OUTPUT = 96
"""Tokens a phantom request counts as generated."""
PHANTOM_KV_SHARE = 0.97
"""Share of the KV cache a full batch of phantoms takes."""


@dataclass(eq=False)
class Ticket:
    """One request's place in the engine, and its timestamps (monotonic seconds)."""

    seqs: int
    """Slots it takes (its `n`)."""
    prompt_tokens: int
    """Prompt size in tokens."""
    prompt_blocks: list[str]
    """Hashes of the prompt's full blocks (for prefix caching)."""
    max_tokens: int
    """Its completion budget (for the request histograms)."""
    phantom: bool = False
    """A simulated request from another user."""
    kv: int = 0
    """Tokens it holds in the KV cache."""
    generated: int = 0
    """Tokens generated so far."""
    cached: int = 0
    """Prompt tokens found in the prefix cache when it was first scheduled."""
    preemptions: int = 0
    """Times it was preempted."""
    arrived: float = field(default_factory=time.monotonic)
    """When it reached the engine."""
    scheduled: float | None = None
    """When it first got a slot."""
    first_token: float | None = None
    """When its first token was produced."""
    last_token: float | None = None
    """When its latest token was produced."""
    running: asyncio.Event = field(default_factory=asyncio.Event)
    """Set while it holds a slot."""


class Engine:
    """Slots, queue and KV cache of one simulated server (used from its event loop only)."""

    def __init__(self, config: SimConfig, stats: SimStats) -> None:
        self.config = config
        self.stats = stats
        self.capacity = config.kv_cache_tokens
        self.running: list[Ticket] = []
        self.waiting: collections.deque[Ticket] = collections.deque()
        self.kv_used = 0
        self._blocks: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._max_blocks = max(1, config.kv_cache_tokens // config.block_size)
        self._tasks: set[asyncio.Task[None]] = set()
        # Observed on every token: looked up once.
        self._itl = stats.histograms.get("inter_token_latency_seconds")
        self._iteration = stats.histograms.get("iteration_tokens_total")

    # --- requests -------------------------------------------------------------------------------

    def submit(self, prompt: list[str], seqs: int, max_tokens: int, phantom: bool = False,
               kv: int | None = None) -> Ticket:
        """Queue a request; it runs once `running` is set."""
        ticket = Ticket(seqs, len(prompt) if kv is None else kv, _block_hashes(prompt, self.config.block_size),
                        max_tokens, phantom)
        self.waiting.append(ticket)
        self.stats.waiting += seqs
        self._schedule()
        return ticket

    def generated(self, ticket: Ticket, tokens: int) -> bool:
        """`tokens` more tokens of a running request; False when that preempted it."""
        if tokens <= 0:
            return ticket.running.is_set()
        now = time.monotonic()
        if ticket.last_token is not None and not ticket.phantom and self._itl is not None:
            self._itl.observe(now - ticket.last_token)
        if ticket.first_token is None:
            ticket.first_token = now
        ticket.last_token = now
        ticket.generated += tokens
        ticket.kv += tokens
        self.kv_used += tokens
        self.stats.generation_tokens += tokens
        self.stats.active_tokens = self.kv_used
        if self._iteration is not None:
            self._iteration.observe(tokens)
        while self.kv_used > self.capacity and len(self.running) > 1:
            self._preempt(self.running[-1])
        return ticket.running.is_set()

    def finish(self, ticket: Ticket, outcome: str, reasons: list[str | None] | None = None) -> None:
        """The request is over: `completed`, `aborted` (client gone) or `failed` (an injected fault)."""
        if ticket in self.running:
            self.running.remove(ticket)
            self.kv_used -= ticket.kv
            self.stats.running -= ticket.seqs
        elif ticket in self.waiting:
            self.waiting.remove(ticket)
            self.stats.waiting -= ticket.seqs
        ticket.kv = 0
        ticket.running.clear()
        self.stats.active_tokens = self.kv_used
        if outcome == "completed":
            for reason in reasons or []:
                self.stats.finished[reason or "error"] += 1
            if not ticket.phantom:
                self.stats.completed += 1
            self._record(ticket)
        elif outcome == "aborted":
            self.stats.aborted += 1
        else:
            self.stats.failed += 1
        self._schedule()

    # --- load -----------------------------------------------------------------------------------

    def add_load(self, count: int) -> None:
        """`count` phantom requests arrive now, ahead of anything submitted after this call
        (each runs `load_seconds` once scheduled)."""
        for _ in range(count):
            self._spawn(self._phantom(self._phantom_ticket(), self.config.load_seconds))

    def start(self) -> None:
        """Start the background load of the configuration (call on the server's loop)."""
        if self.config.background_load:
            self._spawn(self._background(self.config.background_load))

    async def close(self) -> None:
        """Cancel the phantom requests."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _phantom_ticket(self) -> Ticket:
        share = int(self.capacity * PHANTOM_KV_SHARE / self.config.max_num_seqs)
        return self.submit([], 1, PHANTOM_OUTPUT, phantom=True, kv=max(1, share - PHANTOM_OUTPUT))

    async def _phantom(self, ticket: Ticket, seconds: float) -> None:
        outcome = "aborted"
        try:
            await ticket.running.wait()
            await asyncio.sleep(seconds / 2)
            self.generated(ticket, PHANTOM_OUTPUT // 2)
            while not ticket.running.is_set():
                await ticket.running.wait()
            await asyncio.sleep(seconds / 2)
            self.generated(ticket, PHANTOM_OUTPUT - PHANTOM_OUTPUT // 2)
            outcome = "completed"
        finally:
            self.finish(ticket, outcome, ["length"] if outcome == "completed" else None)

    async def _background(self, count: int) -> None:
        live: set[asyncio.Task[None]] = set()
        while True:
            while len(live) < count:
                task = asyncio.get_running_loop().create_task(
                    self._phantom(self._phantom_ticket(), self.config.load_seconds)
                )
                live.add(task)
                task.add_done_callback(live.discard)
            try:
                await asyncio.wait(live, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                for task in live:
                    task.cancel()
                await asyncio.gather(*live, return_exceptions=True)
                raise

    # --- scheduling -----------------------------------------------------------------------------

    def _schedule(self) -> None:
        while self.waiting:
            head = self.waiting[0]
            busy = sum(t.seqs for t in self.running)
            need = head.prompt_tokens + head.generated
            if self.running and (busy + head.seqs > self.config.max_num_seqs or self.kv_used + need > self.capacity):
                return
            self.waiting.popleft()
            self.stats.waiting -= head.seqs
            self.running.append(head)
            self.stats.running += head.seqs
            head.kv = need
            self.kv_used += need
            self.stats.active_tokens = self.kv_used
            if head.scheduled is None:
                head.scheduled = time.monotonic()
                self._admit(head)
            head.running.set()

    def _admit(self, ticket: Ticket) -> None:
        """First scheduling: prefix-cache lookup and prompt counters."""
        hits = 0
        for digest in ticket.prompt_blocks:
            if digest not in self._blocks:
                break
            self._blocks.move_to_end(digest)
            hits += 1
        for digest in ticket.prompt_blocks[hits:]:
            self._blocks[digest] = None
        while len(self._blocks) > self._max_blocks:
            self._blocks.popitem(last=False)
        ticket.cached = hits * self.config.block_size
        stats = self.stats
        stats.prompt_tokens += ticket.prompt_tokens
        stats.cached_prompt_tokens += ticket.cached
        if not ticket.phantom:
            stats.prefix_queries += ticket.prompt_tokens
            stats.prefix_hits += ticket.cached

    def _preempt(self, victim: Ticket) -> None:
        self.running.remove(victim)
        self.stats.running -= victim.seqs
        self.kv_used -= victim.kv
        self.stats.active_tokens = self.kv_used
        victim.kv = 0
        victim.preemptions += 1
        self.stats.preemptions += 1
        victim.running.clear()
        self.waiting.appendleft(victim)
        self.stats.waiting += victim.seqs

    def _record(self, t: Ticket) -> None:
        """Histograms of a finished request, as vLLM's stats logger records them."""
        now = time.monotonic()
        observe = self.stats.observe
        scheduled = t.scheduled or now
        first = t.first_token or now
        last = t.last_token or now
        observe("e2e_request_latency_seconds", now - t.arrived)
        observe("request_queue_time_seconds", scheduled - t.arrived)
        observe("time_to_first_token_seconds", first - t.arrived)
        observe("request_prefill_time_seconds", first - scheduled)
        observe("request_decode_time_seconds", last - first)
        observe("request_inference_time_seconds", last - scheduled)
        if t.generated > 1:
            observe("request_time_per_output_token_seconds", (last - first) / (t.generated - 1))
        observe("request_prompt_tokens", t.prompt_tokens)
        observe("request_generation_tokens", t.generated)
        observe("request_params_n", t.seqs)
        observe("request_params_max_tokens", t.max_tokens)
        observe("request_max_num_generation_tokens", t.max_tokens)
        observe("request_num_preemptions", t.preemptions)
        observe("request_prefill_kv_computed_tokens", t.prompt_tokens - t.cached)

    def timings(self, ticket: Ticket) -> dict[str, float | None]:
        """vLLM's per-request `metrics` (milliseconds), from the ticket's timestamps."""
        ms = 1000.0
        ttft = (ticket.first_token - ticket.scheduled) * ms if ticket.first_token and ticket.scheduled else None
        queue = (ticket.scheduled - ticket.arrived) * ms if ticket.scheduled else None
        generation = (ticket.last_token - ticket.first_token) * ms if ticket.first_token and ticket.last_token else None
        mean_itl = generation / (ticket.generated - 1) if generation is not None and ticket.generated > 1 else None
        tps = None
        if ticket.scheduled and ticket.last_token and ticket.last_token > ticket.scheduled:
            tps = ticket.generated / (ticket.last_token - ticket.scheduled)
        return {
            "time_to_first_token_ms": ttft,
            "generation_time_ms": generation,
            "queue_time_ms": queue,
            "mean_itl_ms": mean_itl,
            "tokens_per_second": tps,
        }


def _block_hashes(prompt: list[str], block_size: int) -> list[str]:
    """Chained hashes of the prompt's full blocks: block k's hash covers blocks 0..k."""
    digests = []
    running = hashlib.sha256()
    for end in range(block_size, len(prompt) + 1, block_size):
        running.update("\x00".join(prompt[end - block_size:end]).encode())
        digests.append(running.copy().hexdigest()[:16])
    return digests
