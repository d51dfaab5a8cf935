"""A server snapshot in words: the panel's rows, `vllm-chat server`'s lines and JSON,
the header's load indicator and the waiting line's reason.

Everything here is plain text built from numbers and from names a server sent
(model ids, its version); front ends still pass it through `core.text.inert`
before a terminal sees it. A figure the server does not report reads
"not reported", with the reason when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from vllm_chat.core.format import count
from vllm_chat.core.telemetry.metrics import Distribution, ServerMetrics
from vllm_chat.core.telemetry.snapshot import ServerSnapshot

NOT_REPORTED = "not reported"
"""What a figure the server does not expose reads."""
HIGH_KV_CACHE = 0.8
"""KV-cache use worth mentioning while a reply waits (preemption starts near full)."""

Level = Literal["normal", "warn", "bad", "missing"]


@dataclass(frozen=True)
class Fact:
    """One row of the server panel: a label and what the server said."""

    label: str
    """What the row is about ("KV cache")."""
    value: str
    """The figure, in words ("97 %")."""
    level: Level = "normal"
    """How to show it: as is, as a warning, as a problem, or as missing."""


def latency(seconds: float | None) -> str:
    """0.0123 -> '12 ms', 2.41 -> '2.41 s'."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def percent(share: float) -> str:
    """0.973 -> '97 %'."""
    return f"{share * 100:.0f} %"


def _n(value: float) -> str:
    return count(round(value))


def waiting_reason(metrics: ServerMetrics | None) -> str:
    """Why a reply may be slow to start, when the server's figures say so ('' otherwise):
    "3 requests ahead, 4 running, KV cache 97 %".

    A request that waits for its first token is usually queued itself, so the
    requests ahead of it are the waiting ones but one."""
    if metrics is None:
        return ""
    parts = []
    waiting = metrics.waiting or 0
    ahead = int(waiting) - 1
    if ahead >= 1:
        parts.append(f"{ahead} request{'s' if ahead != 1 else ''} ahead")
    if parts and metrics.running:
        parts.append(f"{_n(metrics.running)} running")
    if metrics.kv_cache is not None and metrics.kv_cache >= HIGH_KV_CACHE:
        parts.append(f"KV cache {percent(metrics.kv_cache)}")
    return ", ".join(parts)


def load_label(metrics: ServerMetrics | None) -> str:
    """The header's compact load indicator while the server is busy ('' when it isn't):
    "server busy: 3 waiting · KV 97 %"."""
    if metrics is None or not metrics.busy:
        return ""
    parts = []
    if metrics.waiting:
        parts.append(f"{_n(metrics.waiting)} waiting")
    if metrics.kv_cache is not None:
        parts.append(f"KV {percent(metrics.kv_cache)}")
    return "server busy: " + " · ".join(parts)


def _distribution(dist: Distribution | None, unit: str) -> tuple[str, Level]:
    """Quantiles as the bucket bounds they fall under ("p50 ≤ 20 ms"): a histogram
    knows no more, and an interpolated figure would look more precise than it is."""
    if dist is None:
        return NOT_REPORTED, "missing"
    if dist.count <= 0:
        return "none yet", "normal"
    quantiles = " · ".join(f"p{q} ≤ {latency(dist.bound(q / 100))}" for q in (50, 90, 99))
    return f"{quantiles} · mean {latency(dist.mean)} ({_n(dist.count)} {unit})", "normal"


def _models(snapshot: ServerSnapshot) -> list[Fact]:
    if not snapshot.models:
        return [Fact("Models", snapshot.models_problem or "none listed",
                     "bad" if snapshot.models_problem else "missing")]
    facts = []
    for card in snapshot.models:
        if card.parent:
            facts.append(Fact("LoRA adapter", f"{card.id} (on {card.parent})"))
        else:
            window = f"max_model_len {card.max_model_len}" if card.max_model_len else "context window not reported"
            facts.append(Fact("Model", f"{card.id} · {window}"))
    return facts


def _requests(m: ServerMetrics) -> Fact:
    if m.running is None and m.waiting is None:
        return Fact("Requests", NOT_REPORTED, "missing")
    running = _n(m.running) if m.running is not None else NOT_REPORTED
    waiting = _n(m.waiting) if m.waiting is not None else NOT_REPORTED
    text = f"{running} running · {waiting} waiting"
    reasons = {k: v for k, v in m.waiting_by_reason.items() if v}
    if reasons:
        text += " (" + ", ".join(f"{k} {_n(v)}" for k, v in sorted(reasons.items())) + ")"
    return Fact("Requests", text, "warn" if m.waiting else "normal")


def _kv(m: ServerMetrics) -> Fact:
    if m.kv_cache is None:
        return Fact("KV cache", NOT_REPORTED, "missing")
    level: Level = "bad" if m.kv_cache >= 0.95 else "warn" if m.kv_cache >= HIGH_KV_CACHE else "normal"
    return Fact("KV cache", f"{percent(m.kv_cache)} used", level)


def _prefix(snapshot: ServerSnapshot, m: ServerMetrics) -> Fact:
    rate = m.prefix_hit_rate
    if rate is None:
        return Fact("Prefix cache", NOT_REPORTED if m.prefix_queries is None else "no lookups yet",
                    "missing" if m.prefix_queries is None else "normal")
    text = f"{percent(rate)} hit rate"
    if m.prefix_queries:
        text += f" ({_n(m.prefix_hits or 0)} of {_n(m.prefix_queries)} prompt tokens)"
    recent = snapshot.recent_prefix_hit_rate
    if recent is not None:
        text += f" · last {snapshot.interval:.1f} s: {percent(recent)}"
    return Fact("Prefix cache", text)


def _preemptions(snapshot: ServerSnapshot, m: ServerMetrics) -> Fact:
    if m.preemptions is None:
        return Fact("Preemptions", NOT_REPORTED, "missing")
    text = f"{_n(m.preemptions)} since start"
    new = snapshot.new_preemptions
    if new:
        text += f" · {_n(new)} in the last {snapshot.interval:.1f} s"
    return Fact("Preemptions", text, "warn" if new else "normal")


def server_facts(snapshot: ServerSnapshot) -> list[Fact]:
    """Every row of the server panel (and of `vllm-chat server`), in order."""
    facts = [Fact("Server", snapshot.server)]
    facts.append(Fact("vLLM version", snapshot.version) if snapshot.version
                 else Fact("vLLM version", snapshot.version_problem or NOT_REPORTED, "missing"))
    facts += _models(snapshot)
    m = snapshot.metrics
    if m is None:
        facts.append(Fact("Metrics", snapshot.sample.problem or NOT_REPORTED, "missing"))
        return facts
    facts += [_requests(m), _kv(m), _prefix(snapshot, m), _preemptions(snapshot, m)]
    rate = snapshot.generation_rate
    if rate is not None:
        facts.append(Fact("Generating", f"{rate:.0f} tok/s over the last {snapshot.interval:.1f} s"))
    for label, name, unit in (("TTFT (server)", "ttft", "requests"), ("Inter-token latency", "itl", "tokens"),
                              ("Queue time", "queue_time", "requests"), ("Request latency", "e2e", "requests")):
        text, level = _distribution(snapshot.recent(name), unit)
        facts.append(Fact(label, text, level))
    return facts


def _dist_doc(dist: Distribution | None) -> dict[str, Any] | None:
    if dist is None:
        return None
    return {"count": dist.count, "mean": dist.mean, "p50_at_most": dist.bound(0.5),
            "p90_at_most": dist.bound(0.9), "p99_at_most": dist.bound(0.99)}


def snapshot_doc(snapshot: ServerSnapshot) -> dict[str, Any]:
    """The snapshot as JSON-ready data (`vllm-chat server --json`); null = not reported."""
    m = snapshot.metrics
    doc: dict[str, Any] = {
        "server": snapshot.server,
        "version": snapshot.version,
        "models": [{"id": c.id, "max_model_len": c.max_model_len, "parent": c.parent, "root": c.root}
                   for c in snapshot.models],
        "metrics": None,
        "problems": {k: v for k, v in (("version", snapshot.version_problem),
                                       ("models", snapshot.models_problem),
                                       ("metrics", snapshot.sample.problem)) if v},
    }
    if m is not None:
        doc["metrics"] = {
            "requests_running": m.running,
            "requests_waiting": m.waiting,
            "requests_waiting_by_reason": m.waiting_by_reason or None,
            "kv_cache_usage": m.kv_cache,
            "prefix_cache_hit_rate": m.prefix_hit_rate,
            "prefix_cache_hits": m.prefix_hits,
            "prefix_cache_queries": m.prefix_queries,
            "preemptions": m.preemptions,
            "prompt_tokens": m.prompt_tokens,
            "generation_tokens": m.generation_tokens,
            "time_to_first_token_seconds": _dist_doc(m.ttft),
            "inter_token_latency_seconds": _dist_doc(m.itl),
            "request_queue_time_seconds": _dist_doc(m.queue_time),
            "e2e_request_latency_seconds": _dist_doc(m.e2e),
            "busy": m.busy,
        }
    return doc
