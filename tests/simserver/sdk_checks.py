"""What the official `openai` SDK (AsyncOpenAI, no retries) must see from a vLLM server.

Plain async functions taking `(client, model, ...)`, shared by the simulated-server
tests and by `tests/integration/test_real_vllm.py`, so both servers are held to
the same checks. Each raises AssertionError (or lets the wrong exception escape)
and returns what it saw, for the failure message.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from dataclasses import dataclass, field
from typing import Any

TOOL_ID = re.compile(r"^chatcmpl-tool-[0-9a-f]{16}$")
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search_docs",
        "description": "Search the docs",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query"],
        },
    },
}
TOOLS = [WEATHER_TOOL, SEARCH_TOOL]
STRICT_TOOLS = [dict(t, function=dict(t["function"], strict=True)) for t in TOOLS]
WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]
PNG_1X1 = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42"
    "mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass
class Seen:
    """A stream as a client accumulates it."""

    chunks: int = 0
    """Chunks received."""
    roles: list[str] = field(default_factory=list)
    """Every `delta.role` seen."""
    content: dict[int, str] = field(default_factory=dict)
    """Text by choice index."""
    reasoning: dict[int, str] = field(default_factory=dict)
    """Reasoning text by choice index."""
    calls: dict[int, dict[int, dict[str, str]]] = field(default_factory=dict)
    """Tool calls by choice index, then call index: `{"id", "name", "arguments"}`."""
    finish: dict[int, str] = field(default_factory=dict)
    """Finish reason by choice index."""
    usage: Any = None
    """The usage chunk's usage, if one came."""
    usage_per_chunk: list[Any] = field(default_factory=list)
    """Usage carried by chunks with choices (continuous usage stats)."""
    fingerprints: list[str] = field(default_factory=list)
    """Every `system_fingerprint` seen."""


async def collect(stream: Any, reasoning_field: str = "reasoning") -> Seen:
    """Read a chat stream to the end, merging tool-call deltas by index."""
    seen = Seen()
    async for chunk in stream:
        seen.chunks += 1
        if chunk.system_fingerprint:
            seen.fingerprints.append(chunk.system_fingerprint)
        if chunk.usage is not None:
            if chunk.choices:
                seen.usage_per_chunk.append(chunk.usage)
            else:
                seen.usage = chunk.usage
        for choice in chunk.choices:
            i = choice.index
            delta = choice.delta
            if delta.role:
                seen.roles.append(delta.role)
            if delta.content:
                seen.content[i] = seen.content.get(i, "") + delta.content
            thought = (delta.model_extra or {}).get(reasoning_field)
            if thought:
                seen.reasoning[i] = seen.reasoning.get(i, "") + thought
            for call in delta.tool_calls or []:
                slot = seen.calls.setdefault(i, {}).setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                if call.id:
                    slot["id"] = call.id
                if call.function and call.function.name:
                    slot["name"] += call.function.name
                if call.function and call.function.arguments:
                    slot["arguments"] += call.function.arguments
            if choice.finish_reason:
                seen.finish[i] = choice.finish_reason
    return seen


def root_url(client: Any) -> str:
    """The server root (where /metrics and /tokenize live) of a client's `/v1` base URL."""
    return str(client.base_url).rstrip("/").removesuffix("/v1")


async def metric(client: Any, name: str) -> float:
    """Sum of one Prometheus series on the server's `/metrics` (read off the event loop,
    which may be serving it)."""
    text = await asyncio.get_running_loop().run_in_executor(None, _read_metrics, root_url(client))
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " "))
    )


def _read_metrics(root: str) -> str:
    with urllib.request.urlopen(root + "/metrics", timeout=10) as response:
        return response.read().decode()


async def wait_for_metric(client: Any, name: str, want: float, timeout: float = 60.0) -> float:
    """Poll `/metrics` until the series equals `want` (or give up and return the last value)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    value = await metric(client, name)
    while value != want and loop.time() < deadline:
        await asyncio.sleep(0.05)
        value = await metric(client, name)
    return value


# --- streams and responses -------------------------------------------------------------------------


async def check_models_list(client: Any, model: str) -> list[str]:
    """`models.list()` names the model; its card carries `max_model_len`."""
    page = await client.models.list()
    ids = [m.id for m in page.data]
    assert model in ids, ids
    card = next(m for m in page.data if m.id == model)
    assert isinstance((card.model_extra or {}).get("max_model_len"), int)
    assert card.owned_by == "vllm"
    return ids


async def check_plain_stream(client: Any, model: str, max_tokens: int = 8) -> Seen:
    """A plain stream: role first, text deltas, a finish reason, no usage."""
    stream = await client.chat.completions.create(model=model, messages=WEATHER, stream=True, max_tokens=max_tokens)
    seen = await collect(stream)
    assert seen.roles == ["assistant"]
    assert seen.finish.get(0) in ("length", "stop"), seen.finish
    assert seen.content.get(0), "no text arrived"
    assert seen.usage is None
    assert len(seen.fingerprints) == 1, "system_fingerprint comes on the finish chunk only"
    return seen


async def check_usage_stream(client: Any, model: str, max_tokens: int = 12) -> Seen:
    """`include_usage`: a last chunk without choices carries the totals (and the fingerprint)."""
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, stream=True, max_tokens=max_tokens, stream_options={"include_usage": True}
    )
    seen = await collect(stream)
    assert seen.usage is not None
    assert seen.usage.total_tokens == seen.usage.prompt_tokens + seen.usage.completion_tokens
    if seen.finish[0] == "length":
        assert seen.usage.completion_tokens == max_tokens
    assert len(seen.fingerprints) == 1
    return seen


async def check_continuous_usage_stream(client: Any, model: str, max_tokens: int = 4) -> Seen:
    """`continuous_usage_stats`: every chunk with a choice carries cumulative usage."""
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, stream=True, max_tokens=max_tokens,
        stream_options={"include_usage": True, "continuous_usage_stats": True},
    )
    seen = await collect(stream)
    counts = [u.completion_tokens for u in seen.usage_per_chunk]
    assert counts and counts[0] == 0 and counts == sorted(counts), counts
    assert seen.usage is not None and seen.usage.completion_tokens == counts[-1]
    return seen


async def check_nonstream(client: Any, model: str, max_tokens: int = 5) -> Any:
    """A non-streamed reply with vLLM's extra fields reachable through `model_extra`."""
    response = await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=max_tokens)
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.finish_reason in ("length", "stop")
    if choice.finish_reason == "length":
        assert response.usage.completion_tokens == max_tokens
    assert "stop_reason" in (choice.model_extra or {})
    assert "kv_transfer_params" in (response.model_extra or {})
    assert response.system_fingerprint and response.system_fingerprint.startswith("vllm-")
    return response


async def check_reasoning_stream(client: Any, model: str, max_tokens: int = 30) -> Seen:
    """A server with a reasoning parser: reasoning arrives under `reasoning` (never the legacy
    `reasoning_content`) and usage counts it in `completion_tokens_details.reasoning_tokens`."""
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, stream=True, max_tokens=max_tokens, stream_options={"include_usage": True}
    )
    seen = await collect(stream)
    legacy = await collect(
        await client.chat.completions.create(model=model, messages=WEATHER, stream=True, max_tokens=5),
        reasoning_field="reasoning_content",
    )
    assert seen.reasoning.get(0), "no reasoning arrived"
    assert not legacy.reasoning, "reasoning_content is gone since vLLM 0.16"
    assert seen.usage.completion_tokens_details.reasoning_tokens > 0
    return seen


async def check_n2_stream(client: Any, model: str) -> Seen:
    """`n=2`: two role chunks, interleaved choices, a finish per choice, one summed usage chunk."""
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, stream=True, n=2, max_tokens=4, stream_options={"include_usage": True}
    )
    seen = await collect(stream)
    assert seen.roles == ["assistant", "assistant"]
    assert set(seen.finish) == {0, 1}
    if set(seen.finish.values()) == {"length"}:
        assert seen.usage.completion_tokens == 8, "the usage chunk sums both choices"
    return seen


async def check_tools_required_stream(client: Any, model: str) -> Seen:
    """`tool_choice="required"`: at least one call, a proper id, a known name, `tool_calls` finish."""
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, tools=TOOLS, tool_choice="required", stream=True, max_tokens=300, seed=3
    )
    seen = await collect(stream)
    calls = seen.calls.get(0, {})
    assert calls, "no tool call arrived"
    for call in calls.values():
        assert TOOL_ID.match(call["id"]), call["id"]
        assert call["name"] in ("get_weather", "search_docs")
    assert seen.finish[0] == "tool_calls"
    return seen


async def check_tools_named_strict_stream(client: Any, model: str) -> Seen:
    """A named tool with a strict schema: that tool, JSON arguments with `city`, finish `stop`."""
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, tools=STRICT_TOOLS, stream=True, max_tokens=300, seed=3,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    seen = await collect(stream)
    call = seen.calls[0][0]
    assert call["name"] == "get_weather"
    assert "city" in json.loads(call["arguments"])
    assert seen.finish[0] == "stop"
    return seen


async def check_tools_required_nonstream(client: Any, model: str) -> Any:
    """Non-streamed forced call: `content` is `""` and the call has an id and a name."""
    response = await client.chat.completions.create(
        model=model, messages=WEATHER, tools=TOOLS, tool_choice="required", max_tokens=200, seed=3
    )
    message = response.choices[0].message
    assert message.content == ""
    assert message.tool_calls and TOOL_ID.match(message.tool_calls[0].id)
    assert response.choices[0].finish_reason == "tool_calls"
    return response


async def check_tool_result_roundtrip(client: Any, model: str) -> Any:
    """A conversation ending with a tool result is accepted and answered."""
    history = WEATHER + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'},
    ]
    response = await client.chat.completions.create(model=model, messages=history, tools=TOOLS, max_tokens=40)
    assert response.choices[0].finish_reason in ("length", "stop")
    return response


# --- errors as SDK exceptions ---------------------------------------------------------------------


async def check_unknown_model(client: Any, model: str) -> Any:
    """Unknown model: NotFoundError (also when streaming: the 404 comes before the stream)."""
    import openai

    for stream in (False, True):
        try:
            await client.chat.completions.create(model="nope", messages=WEATHER, max_tokens=3, stream=stream)
        except openai.NotFoundError as exc:
            assert exc.status_code == 404
            assert exc.body["message"].startswith("The model `nope` does not exist. Valid aliases:")
            assert exc.body["param"] == "model"
        else:
            raise AssertionError("no NotFoundError")
    return True


async def check_route_not_found(client: Any, model: str) -> Any:
    """A route vLLM does not have (`models.retrieve`): NotFoundError with FastAPI's body."""
    import openai

    try:
        await client.models.retrieve(model)
    except openai.NotFoundError as exc:
        assert exc.body == {"detail": "Not Found"}
        return exc
    raise AssertionError("no NotFoundError")


async def check_bad_requests(client: Any, model: str, max_model_len: int, text_only_model: str) -> list[str]:
    """Prompt too long, max_tokens too large, temperature out of range, an image for a text-only
    model: each a BadRequestError with vLLM's message."""
    import openai

    cases = [
        ({"messages": [{"role": "user", "content": "word " * (max_model_len + 100)}], "max_tokens": 3},
         f"This model's maximum context length is {max_model_len} tokens."),
        ({"messages": WEATHER, "max_tokens": max_model_len * 50},
         f"max_tokens={max_model_len * 50} cannot be greater than max_model_len={max_model_len}."),
        ({"messages": WEATHER, "max_tokens": 3, "temperature": -1}, "temperature must be non-negative, got -1.0."),
        ({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": PNG_1X1}}]}],
          "max_tokens": 3, "model": text_only_model}, f"{text_only_model} is not a multimodal model"),
    ]
    seen = []
    for kwargs, message in cases:
        kwargs = {"model": model, **kwargs}
        try:
            await client.chat.completions.create(**kwargs)
        except openai.BadRequestError as exc:
            assert exc.status_code == 400
            assert exc.body["message"].startswith(message), exc.body
            seen.append(exc.body["message"])
        else:
            raise AssertionError(f"no BadRequestError for {message!r}")
    return seen


async def check_in_stream_error(client: Any, model: str) -> Any:
    """An engine-side rejection after HTTP 200 (`top_logprobs` 25): plain APIError, code '400'."""
    import openai

    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, stream=True, max_tokens=3, logprobs=True, top_logprobs=25
    )
    try:
        async for _ in stream:
            pass
    except openai.APIStatusError as exc:
        raise AssertionError(f"APIStatusError {exc.status_code}: the error must come in the stream") from exc
    except openai.APIError as exc:
        assert exc.code == "400"
        assert exc.message.startswith("Requested sample logprobs of 25")
        return exc
    raise AssertionError("the stream ended without an error")


async def check_auth_required(base_url: str, model: str, good_key: str) -> Any:
    """With `--api-key`: a wrong key is AuthenticationError with body 'Unauthorized'; the right one works."""
    import openai

    bad = openai.AsyncOpenAI(base_url=base_url, api_key="wrong", max_retries=0)
    try:
        await bad.chat.completions.create(model=model, messages=WEATHER, max_tokens=3)
    except openai.AuthenticationError as exc:
        assert exc.status_code == 401
        assert exc.body == "Unauthorized"
    else:
        raise AssertionError("no AuthenticationError")
    finally:
        await bad.close()
    good = openai.AsyncOpenAI(base_url=base_url, api_key=good_key, max_retries=0)
    try:
        response = await good.chat.completions.create(model=model, messages=WEATHER, max_tokens=3)
        assert response.choices
    finally:
        await good.close()
    return True


async def check_connection_refused(model: str, closed_port: int) -> Any:
    """Nothing listening: APIConnectionError (what a client sees while vLLM loads its model)."""
    import openai

    client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{closed_port}/v1", api_key="EMPTY", max_retries=0)
    try:
        await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=3)
    except openai.APITimeoutError as exc:
        raise AssertionError("a refused connection is not a timeout") from exc
    except openai.APIConnectionError as exc:
        return exc
    finally:
        await client.close()
    raise AssertionError("no APIConnectionError")


async def check_cancel_by_closing(
    client: Any, model: str, max_tokens: int = 1500, attempts: int = 1
) -> dict[str, float]:
    """`await stream.close()` mid-stream aborts generation: `num_requests_running` returns to 0
    and far fewer than `max_tokens` tokens were generated for the request.

    `attempts` > 1 tolerates a server that sometimes misses the disconnect (the real vLLM 0.32
    CPU build lets about one closed stream in four run to `max_tokens`): one abort must be seen."""
    for _ in range(attempts):
        result = await _close_midway(client, model, max_tokens)
        if result["generated"] < max_tokens:
            return result
    raise AssertionError(f"{result['generated']} tokens generated in each of {attempts} attempts: never aborted")


async def _close_midway(client: Any, model: str, max_tokens: int) -> dict[str, float]:
    before = await metric(client, "vllm:generation_tokens_total")
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, stream=True, max_tokens=max_tokens, extra_body={"ignore_eos": True}
    )
    received = 0
    async for _ in stream:
        received += 1
        if received == 5:
            break
    await stream.close()
    running = await wait_for_metric(client, "vllm:num_requests_running", 0.0)
    await asyncio.sleep(0.2)
    generated = await metric(client, "vllm:generation_tokens_total") - before
    assert received == 5
    assert running == 0.0, f"num_requests_running={running} after closing the stream"
    return {"generated": generated, "running": running}
