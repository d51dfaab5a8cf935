"""vLLM's Prometheus `/metrics`, read into the few figures a chat user cares about.

The exposition is parsed with `prometheus_client`'s own parser (never by
hand). Before parsing, lines of families we never read are dropped: a vLLM
0.32 exposition has ~670 lines (Python GC, HTTP, dozens of vLLM histograms)
and parsing all of them takes tens of milliseconds on a busy machine.

vLLM renamed series over the years, so each figure lists the names it may go
by, newest first (`vllm:kv_cache_usage_perc`, formerly
`vllm:gpu_cache_usage_perc`). Every series carries `engine` and `model_name`
labels; figures are summed over engines (data parallel), except the KV cache,
which is their mean. A figure the server does not report is `None`, and front
ends say "not reported".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

KV_CACHE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
"""KV-cache use, 0-1 (the second name is vLLM's V0 engine's)."""
RUNNING = ("vllm:num_requests_running",)
WAITING = ("vllm:num_requests_waiting",)
WAITING_BY_REASON = ("vllm:num_requests_waiting_by_reason",)
PREFIX_HITS = ("vllm:prefix_cache_hits", "vllm:gpu_prefix_cache_hits")
PREFIX_QUERIES = ("vllm:prefix_cache_queries", "vllm:gpu_prefix_cache_queries")
PREFIX_HIT_RATE = ("vllm:gpu_prefix_cache_hit_rate",)
"""V0 reported the prefix-cache hit rate as a gauge instead of two counters."""
PREEMPTIONS = ("vllm:num_preemptions",)
PROMPT_TOKENS = ("vllm:prompt_tokens",)
GENERATION_TOKENS = ("vllm:generation_tokens",)
TTFT = ("vllm:time_to_first_token_seconds",)
ITL = ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds")
E2E = ("vllm:e2e_request_latency_seconds",)
QUEUE_TIME = ("vllm:request_queue_time_seconds",)

_WANTED = (KV_CACHE + RUNNING + WAITING + WAITING_BY_REASON + PREFIX_HITS + PREFIX_QUERIES
           + PREFIX_HIT_RATE + PREEMPTIONS + PROMPT_TOKENS + GENERATION_TOKENS + TTFT + ITL + E2E
           + QUEUE_TIME)
_SUFFIXES = ("", "_total", "_bucket", "_sum", "_count")


@dataclass(frozen=True)
class Distribution:
    """A Prometheus histogram: how many observations fell at or under each bound."""

    buckets: tuple[tuple[float, float], ...]
    """(upper bound, cumulative count), ascending; the last bound is +Inf."""
    count: float
    """Observations in total."""
    total: float
    """Sum of the observations."""

    @property
    def mean(self) -> float | None:
        """The mean observation (None when there is none)."""
        return self.total / self.count if self.count > 0 else None

    def quantile(self, q: float) -> float | None:
        """The `q` quantile (0-1), interpolated inside its bucket the way PromQL's
        `histogram_quantile` does; None without observations. A quantile that falls in
        the +Inf bucket is the largest finite bound (all that is known)."""
        if self.count <= 0 or not self.buckets:
            return None
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower_bound
                inside = cumulative - lower_count
                if inside <= 0:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / inside
            lower_bound, lower_count = bound, cumulative
        return lower_bound

    def bound(self, q: float) -> float | None:
        """The upper bound of the bucket holding the `q` quantile: the `q` quantile is at
        most this (None without observations; the largest finite bound when it falls in the
        +Inf bucket). Bucket bounds are all a histogram knows, so this is what is shown."""
        if self.count <= 0 or not self.buckets:
            return None
        rank = q * self.count
        finite = [b for b, _ in self.buckets if not math.isinf(b)]
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                return bound if not math.isinf(bound) else (finite[-1] if finite else None)
        return finite[-1] if finite else None

    def since(self, earlier: Distribution | None) -> Distribution:
        """The observations made after `earlier` (a sample of the same histogram); all of
        them when `earlier` is None or does not line up (the server restarted)."""
        if earlier is None or [b for b, _ in earlier.buckets] != [b for b, _ in self.buckets] \
                or earlier.count > self.count:
            return self
        pairs = zip(self.buckets, earlier.buckets, strict=True)
        buckets = tuple((bound, now - then) for (bound, now), (_, then) in pairs)
        return Distribution(buckets, self.count - earlier.count, self.total - earlier.total)


@dataclass(frozen=True)
class ServerMetrics:
    """The figures read from one `/metrics` answer (None: the server does not report it)."""

    running: float | None = None
    """Requests in the running batch."""
    waiting: float | None = None
    """Requests queued for the batch."""
    waiting_by_reason: dict[str, float] = field(default_factory=dict)
    """Queued requests by why they wait (`capacity`, `deferred`), when reported."""
    kv_cache: float | None = None
    """KV-cache use, 0-1."""
    prefix_hits: float | None = None
    """Prompt tokens found in the prefix cache, since the server started."""
    prefix_queries: float | None = None
    """Prompt tokens looked up in the prefix cache, since the server started."""
    prefix_hit_rate_gauge: float | None = None
    """The hit rate as older servers report it (a gauge, 0-1)."""
    preemptions: float | None = None
    """Requests preempted (evicted from the KV cache to make room), since the server started."""
    prompt_tokens: float | None = None
    """Prompt tokens processed, since the server started."""
    generation_tokens: float | None = None
    """Tokens generated, since the server started."""
    ttft: Distribution | None = None
    """Server-side time to first token, seconds."""
    itl: Distribution | None = None
    """Inter-token latency, seconds."""
    e2e: Distribution | None = None
    """Whole-request latency, seconds."""
    queue_time: Distribution | None = None
    """Time requests spent queued, seconds."""
    models: tuple[str, ...] = ()
    """The `model_name` labels seen."""

    @property
    def prefix_hit_rate(self) -> float | None:
        """Share of looked-up prompt tokens found in the prefix cache, 0-1."""
        if self.prefix_queries:
            return (self.prefix_hits or 0.0) / self.prefix_queries
        return self.prefix_hit_rate_gauge

    @property
    def busy(self) -> bool:
        """Whether requests queue or the KV cache is nearly full (worth showing unasked)."""
        return bool(self.waiting) or (self.kv_cache is not None and self.kv_cache >= BUSY_KV_CACHE)


BUSY_KV_CACHE = 0.9
"""KV-cache use from which the server counts as busy (new requests may wait or preempt)."""


def relevant_lines(text: str) -> str:
    """The lines of `text` that belong to the families read here (the rest of an
    exposition is never parsed)."""
    kept = []
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split(None, 3)
            name = parts[2] if len(parts) > 2 and parts[1] in ("HELP", "TYPE") else ""
        else:
            name = line.split("{", 1)[0].split(None, 1)[0] if line.strip() else ""
        if name and _wanted(name):
            kept.append(line)
    return "\n".join(kept) + "\n"


def _wanted(name: str) -> bool:
    return any(name.startswith(family) and name[len(family):] in _SUFFIXES for family in _WANTED)


def parse_metrics(text: str) -> ServerMetrics:
    """Read vLLM's figures from a Prometheus text exposition.

    Raises `ValueError` when the text is not a Prometheus exposition at all.
    """
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, Any] = {}
    try:
        for family in text_string_to_metric_families(relevant_lines(text)):
            families[family.name] = family
    except Exception as exc:  # the parser raises ValueError, and others on odd input
        raise ValueError(f"not a Prometheus exposition ({exc})") from exc
    models: set[str] = set()
    for family in families.values():
        models.update(s.labels["model_name"] for s in family.samples if "model_name" in s.labels)
    return ServerMetrics(
        running=_sum(families, RUNNING),
        waiting=_sum(families, WAITING),
        waiting_by_reason=_by_label(families, WAITING_BY_REASON, "reason"),
        kv_cache=_mean(families, KV_CACHE),
        prefix_hits=_sum(families, PREFIX_HITS),
        prefix_queries=_sum(families, PREFIX_QUERIES),
        prefix_hit_rate_gauge=_mean(families, PREFIX_HIT_RATE),
        preemptions=_sum(families, PREEMPTIONS),
        prompt_tokens=_sum(families, PROMPT_TOKENS),
        generation_tokens=_sum(families, GENERATION_TOKENS),
        ttft=_histogram(families, TTFT),
        itl=_histogram(families, ITL),
        e2e=_histogram(families, E2E),
        queue_time=_histogram(families, QUEUE_TIME),
        models=tuple(sorted(models)),
    )


def _values(families: dict[str, Any], names: tuple[str, ...]) -> list[float] | None:
    """The plain samples (gauge or counter values) of the first family present."""
    for name in names:
        family = families.get(name)
        if family is None:
            continue
        values = [s.value for s in family.samples
                  if not s.name.endswith("_created") and math.isfinite(s.value)]
        if values:
            return values
    return None


def _sum(families: dict[str, Any], names: tuple[str, ...]) -> float | None:
    values = _values(families, names)
    return sum(values) if values is not None else None


def _mean(families: dict[str, Any], names: tuple[str, ...]) -> float | None:
    values = _values(families, names)
    return sum(values) / len(values) if values else None


def _by_label(families: dict[str, Any], names: tuple[str, ...], label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in names:
        family = families.get(name)
        if family is None:
            continue
        for sample in family.samples:
            key = sample.labels.get(label)
            if key is not None and math.isfinite(sample.value):
                out[key] = out.get(key, 0.0) + sample.value
        if out:
            break
    return out


def _histogram(families: dict[str, Any], names: tuple[str, ...]) -> Distribution | None:
    for name in names:
        family = families.get(name)
        if family is None or family.type != "histogram":
            continue
        buckets: dict[float, float] = {}
        count = total = 0.0
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                try:
                    bound = float(sample.labels.get("le", "nan"))
                except ValueError:
                    continue
                if not math.isnan(bound):
                    buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name.endswith("_count"):
                count += sample.value
            elif sample.name.endswith("_sum"):
                total += sample.value
        if buckets:
            return Distribution(tuple(sorted(buckets.items())), count, total)
    return None
