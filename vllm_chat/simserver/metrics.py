"""Live counters of the simulated engine, readable from Python (`SimServer.stats`)
and as vLLM's Prometheus series on `GET /metrics`."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

FINISH_REASONS = ("stop", "length", "abort", "error", "repetition")
RECENT_BODIES = 20
PROMETHEUS_CONTENT_TYPE = "text/plain; version=1.0.0; charset=utf-8"


@dataclass
class SimStats:
    """What the server has done so far. Tests read it to prove what reached the server."""

    requests: int = 0
    """Generation requests received (chat and legacy completions), whatever their outcome."""
    waiting: int = 0
    """Requests accepted but still before their first token (time to first token, stalls)."""
    running: int = 0
    """Requests producing tokens right now."""
    completed: int = 0
    """Requests that ran to a finish reason."""
    aborted: int = 0
    """Requests stopped early because the client went away (closed the stream or the connection)."""
    rejected: int = 0
    """Requests answered with an HTTP error before any generation."""
    failed: int = 0
    """Requests that ended with an injected error event or a cut connection."""
    prompt_tokens: int = 0
    """Prompt tokens of every request that started generating."""
    generation_tokens: int = 0
    """Tokens generated, counted as they are produced (so a cancelled stream counts what it used)."""
    active_tokens: int = 0
    """Prompt plus generated tokens of the running requests (drives kv_cache_usage_perc)."""
    finished: collections.Counter[str] = field(default_factory=collections.Counter)
    """Completed requests by finish reason, as `vllm:request_success_total` counts them."""
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


def prometheus(stats: SimStats, model: str, max_model_len: int) -> str:
    """The vLLM series a client or a test watches, in Prometheus text format."""
    labels = f'engine="0",model_name="{model}"'
    capacity = max(1, max_model_len * 8)
    kv = min(1.0, stats.active_tokens / capacity)
    lines = [
        _series(
            "num_requests_running", "gauge", "Number of requests in model execution batches.", labels, stats.running
        ),
        _series("num_requests_waiting", "gauge", "Number of requests waiting to be processed.", labels, stats.waiting),
        _series("kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", labels, kv),
        _series("prompt_tokens_total", "counter", "Number of prefill tokens processed.", labels, stats.prompt_tokens),
        _series(
            "generation_tokens_total", "counter", "Number of generation tokens processed.", labels,
            stats.generation_tokens,
        ),
    ]
    success = [
        "# HELP vllm:request_success_total Count of successfully processed requests.",
        "# TYPE vllm:request_success_total counter",
    ]
    for reason in FINISH_REASONS:
        success.append(
            f'vllm:request_success_total{{engine="0",finished_reason="{reason}",model_name="{model}"}} '
            f"{float(stats.finished[reason])}"
        )
    return "\n".join(lines + ["\n".join(success)]) + "\n"


def _series(name: str, kind: str, help_text: str, labels: str, value: float) -> str:
    return f"# HELP vllm:{name} {help_text}\n# TYPE vllm:{name} {kind}\nvllm:{name}{{{labels}}} {float(value)}"
