"""Reading vLLM's Prometheus `/metrics`: the figures a chat user cares about, from the
exposition a real vLLM 0.32 served, from older servers' names, and "not reported" for
what a server leaves out."""

from __future__ import annotations

import pytest

from tests.support.paths import captures_dir
from vllm_chat.core.telemetry.facts import (
    load_label,
    server_facts,
    snapshot_doc,
    waiting_reason,
)
from vllm_chat.core.telemetry.metrics import (
    Distribution,
    ServerMetrics,
    parse_metrics,
    relevant_lines,
)
from vllm_chat.core.telemetry.snapshot import MetricsSample, ServerSnapshot

CAPTURE = captures_dir() / "round2" / "15_metrics.http"


def captured_exposition() -> str:
    """The /metrics a real vLLM answered (skipped where the captures are not there, as the
    conformance suite is; CI refuses to run without them)."""
    if not CAPTURE.is_file():
        pytest.skip(f"the real-server captures are not there ({CAPTURE.parent.parent})")
    raw = CAPTURE.read_text(encoding="utf-8")
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200")
    return body


def test_the_real_vllm_exposition_gives_every_named_figure() -> None:
    m = parse_metrics(captured_exposition())
    assert (m.running, m.waiting, m.kv_cache) == (0.0, 0.0, 0.0)
    assert m.waiting_by_reason == {"capacity": 0.0, "deferred": 0.0}
    assert (m.prefix_hits, m.prefix_queries, m.preemptions) == (0.0, 484.0, 0.0)
    assert m.prefix_hit_rate == 0.0
    assert m.ttft is not None and m.ttft.count == 12 and m.ttft.total == pytest.approx(3.2491924)
    assert m.itl is not None and m.e2e is not None and m.queue_time is not None
    assert m.generation_tokens is not None and m.prompt_tokens is not None
    assert m.models == ("tiny-llama",)


def test_only_the_families_read_are_handed_to_the_parser() -> None:
    text = captured_exposition()
    kept = relevant_lines(text)
    assert len(kept.splitlines()) < len(text.splitlines()) / 4
    assert "python_gc" not in kept and "vllm:cache_config_info" not in kept
    assert "vllm:kv_cache_usage_perc{" in kept and "vllm:time_to_first_token_seconds_bucket" in kept


OLDER_SERVER = """\
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="old"} 0.42
# TYPE vllm:gpu_prefix_cache_hit_rate gauge
vllm:gpu_prefix_cache_hit_rate{model_name="old"} 0.25
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="old"} 3.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="old"} 1.0
# TYPE vllm:num_preemptions_total counter
vllm:num_preemptions_total{model_name="old"} 7.0
# TYPE vllm:time_per_output_token_seconds histogram
vllm:time_per_output_token_seconds_bucket{le="0.01",model_name="old"} 5.0
vllm:time_per_output_token_seconds_bucket{le="0.1",model_name="old"} 9.0
vllm:time_per_output_token_seconds_bucket{le="+Inf",model_name="old"} 10.0
vllm:time_per_output_token_seconds_count{model_name="old"} 10.0
vllm:time_per_output_token_seconds_sum{model_name="old"} 0.4
"""


def test_an_older_server_is_read_by_its_older_names() -> None:
    m = parse_metrics(OLDER_SERVER)
    assert m.kv_cache == 0.42
    assert m.prefix_hit_rate == 0.25
    assert (m.running, m.waiting, m.preemptions) == (3.0, 1.0, 7.0)
    assert m.itl is not None and m.itl.count == 10


TWO_ENGINES = """\
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 2.0
vllm:num_requests_running{engine="1",model_name="m"} 3.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.9
"""


def test_data_parallel_engines_add_up_and_their_kv_caches_average() -> None:
    m = parse_metrics(TWO_ENGINES)
    assert m.running == 5.0
    assert m.kv_cache == pytest.approx(0.7)


def test_what_a_server_leaves_out_reads_not_reported() -> None:
    m = parse_metrics(TWO_ENGINES)
    assert m.waiting is None and m.preemptions is None and m.ttft is None and m.prefix_hit_rate is None
    facts = {f.label: f for f in server_facts(ServerSnapshot("http://x/v1", 0.0, sample=MetricsSample(m)))}
    assert facts["Preemptions"].value == "not reported" and facts["Preemptions"].level == "missing"
    assert facts["TTFT (server)"].value == "not reported"
    assert facts["Requests"].value == "5 running · not reported waiting"
    assert facts["vLLM version"].value == "not reported"


def test_text_that_is_not_an_exposition_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="not a Prometheus exposition"):
        parse_metrics('vllm:num_requests_running{engine="0" 1\n')


def test_quantiles_are_shown_as_the_bucket_bounds_they_fall_under() -> None:
    dist = Distribution(((0.01, 5.0), (0.1, 9.0), (1.0, 10.0), (float("inf"), 10.0)), 10.0, 0.5)
    assert dist.bound(0.5) == 0.01 and dist.bound(0.9) == 0.1 and dist.bound(0.99) == 1.0
    assert dist.quantile(0.5) == pytest.approx(0.01)
    assert dist.mean == pytest.approx(0.05)
    later = Distribution(((0.01, 5.0), (0.1, 9.0), (1.0, 12.0), (float("inf"), 12.0)), 12.0, 2.0)
    window = later.since(dist)
    assert window.count == 2.0 and window.bound(0.5) == 1.0


def test_a_waiting_reply_is_told_how_many_requests_are_ahead_and_how_full_the_cache_is() -> None:
    busy = ServerMetrics(running=4.0, waiting=4.0, kv_cache=0.97)
    assert waiting_reason(busy) == "3 requests ahead, 4 running, KV cache 97 %"
    assert waiting_reason(ServerMetrics(running=1.0, waiting=0.0, kv_cache=0.1)) == ""
    assert waiting_reason(None) == ""


def test_the_header_shows_the_load_only_while_the_server_is_busy() -> None:
    assert load_label(ServerMetrics(running=4.0, waiting=3.0, kv_cache=0.97)) == "server busy: 3 waiting · KV 97 %"
    assert load_label(ServerMetrics(running=2.0, waiting=0.0, kv_cache=0.95)) == "server busy: KV 95 %"
    assert load_label(ServerMetrics(running=4.0, waiting=0.0, kv_cache=0.4)) == ""


def test_the_json_document_says_null_for_what_is_not_reported_and_why() -> None:
    snapshot = ServerSnapshot("http://x/v1", 0.0, version_problem="not reported: /version answered 404",
                              sample=MetricsSample(None, "not reported: /metrics answered 404 Not Found"))
    doc = snapshot_doc(snapshot)
    assert doc["version"] is None and doc["metrics"] is None
    assert doc["problems"]["metrics"] == "not reported: /metrics answered 404 Not Found"
