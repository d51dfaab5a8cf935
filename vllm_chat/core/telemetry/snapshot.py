"""One look at a vLLM server: its version, its models and its load, taken together.

`take_snapshot` asks `/version`, `/v1/models` and `/metrics` at once, each
with its own short timeout, and never raises: what a server could not tell is
kept as a problem beside the figure ("not reported: /metrics answered 404").
Two snapshots in a row give rates (tokens generated per second, prefix-cache
hits in the last interval, new preemptions).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from vllm_chat.core.client import ChatClient
from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.models import ModelInfo
from vllm_chat.core.telemetry.metrics import Distribution, ServerMetrics, parse_metrics
from vllm_chat.core.telemetry.probe import (
    PROBE_TIMEOUT,
    ProbeError,
    fetch_metrics_text,
    fetch_version,
)


@dataclass(frozen=True)
class MetricsSample:
    """`/metrics` read once: the figures, or why there are none."""

    metrics: ServerMetrics | None
    """The figures (None: see `problem`)."""
    problem: str = ""
    """Why there are no figures ('' when there are)."""
    missing: bool = False
    """The server has no `/metrics` (or it is behind credentials): asking again is pointless."""
    taken_at: float = 0.0
    """`time.monotonic()` when the answer arrived."""


async def sample_metrics(client: ChatClient, timeout: float = PROBE_TIMEOUT) -> MetricsSample:
    """Read `/metrics` once (parsed in a thread: the parser is slow on a busy machine)."""
    try:
        text = await fetch_metrics_text(client, timeout)
        metrics = await asyncio.to_thread(parse_metrics, text)
    except ProbeError as exc:
        return MetricsSample(None, f"not reported: {exc.reason}", missing=exc.missing or exc.denied,
                             taken_at=time.monotonic())
    except ValueError as exc:
        return MetricsSample(None, f"not reported: /metrics is {exc}", missing=True, taken_at=time.monotonic())
    return MetricsSample(metrics, taken_at=time.monotonic())


@dataclass(frozen=True)
class ServerSnapshot:
    """What a server said about itself at one moment."""

    server: str
    """The base URL (credentials never included)."""
    taken_at: float
    """Wall-clock time of the snapshot (epoch seconds)."""
    version: str | None = None
    """vLLM's version (`/version`)."""
    version_problem: str = ""
    """Why the version is unknown."""
    models: tuple[ModelInfo, ...] = ()
    """The served models (`/v1/models`), LoRA adapters included."""
    models_problem: str = ""
    """Why the model list is unknown."""
    sample: MetricsSample = MetricsSample(None, "not asked")
    """The `/metrics` reading."""
    previous: MetricsSample | None = None
    """The reading before this one, for rates."""

    @property
    def metrics(self) -> ServerMetrics | None:
        """The figures of this reading."""
        return self.sample.metrics

    @property
    def interval(self) -> float | None:
        """Seconds between the previous reading and this one."""
        if self.previous is None or self.previous.metrics is None or self.metrics is None:
            return None
        span = self.sample.taken_at - self.previous.taken_at
        return span if span > 0 else None

    def _delta(self, name: str) -> float | None:
        span = self.interval
        if span is None:
            return None
        assert self.previous is not None and self.previous.metrics is not None and self.metrics is not None
        now: float | None = getattr(self.metrics, name)
        then: float | None = getattr(self.previous.metrics, name)
        if now is None or then is None or now < then:
            return None  # not reported, or the server restarted in between
        return now - then

    @property
    def generation_rate(self) -> float | None:
        """Tokens generated per second over the last interval."""
        delta, span = self._delta("generation_tokens"), self.interval
        return delta / span if delta is not None and span else None

    @property
    def recent_prefix_hit_rate(self) -> float | None:
        """Prefix-cache hit rate over the last interval (None without lookups in it)."""
        hits, queries = self._delta("prefix_hits"), self._delta("prefix_queries")
        return hits / queries if hits is not None and queries else None

    @property
    def new_preemptions(self) -> float | None:
        """Preemptions during the last interval."""
        return self._delta("preemptions")

    def recent(self, name: str) -> Distribution | None:
        """A latency histogram (`ttft`, `itl`, `e2e`, `queue_time`) over the last interval
        when it saw requests, else since the server started."""
        metrics = self.metrics
        now: Distribution | None = getattr(metrics, name) if metrics is not None else None
        if now is None:
            return None
        before = self.previous.metrics if self.previous is not None else None
        window = now.since(getattr(before, name) if before is not None else None)
        return window if window.count > 0 else now


async def take_snapshot(
    client: ChatClient,
    server: str,
    *,
    previous: ServerSnapshot | None = None,
    timeout: float = PROBE_TIMEOUT,
) -> ServerSnapshot:
    """Ask the server for its version, models and metrics at once; never raises."""

    async def models() -> tuple[tuple[ModelInfo, ...], str]:
        try:
            return tuple(await asyncio.wait_for(client.list_models(), timeout)), ""
        except asyncio.TimeoutError:
            return (), f"no answer from /v1/models within {timeout:g} s"
        except ChatErrorException as exc:
            return (), exc.error.message

    async def version() -> tuple[str | None, str]:
        try:
            return await fetch_version(client, timeout), ""
        except ProbeError as exc:
            return None, f"not reported: {exc.reason}"

    # The HTTP client's import and TLS set-up take seconds on a busy machine: not the server's time.
    await client.http()
    (version_text, version_problem), (cards, models_problem), sample = await asyncio.gather(
        version(), models(), sample_metrics(client, timeout))
    return ServerSnapshot(
        server=server,
        taken_at=time.time(),
        version=version_text,
        version_problem=version_problem,
        models=cards,
        models_problem=models_problem,
        sample=sample,
        previous=previous.sample if previous is not None else None,
    )
