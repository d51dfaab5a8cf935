"""Fault injection, byte for byte, and what a client disconnect does to the engine counters."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from .helpers import chat, request, user


async def wait_until(predicate, timeout: float = 60.0) -> None:
    """Poll a condition instead of sleeping a fixed time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def test_error_first_is_a_200_with_only_an_error_event(sim, http):
    reply = await chat(http, sim, {"messages": user("hello sim:error-first"), "stream": True})
    assert reply.status == 200
    assert reply.raw == (
        b'data: {"error": {"message": "Simulated engine-side rejection (sim:error-first).", '
        b'"type": "BadRequestError", "param": null, "code": 400}}\n\ndata: [DONE]\n\n'
    )
    assert sim.stats.failed == 1


async def test_error_mid_sends_tokens_then_a_500_event_then_done(sim, http):
    reply = await chat(http, sim, {"messages": user("hello sim:error-mid=4"), "stream": True})
    assert [list(d) for d in reply.deltas()] == [["role", "content"]] + [["content"]] * 4
    assert reply.raw.endswith(
        b'data: {"error": {"message": "Internal server error", "type": "InternalServerError", '
        b'"param": null, "code": 500}}\n\ndata: [DONE]\n\n'
    )
    assert not any(c["choices"][0].get("finish_reason") for c in reply.chunks if "choices" in c)


async def test_drop_cuts_the_connection_without_done_or_chunked_terminator(sim, http):
    reply = await chat(http, sim, {"messages": user("hello sim:drop=3"), "stream": True})
    assert reply.cut
    assert len(reply.deltas()) == 1 + 3
    assert b"[DONE]" not in reply.raw
    await wait_until(lambda: sim.stats.running == 0)
    assert sim.stats.failed == 1


async def test_dropped_non_streamed_request_gets_no_response(sim, http):
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await chat(http, sim, {"messages": user("hello sim:drop")})


async def test_busy_is_vllms_503(sim, http):
    reply = await chat(http, sim, {"messages": user("hi sim:busy"), "stream": True})
    assert reply.status == 503
    assert reply.json == {"error": {
        "message": "The engine is currently busy and cannot accept new requests. Please try again later or on a "
                   "different instance.",
        "type": "Service Unavailable", "param": None, "code": 503}}


async def test_length_fault_stops_mid_sentence(sim, http):
    reply = await chat(http, sim, {"messages": user("hello sim:length=5"), "stream": True,
                                   "stream_options": {"include_usage": True}})
    assert len([d for d in reply.deltas() if d.get("content")]) == 5
    assert reply.finish()["finish_reason"] == "length" and reply.finish()["delta"]["content"]
    assert reply.chunks[-1]["usage"]["completion_tokens"] == 5


async def test_abort_fault_finishes_with_abort(sim, http):
    reply = await chat(http, sim, {"messages": user("hello sim:abort=2"), "stream": True})
    assert reply.finish() == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "abort",
                              "stop_reason": None, "token_ids": None}
    whole = await chat(http, sim, {"messages": user("hello sim:abort=2")})
    assert whole.json["choices"][0]["finish_reason"] == "abort"


async def test_stall_sends_headers_then_silence_then_tokens(sim, http):
    reply = await chat(http, sim, {"messages": user("echo ok sim:stall=0.3"), "stream": True})
    assert reply.raw.startswith(b"data: {") and reply.text() == "ok"


async def test_keepalive_fault_sends_comments_while_stalled(sim, http):
    reply = await chat(http, sim, {"messages": user("echo ok sim:keepalive=1.5"), "stream": True})
    head = reply.raw.split(b"data: ", 1)[0]
    assert head and set(head.split(b"\n\n")) == {b": keep-alive", b""}
    assert reply.text() == "ok"


async def test_non_streamed_faults_are_http_errors(sim, http):
    mid = await chat(http, sim, {"messages": user("hello sim:error-mid")})
    assert mid.status == 500 and mid.json["error"]["type"] == "InternalServerError"
    first = await chat(http, sim, {"messages": user("hello sim:error-first")})
    assert first.status == 400


async def test_server_wide_fault_applies_unless_the_request_names_its_own(make_sim, http):
    server = await make_sim(fault="busy")
    assert (await chat(http, server, {"messages": user("hi")})).status == 503
    own = await chat(http, server, {"messages": user("echo hi sim:length=1")})
    assert own.status == 200 and own.json["choices"][0]["finish_reason"] == "length"


async def test_fault_from_the_body_field(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "stream": True, "sim_fault": "error-mid=2"})
    assert b'"code": 500' in reply.raw


async def test_fault_phrase_only_counts_in_the_last_user_message(sim, http):
    messages = [{"role": "user", "content": "sim:busy"}, {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "echo fine"}]
    reply = await chat(http, sim, {"messages": messages})
    assert reply.json["choices"][0]["message"]["content"] == "fine"


# --- disconnects ---------------------------------------------------------------------------------


async def test_closing_a_stream_stops_generation_and_frees_the_slot(make_sim, http):
    server = await make_sim(tps=200)
    async with aiohttp.ClientSession() as session:
        async with session.post(server.base_url + "/chat/completions",
                                json={"messages": user("long 3000"), "stream": True}) as response:
            async for line in response.content:
                if line.startswith(b"data: {") and b'"content":"' in line and b'"role"' not in line:
                    break
            assert server.stats.running == 1
    await wait_until(lambda: server.stats.running == 0)
    assert server.stats.aborted == 1 and server.stats.completed == 0
    generated = server.stats.generation_tokens
    assert generated < 3000
    # Another whole request, served after the abort: the aborted one added nothing meanwhile.
    after = await chat(http, server, {"messages": user("echo done"), "stream": False})
    assert server.stats.generation_tokens == generated + after.json["usage"]["completion_tokens"]
    metrics = (await request(http, "GET", server.root_url + "/metrics")).raw
    assert b'vllm:num_requests_running{engine="0",model_name="sim-chat"} 0.0' in metrics
    assert b'finished_reason="abort",model_name="sim-chat"} 0.0' in metrics, "a cancel is not a finished request"


async def test_a_request_waiting_for_its_first_token_is_counted_as_waiting(make_sim):
    server = await make_sim()
    async with aiohttp.ClientSession() as session:
        async with session.post(server.base_url + "/chat/completions",
                                json={"messages": user("hi sim:stall=30"), "stream": True}) as response:
            assert response.status == 200
            await wait_until(lambda: server.stats.waiting == 1)
    await wait_until(lambda: server.stats.waiting == 0)
    assert server.stats.aborted == 1 and server.stats.running == 0


async def test_an_abandoned_non_streamed_request_is_aborted(make_sim):
    server = await make_sim(tps=100)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.post(server.base_url + "/chat/completions", json={"messages": user("long 1000")})
    await wait_until(lambda: server.stats.aborted == 1)
    assert server.stats.running == 0 and server.stats.generation_tokens < 1000
