"""The simulated engine behind `/metrics`: slots and a queue, the KV cache, prefix caching,
preemption, other users' load, request histograms and per-request metrics."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from .helpers import chat, request, user


async def scrape(http: aiohttp.ClientSession, server) -> dict[str, float]:
    """Every sample of `/metrics` by name (label sets summed), parsed with prometheus_client."""
    text = (await request(http, "GET", server.root_url + "/metrics")).raw.decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


async def until(http, server, predicate, timeout: float = 10.0) -> dict[str, float]:
    """Scrape until the metrics satisfy `predicate` (or fail)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        values = await scrape(http, server)
        if predicate(values):
            return values
        if loop.time() > deadline:
            raise AssertionError(f"metrics never got there: { {k: v for k, v in values.items() if 'bucket' not in k} }")
        await asyncio.sleep(0.02)


async def test_requests_beyond_max_num_seqs_wait_in_the_queue(make_sim, http):
    server = await make_sim(max_num_seqs=1, tps=40)
    tasks = [asyncio.create_task(chat(http, server, {"messages": user("long 30"), "stream": True})) for _ in range(3)]
    seen = await until(http, server, lambda v: v["vllm:num_requests_waiting"] == 2)
    assert seen["vllm:num_requests_running"] == 1
    replies = await asyncio.gather(*tasks)
    assert all(r.finish()["finish_reason"] == "stop" for r in replies)
    done = await scrape(http, server)
    assert done["vllm:num_requests_running"] == done["vllm:num_requests_waiting"] == 0
    assert done["vllm:request_queue_time_seconds_count"] == 3 and done["vllm:request_queue_time_seconds_sum"] > 0.5


async def test_kv_cache_usage_counts_the_running_requests_tokens(make_sim, http):
    server = await make_sim(kv_cache_tokens=32768, tps=30)
    task = asyncio.create_task(chat(http, server, {"messages": user("long 60"), "stream": True}))
    busy = await until(http, server, lambda v: v["vllm:num_requests_running"] == 1
                       and v["vllm:kv_cache_usage_perc"] > 10 / 32768)
    assert busy["vllm:kv_cache_usage_perc"] < 0.01
    await task
    assert (await scrape(http, server))["vllm:kv_cache_usage_perc"] == 0.0


async def test_a_repeated_prompt_hits_the_prefix_cache(sim, http):
    prompt = user("echo hi " + "the same long system context " * 20)
    await chat(http, sim, {"messages": prompt})
    first = await scrape(http, sim)
    assert first["vllm:prefix_cache_hits_total"] == 0 and first["vllm:prefix_cache_queries_total"] > 100
    await chat(http, sim, {"messages": prompt})
    second = await scrape(http, sim)
    queried = second["vllm:prefix_cache_queries_total"] - first["vllm:prefix_cache_queries_total"]
    hits = second["vllm:prefix_cache_hits_total"]
    assert queried == first["vllm:prefix_cache_queries_total"] and queried - 16 < hits <= queried
    assert hits % 16 == 0, "whole blocks"
    assert second["vllm:prompt_tokens_cached_total"] == hits


async def test_a_full_kv_cache_preempts_the_newest_request_and_both_finish(make_sim, http):
    server = await make_sim(max_model_len=512, kv_cache_tokens=600, tps=400)
    replies = await asyncio.gather(*(chat(http, server, {"messages": user("long 400"), "stream": True})
                                     for _ in range(2)))
    assert [r.finish()["finish_reason"] for r in replies] == ["stop", "stop"]
    metrics = await scrape(http, server)
    assert metrics["vllm:num_preemptions_total"] >= 1
    assert server.stats.preemptions == metrics["vllm:num_preemptions_total"]


async def test_sim_load_queues_other_users_first_and_fills_the_kv_cache(make_sim, http):
    server = await make_sim(max_num_seqs=2, load_seconds=0.6, per_request_metrics=True)
    task = asyncio.create_task(chat(http, server, {"messages": user("hello sim:load=5"), "stream": True,
                                                   "stream_options": {"include_usage": True}}))
    busy = await until(http, server, lambda v: v["vllm:num_requests_waiting"] >= 3)
    assert busy["vllm:num_requests_running"] == 2
    assert 0.95 < busy["vllm:kv_cache_usage_perc"] <= 0.97
    reply = await task
    assert reply.finish()["finish_reason"] == "stop"
    # Five others came first, two at a time, 0.6 s each: the reply waited two rounds (the fifth runs beside it).
    assert reply.chunks[-1]["metrics"]["queue_time_ms"] > 1100
    done = await until(http, server, lambda v: v["vllm:num_requests_running"] == 0)
    assert done["vllm:request_success_total"] == 6 and done["vllm:kv_cache_usage_perc"] == 0.0


async def test_background_load_keeps_the_server_busy_yet_serving(make_sim, http):
    server = await make_sim(max_num_seqs=2, background_load=3, load_seconds=0.2)
    await until(http, server, lambda v: v["vllm:num_requests_running"] == 2 and v["vllm:num_requests_waiting"] >= 1)
    reply = await chat(http, server, {"messages": user("hello")})
    assert reply.status == 200 and reply.json["choices"][0]["finish_reason"] == "stop"
    await until(http, server, lambda v: v["vllm:request_success_total"] >= 4)


async def test_request_histograms_and_counters_move_with_each_request(sim, http):
    await chat(http, sim, {"messages": user("echo one two three"), "stream": True})
    metrics = await scrape(http, sim)
    for name in ("time_to_first_token_seconds", "e2e_request_latency_seconds", "request_prompt_tokens",
                 "request_generation_tokens", "request_params_n", "request_params_max_tokens"):
        assert metrics[f"vllm:{name}_count"] == 1, name
    assert metrics["vllm:inter_token_latency_seconds_count"] == 3
    assert metrics["vllm:request_generation_tokens_sum"] == 4
    assert metrics["vllm:generation_tokens_total"] == 4 and metrics["vllm:request_success_total"] == 1


async def test_tool_parser_invocations_are_counted_for_requests_with_tools(sim, http):
    tools = [{"type": "function", "function": {"name": "calculator", "parameters": {
        "type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}}}]
    await chat(http, sim, {"messages": user("what is 6*7"), "tools": tools})
    text = (await request(http, "GET", sim.root_url + "/metrics")).raw.decode()
    assert ('vllm:tool_call_parser_invocations_total{mode="non_streaming",model_name="sim-chat",'
            'outcome="tool_call",request_type="chat_completions"} 1.0') in text


async def test_per_request_metrics_ride_on_the_usage_chunk_and_the_response(make_sim, http):
    server = await make_sim(per_request_metrics=True, tps=200, ttft=0.05)
    streamed = await chat(http, server, {"messages": user("echo a b c d"), "stream": True,
                                         "stream_options": {"include_usage": True}})
    metrics = streamed.chunks[-1]["metrics"]
    assert list(streamed.chunks[-1]) == ["id", "object", "created", "model", "choices", "usage",
                                         "system_fingerprint", "metrics"]
    assert list(metrics) == ["time_to_first_token_ms", "generation_time_ms", "queue_time_ms", "mean_itl_ms",
                             "tokens_per_second"]
    assert metrics["time_to_first_token_ms"] >= 50 and metrics["tokens_per_second"] > 0
    whole = await chat(http, server, {"messages": user("echo a b c d")})
    assert set(whole.json["metrics"]) == set(metrics) | {"speculative_decoding"}
    assert whole.json["metrics"]["speculative_decoding"] is None
    several = await chat(http, server, {"messages": user("hi"), "n": 2, "max_tokens": 3})
    assert several.json["metrics"] is None
    completion = await request(http, "POST", server.base_url + "/completions",
                               {"model": "sim-chat", "prompt": "hi", "max_tokens": 3})
    assert completion.json["metrics"]["tokens_per_second"] > 0


async def test_a_single_token_reply_has_no_inter_token_figure(make_sim, http):
    server = await make_sim(per_request_metrics=True)
    streamed = await chat(http, server, {"messages": user("hi"), "max_tokens": 1, "stream": True,
                                         "stream_options": {"include_usage": True}})
    assert "mean_itl_ms" not in streamed.chunks[-1]["metrics"]
    whole = await chat(http, server, {"messages": user("hi"), "max_tokens": 1})
    assert whole.json["metrics"]["mean_itl_ms"] is None


async def test_without_the_flag_there_are_no_per_request_metrics(sim, http):
    streamed = await chat(http, sim, {"messages": user("hi"), "stream": True,
                                      "stream_options": {"include_usage": True}})
    assert "metrics" not in streamed.chunks[-1]
    assert (await chat(http, sim, {"messages": user("hi")})).json["metrics"] is None


async def test_metrics_are_labelled_with_the_first_model_and_open_without_a_key(make_sim, http):
    server = await make_sim(api_key="k", models=("main-model", "other"))
    reply = await request(http, "GET", server.root_url + "/metrics")
    assert reply.status == 200 and reply.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
    assert b'vllm:num_requests_running{engine="0",model_name="main-model"} 0.0' in reply.raw
    assert b"# TYPE vllm:time_to_first_token_seconds histogram" in reply.raw
    assert b"python_gc_objects_collected_total" in reply.raw and b"process_cpu_seconds_total" in reply.raw
    version = await request(http, "GET", server.root_url + "/version")
    assert version.json == {"version": "0.32.0"}
