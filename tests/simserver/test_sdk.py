"""The official openai SDK consumes every kind of stream the simulated server sends, and raises
the same exception classes a real vLLM makes it raise."""

from __future__ import annotations

import asyncio
import json
import socket

import openai
import pytest

from . import sdk_checks as checks

MODEL = "sim-chat"


@pytest.fixture
def client(sim, openai_client):
    return openai_client(sim.base_url)


# --- the checks shared with the real-vLLM integration tests ---------------------------------------


async def test_models_list_names_every_model(client):
    assert await checks.check_models_list(client, MODEL) == ["sim-chat", "sim-vision"]


async def test_plain_stream(client):
    await checks.check_plain_stream(client, MODEL)


async def test_usage_stream(client):
    await checks.check_usage_stream(client, MODEL)


async def test_continuous_usage_stream(client):
    await checks.check_continuous_usage_stream(client, MODEL)


async def test_non_streamed_reply(client):
    await checks.check_nonstream(client, MODEL)


async def test_two_choices_stream(client):
    await checks.check_n2_stream(client, MODEL)


async def test_required_tool_call_stream(client):
    seen = await checks.check_tools_required_stream(client, MODEL)
    assert json.loads(seen.calls[0][0]["arguments"]) == {"city": "Paris"}


async def test_named_tool_call_stream(client):
    await checks.check_tools_named_strict_stream(client, MODEL)


async def test_required_tool_call_non_streamed(client):
    await checks.check_tools_required_nonstream(client, MODEL)


async def test_tool_result_roundtrip(client):
    response = await checks.check_tool_result_roundtrip(client, MODEL)
    assert '{"temp_c": 21}' in response.choices[0].message.content


async def test_unknown_model_is_not_found(client):
    await checks.check_unknown_model(client, MODEL)


async def test_unknown_route_is_not_found_with_fastapi_body(client):
    await checks.check_route_not_found(client, MODEL)


async def test_request_errors_are_bad_requests(client):
    await checks.check_bad_requests(client, MODEL, max_model_len=32768, text_only_model="sim-chat")


async def test_engine_side_error_arrives_in_the_stream(client):
    await checks.check_in_stream_error(client, MODEL)


async def test_wrong_api_key_is_authentication_error(make_sim):
    server = await make_sim(api_key="secret")
    await checks.check_auth_required(server.base_url, MODEL, "secret")


async def test_refused_connection_is_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await checks.check_connection_refused(MODEL, port)


async def test_closing_the_stream_aborts_generation(make_sim, openai_client):
    server = await make_sim(tps=200)
    client = openai_client(server.base_url)
    result = await checks.check_cancel_by_closing(client, MODEL)
    assert server.stats.aborted == 1
    assert server.stats.running == 0
    assert result["generated"] < 1500


# --- simulator-only stream kinds ---------------------------------------------------------------


async def test_reasoning_stream(make_sim, openai_client):
    server = await make_sim(reasoning=True)
    await checks.check_reasoning_stream(openai_client(server.base_url), MODEL)


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
async def test_reasoning_stream_under_either_field_name(make_sim, openai_client, field):
    server = await make_sim(reasoning=True, reasoning_field=field)
    client = openai_client(server.base_url)
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello"}], stream=True,
        stream_options={"include_usage": True},
    )
    seen = await checks.collect(stream, reasoning_field=field)
    assert "greeting" in seen.reasoning[0]
    assert seen.content[0].lstrip().startswith("## Hello")
    assert seen.usage.completion_tokens_details.reasoning_tokens > 0
    assert seen.finish[0] == "stop"


async def test_reasoning_non_streamed_under_legacy_field_name(make_sim, openai_client):
    server = await make_sim(reasoning=True, reasoning_field="reasoning_content")
    client = openai_client(server.base_url)
    response = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    extra = response.choices[0].message.model_extra
    assert extra["reasoning_content"] and "reasoning" not in extra


async def test_auto_tool_call_with_parallel_calls(client):
    stream = await client.chat.completions.create(
        model=MODEL, stream=True, tools=checks.TOOLS,
        messages=[{"role": "user", "content": "What is the weather in Paris and in Tokyo?"}],
    )
    seen = await checks.collect(stream)
    calls = seen.calls[0]
    assert [json.loads(c["arguments"]) for c in calls.values()] == [{"city": "Paris"}, {"city": "Tokyo"}]
    assert len({c["id"] for c in calls.values()}) == 2
    assert seen.finish[0] == "tool_calls"


async def test_duplicate_index_tool_deltas_still_merge_by_index(make_sim, openai_client):
    server = await make_sim(duplicate_index_tool_deltas=True)
    client = openai_client(server.base_url)
    stream = await client.chat.completions.create(model=MODEL, messages=checks.WEATHER, tools=checks.TOOLS, stream=True)
    seen = await checks.collect(stream)
    assert json.loads(seen.calls[0][0]["arguments"]) == {"city": "Paris"}


async def test_sdk_stream_helper_accumulates_tool_calls(client):
    async with client.chat.completions.stream(
        model=MODEL, messages=checks.WEATHER, tools=checks.TOOLS, tool_choice="required"
    ) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


# --- faults as SDK exceptions ---------------------------------------------------------------------


def _ask(fault: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"hello {fault}"}]


async def test_busy_server_is_internal_server_error(client):
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model=MODEL, messages=_ask("sim:busy"), stream=True)
    assert caught.value.status_code == 503
    assert caught.value.body["type"] == "Service Unavailable"


async def test_error_event_midway_is_api_error_with_code_500(client):
    stream = await client.chat.completions.create(model=MODEL, messages=_ask("sim:error-mid"), stream=True)
    received = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            received.append(chunk)
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.code == "500"
    assert caught.value.message == "Internal server error"
    assert len(received) > 1


async def test_error_event_first_is_api_error_with_code_400(client):
    stream = await client.chat.completions.create(model=MODEL, messages=_ask("sim:error-first"), stream=True)
    with pytest.raises(openai.APIError) as caught:
        async for _ in stream:
            pass
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.code == "400"


async def test_dropped_stream_is_connection_error(client):
    stream = await client.chat.completions.create(model=MODEL, messages=_ask("sim:drop"), stream=True)
    received = 0
    with pytest.raises(openai.APIConnectionError) as caught:
        async for _ in stream:
            received += 1
    assert not isinstance(caught.value, openai.APITimeoutError)
    assert received > 1


async def test_dropped_non_streamed_request_is_connection_error(client):
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model=MODEL, messages=_ask("sim:drop"))


async def test_stall_longer_than_the_client_timeout_is_timeout_error(make_sim, openai_client):
    server = await make_sim()
    client = openai_client(server.base_url, timeout=0.5)
    stream = await client.chat.completions.create(model=MODEL, messages=_ask("sim:stall=5"), stream=True)
    with pytest.raises(openai.APITimeoutError):
        async for _ in stream:
            pass
    await stream.close()


async def test_keep_alive_comments_keep_a_stalled_stream_open(make_sim, openai_client):
    server = await make_sim(sse_keep_alive=0.1)
    client = openai_client(server.base_url, timeout=1.0)
    stream = await client.chat.completions.create(model=MODEL, messages=_ask("sim:stall=2"), stream=True)
    seen = await checks.collect(stream)
    assert seen.finish[0] == "stop"


async def test_length_and_abort_faults_end_with_those_finish_reasons(client):
    for fault, reason in (("sim:length=3", "length"), ("sim:abort=3", "abort")):
        stream = await client.chat.completions.create(model=MODEL, messages=_ask(fault), stream=True)
        seen = await checks.collect(stream)
        assert seen.finish[0] == reason


async def test_fault_from_the_request_body(client):
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(
            model=MODEL, messages=checks.WEATHER, extra_body={"sim_fault": "busy"}
        )


async def test_cancelling_the_reading_task_aborts_generation(make_sim, openai_client):
    server = await make_sim(tps=100)
    client = openai_client(server.base_url)
    started = asyncio.Event()

    async def read() -> None:
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "long 5000"}], stream=True
        )
        async with stream:
            async for _ in stream:
                started.set()

    task = asyncio.create_task(read())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await checks.wait_for_metric(client, "vllm:num_requests_running", 0.0) == 0.0
    assert server.stats.aborted == 1
    assert server.stats.generation_tokens < 5000
