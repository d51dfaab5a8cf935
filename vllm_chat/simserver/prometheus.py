"""`GET /metrics`: the simulated engine's state as vLLM 0.32's Prometheus exposition.

Written with `prometheus_client`, as vLLM's is, so the text is byte-compatible: the same
families in the same order, with vLLM's HELP texts, types, `_total` / `_created` series and
the labels `engine` and `model_name` (the first served model), histograms with vLLM's
buckets, plus the Python and process collectors every vLLM server exposes. Values come
from `SimStats`, kept up to date by the engine (`engine.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.samples import Sample

from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.metrics import FINISH_REASONS, SimStats

_MFU = "(for Model Flops Utilization calculations)."
_HISTOGRAM_HELP = {
    "request_prompt_tokens": "Number of prefill tokens processed.",
    "request_generation_tokens": "Number of generation tokens processed.",
    "iteration_tokens_total": "Histogram of number of tokens per engine_step.",
    "request_max_num_generation_tokens": "Histogram of maximum number of requested generation tokens.",
    "request_params_n": "Histogram of the n request parameter.",
    "request_params_max_tokens": "Histogram of the max_tokens request parameter.",
    "time_to_first_token_seconds": "Histogram of time to first token in seconds.",
    "inter_token_latency_seconds": "Histogram of inter-token latency in seconds.",
    "request_time_per_output_token_seconds": "Histogram of time_per_output_token_seconds per request.",
    "e2e_request_latency_seconds": "Histogram of e2e request latency in seconds.",
    "request_queue_time_seconds": "Histogram of time spent in WAITING phase for request.",
    "request_inference_time_seconds": "Histogram of time spent in RUNNING phase for request.",
    "request_prefill_time_seconds": "Histogram of time spent in PREFILL phase for request.",
    "request_decode_time_seconds": "Histogram of time spent in DECODE phase for request.",
    "request_num_preemptions": "Histogram of the number of times a request was preempted.",
    "request_prefill_kv_computed_tokens": (
        "Histogram of new KV tokens computed during prefill (excluding cached tokens)."
    ),
}


class EngineCollector:
    """Yields vLLM's `vllm:` families from the live counters on every scrape."""

    def __init__(self, config: SimConfig, stats: SimStats) -> None:
        self.config = config
        self.stats = stats
        self.labels = ["engine", "model_name"]
        self.values = ["0", config.models[0]]

    def collect(self) -> Iterator[Metric]:
        """Every `vllm:` family, in the order a vLLM 0.32 server lists them."""
        stats, cfg = self.stats, self.config
        for what in ("flops", "read_bytes", "write_bytes"):
            verb = {"flops": "number of floating point operations", "read_bytes": "number of bytes read from memory",
                    "write_bytes": "number of bytes written to memory"}[what]
            yield self._counter(f"estimated_{what}_per_gpu", f"Estimated {verb} per GPU {_MFU}", 0)
        yield self._gauge("num_requests_running", "Number of requests in model execution batches.", stats.running)
        yield self._gauge("num_requests_waiting", "Number of requests waiting to be processed.", stats.waiting)
        by_reason = GaugeMetricFamily(
            "vllm:num_requests_waiting_by_reason",
            "Number of waiting requests by reason. Reason labels: 'capacity' = waiting for scheduling capacity; "
            "'deferred' = deferred by transient constraints (LoRA budget, KV transfer, blocked status). "
            "Sum of all reasons equals vllm:num_requests_waiting.",
            labels=[*self.labels, "reason"],
        )
        by_reason.add_metric([*self.values, "capacity"], stats.waiting)
        by_reason.add_metric([*self.values, "deferred"], 0)
        yield by_reason
        sleep = GaugeMetricFamily(
            "vllm:engine_sleep_state",
            "Engine sleep state; awake = 0 means engine is sleeping; awake = 1 means engine is awake; "
            "weights_offloaded = 1 means sleep level 1; discard_all = 1 means sleep level 2.",
            labels=[*self.labels, "sleep_state"],
        )
        for state, value in (("awake", 1), ("weights_offloaded", 0), ("discard_all", 0)):
            sleep.add_metric([*self.values, state], value)
        yield sleep
        kv = min(1.0, stats.active_tokens / cfg.kv_cache_tokens)
        yield self._gauge("kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", kv)
        yield self._counter("prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
                            stats.prefix_queries)
        yield self._counter("prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.",
                            stats.prefix_hits)
        external = "External prefix cache {} from KV connector cross-instance cache sharing, in terms of number of {}."
        yield self._counter("external_prefix_cache_queries", external.format("queries", "queried tokens"), 0)
        yield self._counter("external_prefix_cache_hits", external.format("hits", "cached tokens"), 0)
        yield self._counter("mm_cache_queries", "Multi-modal cache queries, in terms of number of queried items.", 0)
        yield self._counter("mm_cache_hits", "Multi-modal cache hits, in terms of number of cached items.", 0)
        yield self._counter("num_preemptions", "Cumulative number of preemption from the engine.", stats.preemptions)
        yield self._counter("prompt_tokens", "Number of prefill tokens processed.", stats.prompt_tokens)
        yield self._labelled_counter(
            "prompt_tokens_by_source", "Number of prompt tokens by source.", "source",
            {"local_compute": stats.prompt_tokens - stats.cached_prompt_tokens,
             "local_cache_hit": stats.cached_prompt_tokens, "external_kv_transfer": 0},
        )
        yield self._counter("prompt_tokens_cached", "Number of cached prompt tokens (local + external).",
                            stats.cached_prompt_tokens)
        yield self._labelled_counter(
            "prompt_tokens_cached_by_source",
            "Prefix-cache hit tokens by the cache tier that supplied them: device (local HBM), host (offloaded to "
            "DRAM), disk, p2p (transferred from another vLLM instance) or external_unspecified. Counted at "
            "admission; sums to vllm:prefix_cache_hits + vllm:external_prefix_cache_hits.",
            "source",
            {"device": stats.cached_prompt_tokens, "host": 0, "p2p": 0, "disk": 0, "external_unspecified": 0},
        )
        yield self._counter("generation_tokens", "Number of generation tokens processed.", stats.generation_tokens)
        yield self._labelled_counter(
            "request_success", "Count of successfully processed requests.", "finished_reason",
            {reason: stats.finished[reason] for reason in FINISH_REASONS},
        )
        rejections = CounterMetricFamily(
            "vllm:admission_rejections", "Number of admission attempts rejected by a queue limit, by reason.",
            labels=["model_name", "reason"],
        )
        for reason, value in (("max_num_queued_reqs", stats.queue_rejections), ("max_num_queued_tokens", 0)):
            rejections.add_metric([cfg.models[0], reason], value, created=stats.started)
        yield rejections
        for name, histogram in stats.histograms.items():
            yield self._histogram(name, histogram)
        yield self._cache_config()

    def _gauge(self, name: str, help_text: str, value: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily(f"vllm:{name}", help_text, labels=self.labels)
        family.add_metric(self.values, value)
        return family

    def _counter(self, name: str, help_text: str, value: float) -> CounterMetricFamily:
        family = CounterMetricFamily(f"vllm:{name}", help_text, labels=self.labels)
        family.add_metric(self.values, value, created=self.stats.started)
        return family

    def _labelled_counter(self, name: str, help_text: str, label: str, values: dict[str, float]) -> Metric:
        labels = sorted([*self.labels, label])
        family = CounterMetricFamily(f"vllm:{name}", help_text, labels=labels)
        for key, value in values.items():
            by_name = dict(zip(self.labels, self.values, strict=True)) | {label: key}
            family.add_metric([by_name[n] for n in labels], value, created=self.stats.started)
        return family

    def _histogram(self, name: str, histogram: Any) -> HistogramMetricFamily:
        family = HistogramMetricFamily(f"vllm:{name}", _HISTOGRAM_HELP[name], labels=self.labels)
        cumulative, buckets = 0, []
        for bound, count in zip([*histogram.bounds, float("inf")], histogram.counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), cumulative))
        family.add_metric(self.values, buckets, histogram.total)
        family.samples.append(Sample(f"vllm:{name}_created", dict(zip(self.labels, self.values, strict=True)),
                                     self.stats.started))
        return family

    def _cache_config(self) -> GaugeMetricFamily:
        cfg = self.config
        blocks = cfg.kv_cache_tokens // cfg.block_size
        info = {
            "_block_size_resolved": "True", "block_size": str(cfg.block_size), "cache_dtype": "auto",
            "cache_hit_alignment_tokens": "None", "effective_attention_block_size": str(cfg.block_size),
            "enable_mamba_shared_prefix_checkpoint": "False", "enable_prefix_caching": "True", "engine": "0",
            "gpu_memory_utilization": "0.92", "hash_block_size": "None", "is_attention_free": "False",
            "kv_cache_dtype_skip_layers": "[]", "kv_cache_layout": "None",
            "kv_cache_max_concurrency": repr(cfg.kv_cache_tokens / cfg.max_model_len),
            "kv_cache_memory_bytes": str(cfg.kv_cache_tokens * 512), "kv_cache_size_tokens": str(cfg.kv_cache_tokens),
            "kv_offloading_backend": "native", "kv_offloading_size": "None", "kv_sharing_fast_prefill": "False",
            "mamba_block_size": "None", "mamba_cache_dtype": "auto", "mamba_cache_mode": "none",
            "mamba_page_size_padded": "None", "mamba_ssm_cache_dtype": "float32", "num_cpu_blocks": "None",
            "num_gpu_blocks": str(blocks), "num_gpu_blocks_override": "None", "prefix_cache_retention_interval": "0",
            "prefix_caching_hash_algo": "sha256", "prefix_match_unit": "None", "replayssm_buffer_len": "16",
            "skip_page_size_padded": "None", "sliding_window": "None", "swa_bounded_replay": "True",
            "use_kda_recoverssm": "False", "use_replayssm": "False", "user_specified_block_size": "False",
        }
        family = GaugeMetricFamily("vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
                                   labels=list(info))
        family.add_metric(list(info.values()), 1)
        return family


class ToolParserCollector:
    """`vllm:tool_call_parser_invocations_total`, which vLLM registers after the engine series."""

    def __init__(self, config: SimConfig, stats: SimStats) -> None:
        self.config = config
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        """The family with every mode, outcome and request type."""
        labels = ["mode", "model_name", "outcome", "request_type"]
        family = CounterMetricFamily(
            "vllm:tool_call_parser_invocations",
            "Total number of ToolParser invocations. Non-streaming increments once per choice; streaming "
            "increments once per delta.",
            labels=labels,
        )
        for mode in ("streaming", "non_streaming"):
            for outcome in ("tool_call", "no_tool_call"):
                for kind in ("chat_completions", "responses", "other"):
                    value = self.stats.tool_parser_calls[(mode, outcome)] if kind == "chat_completions" else 0
                    family.add_metric([mode, self.config.models[0], outcome, kind], value, created=self.stats.started)
        yield family


def registry_for(config: SimConfig, stats: SimStats) -> CollectorRegistry:
    """A registry with what a vLLM server exposes: Python and process collectors, then vLLM's."""
    registry = CollectorRegistry(auto_describe=False)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    ProcessCollector(registry=registry)
    registry.register(EngineCollector(config, stats))
    registry.register(ToolParserCollector(config, stats))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The text a scrape returns."""
    return generate_latest(registry)
