"""Faults a router or gateway in front of vLLM answers with: 429 and 503 with `Retry-After`,
for this request and the next few, as seen over HTTP and by the SDK."""

from __future__ import annotations

import openai
import pytest

from .helpers import chat, request, user


@pytest.mark.parametrize(("phrase", "status", "type_"), [("sim:429", 429, "rate_limit_error"),
                                                          ("sim:503", 503, "service_unavailable")])
async def test_a_router_fault_answers_with_retry_after(sim, http, phrase, status, type_):
    reply = await chat(http, sim, {"messages": user(f"hello {phrase}"), "stream": True})
    assert reply.status == status and reply.headers["retry-after"] == "2"
    assert reply.json["error"]["type"] == type_ and "Retry after 2 seconds" in reply.json["error"]["message"]
    assert (await chat(http, sim, {"messages": user("hello")})).status == 200


async def test_the_next_requests_get_it_too_until_the_count_runs_out(make_sim, http):
    server = await make_sim(router_retry_after=7)
    first = await chat(http, server, {"messages": user("hi sim:429=3")})
    statuses = [first.status]
    for _ in range(3):
        statuses.append((await chat(http, server, {"messages": user("hi")})).status)
    assert statuses == [429, 429, 429, 200] and first.headers["retry-after"] == "7"


async def test_completions_and_the_request_field_trigger_it_as_well(sim, http):
    reply = await request(http, "POST", sim.base_url + "/completions",
                          {"model": "sim-chat", "prompt": "x", "sim_fault": "503=2"})
    assert reply.status == 503
    assert (await chat(http, sim, {"messages": user("hi")})).status == 503, "a router answers every route alike"
    assert (await chat(http, sim, {"messages": user("hi")})).status == 200


async def test_the_sdk_sees_a_rate_limit_error_with_the_header(sim, openai_client):
    client = openai_client(sim.base_url)
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="sim-chat", messages=user("hi sim:429"))
    assert caught.value.response.headers["retry-after"] == "2"
    with pytest.raises(openai.InternalServerError) as unavailable:
        await client.chat.completions.create(model="sim-chat", messages=user("hi"), extra_body={"sim_fault": "503"})
    assert unavailable.value.status_code == 503


async def test_vllms_own_full_queue_is_counted_as_an_admission_rejection(sim, http):
    assert (await chat(http, sim, {"messages": user("hi sim:busy")})).status == 503
    text = (await request(http, "GET", sim.root_url + "/metrics")).raw.decode()
    assert 'vllm:admission_rejections_total{model_name="sim-chat",reason="max_num_queued_reqs"} 1.0' in text


async def test_the_same_request_sent_again_gets_through_once_the_run_is_spent(make_sim, http):
    server = await make_sim(router_retry_after=1)
    body = {"messages": user("echo patience sim:429=2")}
    statuses = [(await chat(http, server, body)).status for _ in range(3)]
    assert statuses == [429, 429, 200], "a client honouring Retry-After is let through, as by a real router"
    assert (await chat(http, server, {"messages": user("echo again sim:429")})).status == 429, "a new request arms it"
