"""Live counters of the simulated engine, readable from Python (`SimServer.stats`) and
exposed as vLLM's Prometheus series on `GET /metrics` (`prometheus.py`)."""

from __future__ import annotations

import bisect
import collections
import time
from dataclasses import dataclass, field
from typing import Any

FINISH_REASONS = ("stop", "length", "abort", "error", "repetition")
RECENT_BODIES = 20
PROMETHEUS_CONTENT_TYPE = "text/plain; version=1.0.0; charset=utf-8"

_LATENCY = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
            480.0, 960.0, 1920.0, 7680.0)
_ITL = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
_TTFT = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
         80.0, 160.0, 640.0, 2560.0)
_ITERATION = (1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0)
_N = (1.0, 2.0, 5.0, 10.0, 20.0)
_PREEMPTIONS = (1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0)


def token_buckets(max_model_len: int) -> tuple[float, ...]:
    """vLLM's 1-2-5 buckets up to the context window, for token-count histograms."""
    out: list[float] = []
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            value = step * magnitude
            if value > max_model_len:
                return tuple(out)
            out.append(float(value))
        magnitude *= 10


def histogram_buckets(max_model_len: int) -> dict[str, tuple[float, ...]]:
    """Every request histogram vLLM exports, with its bucket bounds (as in a 0.32 server)."""
    tokens = token_buckets(max_model_len)
    return {
        "request_prompt_tokens": tokens,
        "request_generation_tokens": tokens,
        "iteration_tokens_total": _ITERATION,
        "request_max_num_generation_tokens": tokens,
        "request_params_n": _N,
        "request_params_max_tokens": tokens,
        "time_to_first_token_seconds": _TTFT,
        "inter_token_latency_seconds": _ITL,
        "request_time_per_output_token_seconds": _ITL,
        "e2e_request_latency_seconds": _LATENCY,
        "request_queue_time_seconds": _LATENCY,
        "request_inference_time_seconds": _LATENCY,
        "request_prefill_time_seconds": _LATENCY,
        "request_decode_time_seconds": _LATENCY,
        "request_num_preemptions": _PREEMPTIONS,
        "request_prefill_kv_computed_tokens": tokens,
    }


@dataclass
class Histogram:
    """Observations counted into fixed buckets (non-cumulative here; `+Inf` is the last slot)."""

    bounds: tuple[float, ...]
    """Upper bounds of the finite buckets."""
    counts: list[int] = field(default_factory=list)
    """Observations per bucket, the last one past every bound."""
    total: float = 0.0
    """Sum of the observations."""

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        """Number of observations."""
        return sum(self.counts)


@dataclass
class SimStats:
    """What the server has done so far. Tests read it to prove what reached the server."""

    requests: int = 0
    """Generation requests received (chat and legacy completions), whatever their outcome."""
    waiting: int = 0
    """Sequences queued: before a slot (or KV room) is free, stalled, or preempted."""
    running: int = 0
    """Sequences holding a slot and producing tokens right now."""
    completed: int = 0
    """Requests that ran to a finish reason."""
    aborted: int = 0
    """Requests stopped early because the client went away (closed the stream or the connection)."""
    rejected: int = 0
    """Requests answered with an HTTP error before any generation."""
    failed: int = 0
    """Requests that ended with an injected error event or a cut connection."""
    prompt_tokens: int = 0
    """Prompt tokens of every request that got a slot."""
    generation_tokens: int = 0
    """Tokens generated, counted as they are produced (so a cancelled stream counts what it used)."""
    active_tokens: int = 0
    """Tokens held in the KV cache by the running requests (drives kv_cache_usage_perc)."""
    cached_prompt_tokens: int = 0
    """Prompt tokens served from the prefix cache."""
    prefix_queries: int = 0
    """Prompt tokens looked up in the prefix cache (`vllm:prefix_cache_queries_total`)."""
    prefix_hits: int = 0
    """Of those, tokens found (`vllm:prefix_cache_hits_total`)."""
    preemptions: int = 0
    """Running requests pushed back to the queue because the KV cache was full."""
    queue_rejections: int = 0
    """Requests refused with 503 because the queue was full (the `busy` fault)."""
    tool_parser_calls: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    """Tool-parser invocations by (`streaming`/`non_streaming`, `tool_call`/`no_tool_call`)."""
    finished: collections.Counter[str] = field(default_factory=collections.Counter)
    """Completed requests by finish reason, as `vllm:request_success_total` counts them."""
    histograms: dict[str, Histogram] = field(default_factory=dict)
    """Request histograms by vLLM series name (without the `vllm:` prefix)."""
    started: float = field(default_factory=time.time)
    """When the counters were created (the series' `_created` value)."""
    last_request_body: dict[str, Any] | None = None
    """The JSON body of the latest generation request, exactly as received."""
    last_request_headers: dict[str, str] = field(default_factory=dict)
    """The HTTP headers of that request."""
    recent_request_bodies: collections.deque[Any] = field(
        default_factory=lambda: collections.deque(maxlen=RECENT_BODIES)
    )
    """The latest bodies, oldest first (at most 20)."""

    def note_request(self, body: Any, headers: dict[str, str]) -> None:
        """Record a generation request as it arrives."""
        self.requests += 1
        self.last_request_body = body if isinstance(body, dict) else None
        self.last_request_headers = headers
        self.recent_request_bodies.append(body)

    def observe(self, name: str, value: float) -> None:
        """Count one observation in a request histogram (created by `prepare_histograms`)."""
        histogram = self.histograms.get(name)
        if histogram is not None:
            histogram.observe(value)

    def prepare_histograms(self, max_model_len: int) -> None:
        """Create the request histograms with the bucket bounds of a server of this window."""
        self.histograms = {name: Histogram(b) for name, b in histogram_buckets(max_model_len).items()}
