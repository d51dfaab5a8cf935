"""Byte-level behaviour of the simulated server's endpoints: framing, cards, auth, routing,
tokenizer endpoints, metrics and the legacy completions endpoint."""

from __future__ import annotations

import json
import re

import pytest

from .helpers import chat, request, user

COMPACT_CHUNK = re.compile(rb'^data: \{"id":"chatcmpl-[0-9a-f]{16}","object":"chat\.completion\.chunk",')


async def test_stream_is_sse_with_compact_json_events_and_a_done_terminator(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "stream": True})
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert reply.headers["transfer-encoding"] == "chunked"
    blocks = reply.raw.split(b"\n\n")
    assert blocks[-1] == b"" and blocks[-2] == b"data: [DONE]"
    for block in blocks[:-2]:
        assert COMPACT_CHUNK.match(block), block[:120]
        assert b"\n" not in block and b'": ' not in block[:200]


async def test_role_chunk_comes_first_with_vllm_extra_keys(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "stream": True})
    first = reply.chunks[0]
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert list(first) == ["id", "object", "created", "model", "choices", "prompt_token_ids", "prompt_text"]
    assert list(first["choices"][0]) == ["index", "delta", "logprobs", "finish_reason"]
    content = reply.chunks[1]
    assert list(content) == ["id", "object", "created", "model", "choices"]
    assert list(content["choices"][0]) == ["index", "delta", "logprobs", "finish_reason", "token_ids"]
    assert {c["id"] for c in reply.chunks} == {first["id"]}


async def test_system_fingerprint_only_on_the_last_chunk_before_done(sim, http):
    plain = await chat(http, sim, {"messages": user("hello"), "stream": True})
    assert [("system_fingerprint" in c) for c in plain.chunks][-1] is True
    assert sum("system_fingerprint" in c for c in plain.chunks) == 1
    with_usage = await chat(http, sim, {"messages": user("hello"), "stream": True,
                                        "stream_options": {"include_usage": True}})
    assert [i for i, c in enumerate(with_usage.chunks) if "system_fingerprint" in c] == [len(with_usage.chunks) - 1]
    assert with_usage.chunks[-1]["choices"] == []
    assert with_usage.chunks[-1]["system_fingerprint"].startswith("vllm-0.32.0-")


async def test_two_choices_without_usage_each_finish_with_the_fingerprint(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "stream": True, "n": 2, "max_tokens": 5})
    finishes = [c for c in reply.chunks if c["choices"][0].get("finish_reason")]
    assert [f["choices"][0]["index"] for f in finishes] == [0, 1]
    assert all("system_fingerprint" in f for f in finishes)


async def test_two_choices_open_with_both_role_chunks_then_interleave(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "stream": True, "n": 2, "max_tokens": 6,
                                   "stream_options": {"include_usage": True}})
    indices = [c["choices"][0]["index"] for c in reply.chunks if c["choices"]]
    assert indices[:2] == [0, 1] and "role" in reply.chunks[1]["choices"][0]["delta"]
    # Choice 0 runs a step ahead, as vLLM's n children do (captures main/14, round2/07).
    assert indices[2:7] == [0, 0, 1, 0, 1]
    assert reply.chunks[-1]["usage"]["completion_tokens"] == 12
    assert reply.text(index=0) != reply.text(index=1), "choices are worded differently"


async def test_length_finish_carries_the_last_piece_and_stop_finish_is_empty(sim, http):
    cut = await chat(http, sim, {"messages": user("hello"), "stream": True, "max_tokens": 3})
    assert cut.finish()["finish_reason"] == "length" and cut.finish()["delta"]["content"]
    assert len(cut.deltas()) == 1 + 3
    whole = await chat(http, sim, {"messages": user("echo done"), "stream": True})
    assert whole.finish() == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop",
                              "stop_reason": None, "token_ids": None}


async def test_continuous_usage_counts_up_on_every_chunk(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "stream": True, "max_tokens": 4,
                                   "stream_options": {"include_usage": True, "continuous_usage_stats": True}})
    usages = [c["usage"] for c in reply.chunks]
    assert [u["completion_tokens"] for u in usages] == [0, 1, 2, 3, 4, 4]
    assert all(u["completion_tokens_details"] is None for u in usages[:-1])
    assert "completion_tokens_details" not in usages[-1]


async def test_non_streamed_response_has_every_vllm_field(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "max_tokens": 5})
    body = reply.json
    assert reply.headers["content-type"] == "application/json"
    assert list(body) == ["id", "object", "created", "model", "choices", "service_tier", "system_fingerprint",
                          "usage", "prompt_logprobs", "prompt_token_ids", "prompt_text", "kv_transfer_params",
                          "ec_transfer_params", "metrics"]
    assert list(body["choices"][0]) == ["index", "message", "logprobs", "finish_reason", "stop_reason", "token_ids",
                                        "routed_experts"]
    assert list(body["choices"][0]["message"]) == ["role", "content", "refusal", "annotations", "audio",
                                                   "function_call", "reasoning"]
    prompt = body["usage"]["prompt_tokens"]
    assert body["usage"] == {"prompt_tokens": prompt, "total_tokens": prompt + 5, "completion_tokens": 5,
                             "prompt_tokens_details": None, "completion_tokens_details": None}


async def test_request_id_comes_from_the_header_or_the_body(sim, http):
    by_header = await chat(http, sim, {"messages": user("hi"), "max_tokens": 1}, **{"X-Request-Id": "abc"})
    by_body = await chat(http, sim, {"messages": user("hi"), "max_tokens": 1, "request_id": "xyz"})
    assert by_header.json["id"] == "chatcmpl-abc"
    assert by_body.json["id"] == "chatcmpl-xyz"


async def test_omitted_or_empty_model_uses_the_first_model(sim, http):
    for body in ({"messages": user("hi"), "max_tokens": 1}, {"model": "", "messages": user("hi"), "max_tokens": 1}):
        reply = await request(http, "POST", sim.base_url + "/chat/completions", body)
        assert reply.json["model"] == "sim-chat"


async def test_unknown_fields_and_roles_are_accepted(sim, http):
    wizard = [{"role": "wizard", "content": "hi"}]
    reply = await chat(http, sim, {"messages": wizard, "frobnicate": True, "max_tokens": 2})
    assert reply.status == 200


# --- models, health, version, metrics --------------------------------------------------------------


async def test_models_lists_cards_with_permissions_and_lora_adapters(make_sim, http):
    server = await make_sim(models=("base", "other"), max_model_len=4096, loras={"sql-lora": "base"})
    reply = await request(http, "GET", server.base_url + "/models")
    cards = reply.json["data"]
    assert reply.json["object"] == "list"
    assert [c["id"] for c in cards] == ["base", "other", "sql-lora"]
    base, _, lora = cards
    assert list(base) == ["id", "object", "created", "owned_by", "root", "parent", "max_model_len", "permission"]
    assert base["max_model_len"] == 4096 and base["parent"] is None and base["owned_by"] == "vllm"
    assert re.fullmatch(r"modelperm-[0-9a-f]{16}", base["permission"][0]["id"])
    assert list(base["permission"][0]) == [
        "id", "object", "created", "allow_create_engine", "allow_sampling", "allow_logprobs", "allow_search_indices",
        "allow_view", "allow_fine_tuning", "organization", "group", "is_blocking",
    ]
    assert lora["parent"] == "base" and lora["max_model_len"] is None and lora["root"] == "/adapters/sql-lora"


async def test_a_lora_adapter_answers_under_its_own_name(make_sim, http):
    server = await make_sim(models=("base",), loras={"sql-lora": "base"})
    reply = await chat(http, server, {"model": "sql-lora", "messages": user("hi"), "max_tokens": 2})
    assert reply.json["model"] == "sql-lora"


async def test_health_is_an_empty_200_and_version_is_vllms(sim, http):
    health = await request(http, "GET", sim.root_url + "/health")
    assert health.status == 200 and health.raw == b""
    version = await request(http, "GET", sim.root_url + "/version")
    assert version.raw == b'{"version":"0.32.0"}'


async def test_metrics_expose_vllm_series_that_count_real_work(sim, http):
    await chat(http, sim, {"messages": user("hello"), "max_tokens": 7})
    reply = await request(http, "GET", sim.root_url + "/metrics")
    assert reply.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
    text = reply.raw.decode()
    for series in ("num_requests_running", "num_requests_waiting", "kv_cache_usage_perc"):
        assert f'vllm:{series}{{engine="0",model_name="sim-chat"}} 0.0' in text
    assert 'vllm:generation_tokens_total{engine="0",model_name="sim-chat"} 7.0' in text
    assert 'vllm:request_success_total{engine="0",finished_reason="length",model_name="sim-chat"} 1.0' in text
    assert "# TYPE vllm:prompt_tokens_total counter" in text


async def test_load_reports_requests_in_flight(sim, http):
    assert (await request(http, "GET", sim.root_url + "/load")).json == {"server_load": 0}


# --- tokenizer endpoints ---------------------------------------------------------------------------


async def test_tokenize_counts_a_conversation_exactly_as_chat_usage_does(sim, http):
    messages = [{"role": "system", "content": "You are terse."}, *user("What is the weather in Paris?")]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    for extra in ({}, {"tools": tools}):
        counted = await request(http, "POST", sim.root_url + "/tokenize", {"messages": messages, **extra})
        used = await chat(http, sim, {"messages": messages, "max_tokens": 1, **extra})
        assert counted.json["count"] == used.json["usage"]["prompt_tokens"]
        assert counted.json["max_model_len"] == 32768 and counted.json["token_strs"] is None
        assert len(counted.json["tokens"]) == counted.json["count"]


async def test_tokenize_prompt_form_returns_token_strings_on_request(sim, http):
    body = {"prompt": "Hello world", "return_token_strs": True}
    reply = await request(http, "POST", sim.root_url + "/tokenize", body)
    # Spelled as a byte-level BPE vocabulary does (Ġ = a leading space), as vLLM returns them.
    assert reply.json["token_strs"] == ["Hello", "Ġworld"] and reply.json["count"] == 2


async def test_detokenize_reverses_tokenize(sim, http):
    tokens = (await request(http, "POST", sim.root_url + "/tokenize", {"prompt": "Hello there, world."})).json["tokens"]
    reply = await request(http, "POST", sim.root_url + "/detokenize", {"tokens": tokens})
    assert reply.json == {"prompt": "Hello there, world."}


async def test_tokenize_errors_match_vllm(sim, http):
    neither = await request(http, "POST", sim.root_url + "/tokenize", {"model": "sim-chat"})
    assert neither.json["error"]["message"].startswith(
        "2 validation errors:\n  {'type': 'missing', 'loc': 'body.prompt'"
    )
    unknown = await request(http, "POST", sim.root_url + "/tokenize", {"model": "nope", "prompt": "hi"})
    assert unknown.status == 404
    negative = await request(http, "POST", sim.root_url + "/detokenize", {"tokens": [-1]})
    assert negative.json["error"]["message"] == (
        "1 validation error:\n  {'type': 'greater_than_equal', 'loc': 'body.tokens.0', "
        "'msg': 'Input should be greater than or equal to 0', 'input': '-1', 'ctx': {'ge': 0}}"
    )


# --- auth and routing ----------------------------------------------------------------------------


async def test_api_key_guards_only_v1_paths(make_sim, http):
    server = await make_sim(api_key="secret")
    for method, path, body in (("GET", "/v1/models", None), ("POST", "/v1/chat/completions", {"messages": user("hi")}),
                               ("GET", "/v1/nothing-here", None)):
        reply = await request(http, method, server.root_url + path, body)
        assert (reply.status, reply.raw) == (401, b'{"error":"Unauthorized"}')
        assert reply.headers["content-type"] == "application/json" and "www-authenticate" not in reply.headers
    for method, path, body in (("GET", "/health", None), ("GET", "/metrics", None), ("GET", "/version", None),
                               ("POST", "/tokenize", {"prompt": "hi"})):
        assert (await request(http, method, server.root_url + path, body)).status == 200


async def test_api_key_takes_bearer_in_any_case_and_nothing_else(make_sim, http):
    server = await make_sim(api_key="secret")
    url = server.base_url + "/models"
    assert (await request(http, "GET", url, headers={"Authorization": "bearer secret"})).status == 200
    assert (await request(http, "GET", url, headers={"Authorization": "Basic secret"})).status == 401
    assert (await request(http, "GET", url, headers={"x-api-key": "secret"})).status == 401
    assert (await request(http, "GET", url, headers={"Authorization": "Bearer wrong"})).status == 401


async def test_unknown_route_and_wrong_method_answer_like_fastapi(sim, http):
    missing = await request(http, "POST", sim.base_url + "/chat/completion", {"messages": user("hi")})
    assert (missing.status, missing.raw) == (404, b'{"detail":"Not Found"}')
    wrong = await request(http, "GET", sim.base_url + "/chat/completions")
    assert (wrong.status, wrong.raw) == (405, b'{"detail":"Method Not Allowed"}')
    assert wrong.headers["allow"] == "POST"
    retrieve = await request(http, "GET", sim.base_url + "/models/sim-chat")
    assert retrieve.status == 404


async def test_chat_render_is_refused_as_without_scale_out(sim, http):
    reply = await request(http, "POST", sim.base_url + "/chat/completions/render", {"messages": user("hi")})
    assert reply.status == 403 and reply.json["error"]["type"] == "PermissionDeniedError"


# --- legacy completions ----------------------------------------------------------------------------


async def test_legacy_completions_stream_text_chunks_without_a_role_chunk(sim, http):
    reply = await request(http, "POST", sim.base_url + "/completions",
                          {"prompt": "Once upon a time", "stream": True, "stream_options": {"include_usage": True}})
    chunks = reply.chunks
    assert all(c["object"] == "text_completion" for c in chunks)
    assert list(chunks[0]["choices"][0]) == ["index", "text", "logprobs", "finish_reason", "stop_reason",
                                             "prompt_token_ids", "token_ids"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 16, "max_tokens defaults to 16"
    assert reply.events[-1] == "[DONE]"


async def test_legacy_completions_non_streamed(sim, http):
    reply = await request(http, "POST", sim.base_url + "/completions", {"prompt": "echo hi there", "max_tokens": 50})
    body = reply.json
    assert body["choices"][0]["text"] == "hi there" and body["choices"][0]["finish_reason"] == "stop"
    assert list(body) == ["id", "object", "created", "model", "choices", "service_tier", "system_fingerprint",
                          "usage", "kv_transfer_params", "ec_transfer_params", "metrics"]


async def test_legacy_completions_need_a_prompt(sim, http):
    reply = await request(http, "POST", sim.base_url + "/completions", {"max_tokens": 2})
    assert reply.json["error"]["message"] == (
        "Either prompt or prompt_embeds must be provided and non-empty. (parameter=prompt)"
    )


@pytest.mark.parametrize("path", ["/chat/completions", "/completions"])
async def test_every_request_body_is_recorded_for_tests(sim, http, path):
    body = {"model": "sim-chat", "max_tokens": 2, "extra_thing": [1, 2]}
    body.update({"messages": user("hi")} if path == "/chat/completions" else {"prompt": "hi"})
    await request(http, "POST", sim.base_url + path, body, headers={"X-Trace": "t1"})
    assert sim.stats.last_request_body == body
    assert sim.stats.last_request_headers["X-Trace"] == "t1"
    assert list(sim.stats.recent_request_bodies) == [body]
    assert json.dumps(sim.stats.last_request_body) == json.dumps(body)
