"""Checks of vLLM's second-round features that hold for the real server and the simulated one.

Structured outputs, logprobs, `n` and beam search, legacy completions, `/tokenize` against
`usage`, `/metrics`, per-request metrics, base models and the runtime-LoRA routes, as the
official `openai` SDK (AsyncOpenAI, no retries) or plain HTTP sees them. Shared by
`tests/simserver/test_round2_sdk.py` and `tests/integration/test_real_vllm_round2.py`, so
both servers are held to the same assertions. A real model with random weights writes
gibberish, so each check constrains the output or checks only structure.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}}]
FLAG_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
               "additionalProperties": False}
NO_CHAT_TEMPLATE = (
    "As of transformers v4.44, default chat template is no longer allowed, so you must provide a chat "
    "template if the tokenizer does not define one."
)
GAUGES = ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc")
COUNTERS = ("vllm:prefix_cache_queries", "vllm:prefix_cache_hits", "vllm:num_preemptions",
            "vllm:prompt_tokens", "vllm:generation_tokens", "vllm:request_success")
HISTOGRAMS = ("vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds",
              "vllm:e2e_request_latency_seconds", "vllm:request_queue_time_seconds")
METRIC_FIELDS = {"time_to_first_token_ms", "generation_time_ms", "queue_time_ms", "mean_itl_ms", "tokens_per_second"}


def root_url(client: Any) -> str:
    """The server root (where /metrics and /tokenize live) of a client's `/v1` base URL."""
    return str(client.base_url).rstrip("/").removesuffix("/v1")


def _http(url: str, body: Any = None, key: str | None = None) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


async def http(url: str, body: Any = None, key: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP request, off the event loop (which may be serving it)."""
    return await asyncio.get_running_loop().run_in_executor(None, _http, url, body, key)


def _key(client: Any) -> str | None:
    key = client.api_key
    return None if key in ("", "EMPTY") else key


# --- structured outputs --------------------------------------------------------------------------


async def check_choice_reply(client: Any, model: str) -> str:
    """`structured_outputs.choice`: the reply is one of the choices and ends with `stop`."""
    choices = ["red", "green", "blue"]
    response = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=20, extra_body={"structured_outputs": {"choice": choices}}
    )
    content = response.choices[0].message.content
    assert content in choices and response.choices[0].finish_reason == "stop", content
    return content


async def check_regex_reply(client: Any, model: str, stream: bool = True) -> str:
    """`structured_outputs.regex`: the whole reply matches the pattern (streamed by default)."""
    pattern = r"[A-Z]{3}-[0-9]{2}"
    body = {"structured_outputs": {"regex": pattern}}
    if stream:
        chunks = await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=20, stream=True,
                                                      extra_body=body)
        parts, finish = [], None
        async for chunk in chunks:
            for choice in chunk.choices:
                parts.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        content = "".join(parts)
    else:
        response = await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=20, extra_body=body)
        content, finish = response.choices[0].message.content, response.choices[0].finish_reason
    assert re.fullmatch(pattern, content) and finish == "stop", (content, finish)
    return content


async def check_grammar_reply(client: Any, model: str) -> str:
    """`structured_outputs.grammar` (GBNF): the reply is a sentence of the grammar."""
    grammar = 'root ::= ("yes" | "no") "!"'
    response = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=20, extra_body={"structured_outputs": {"grammar": grammar}}
    )
    content = response.choices[0].message.content
    assert content in ("yes!", "no!"), content
    return content


async def check_json_schema_reply(client: Any, model: str) -> Any:
    """`response_format: json_schema`: a finished reply is a valid instance; one cut at
    `max_tokens` is unfinished JSON with finish `length` (a weak model pads with whitespace)."""
    import jsonschema

    scalar = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=30,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "colour", "schema": {"enum": ["red", "green"]}}},
    )
    assert json.loads(scalar.choices[0].message.content) in ("red", "green")
    response = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=400,
        response_format={"type": "json_schema", "json_schema": {"name": "flag", "strict": True, "schema": FLAG_SCHEMA}},
    )
    choice = response.choices[0]
    if choice.finish_reason == "stop":
        jsonschema.validate(json.loads(choice.message.content), FLAG_SCHEMA)
    else:
        assert choice.finish_reason == "length" and choice.message.content.startswith("{")
        assert response.usage.completion_tokens == 400
    return choice.message.content


async def check_removed_guided_fields_are_ignored(client: Any, model: str) -> Any:
    """`guided_choice` (removed in vLLM 0.12): 200, and no error about it."""
    response = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=5, extra_body={"guided_choice": ["red", "blue"]}
    )
    assert response.choices[0].finish_reason in ("stop", "length")
    return response


async def check_constraint_with_named_tool_is_refused(client: Any, model: str) -> Any:
    """A constraint plus a named `tool_choice`: BadRequestError with vLLM's message."""
    import openai

    try:
        await client.chat.completions.create(
            model=model, messages=WEATHER, max_tokens=5, tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            extra_body={"structured_outputs": {"choice": ["a", "b"]}},
        )
    except openai.BadRequestError as exc:
        assert exc.body["message"] == "You can only either use constraints for structured outputs or tools, not both."
        assert exc.body["param"] is None
        return exc
    raise AssertionError("no BadRequestError")


async def check_invalid_regex_is_refused(client: Any, model: str) -> Any:
    """A regex the backend cannot compile: 400 (an error event when streaming) in vLLM's layout."""
    import openai

    try:
        await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=5,
                                             extra_body={"structured_outputs": {"regex": "(ab"}})
    except openai.BadRequestError as exc:
        assert exc.body["message"].startswith(
            'Grammar error: at 1(8): invalid regex "(ab" (in regex): regex parse error:'
        )
        assert "error: unclosed group" in exc.body["message"]
        return exc
    raise AssertionError("no BadRequestError")


# --- logprobs, n, beam search ------------------------------------------------------------------


async def check_logprobs_stream(client: Any, model: str, top: int = 3) -> list[Any]:
    """Streamed logprobs: every content chunk carries one entry per token, each with its token,
    a log-probability <= 0, its bytes, and `top` alternatives headed by the sampled token."""
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=6, stream=True, logprobs=True, top_logprobs=top
    )
    entries = []
    async for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content is None or choice.delta.role:
                continue
            assert choice.logprobs is not None and choice.logprobs.content, chunk
            for entry in choice.logprobs.content:
                assert entry.logprob <= 0 and len(entry.top_logprobs) == top
                assert entry.top_logprobs[0].token == entry.token
                assert entry.top_logprobs[0].logprob == entry.logprob
                entries.append(entry)
    assert entries, "no logprobs arrived"
    return entries


async def check_logprobs_nonstream(client: Any, model: str, top: int = 2) -> Any:
    """Non-streamed logprobs: one entry per generated token (a reply cut at max_tokens)."""
    response = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=5, logprobs=True, top_logprobs=top, extra_body={"ignore_eos": True}
    )
    content = response.choices[0].logprobs.content
    assert len(content) == response.usage.completion_tokens == 5
    assert all(len(e.top_logprobs) == top and e.top_logprobs[0].token == e.token for e in content)
    return content


async def check_n3_stream(client: Any, model: str) -> dict[int, str]:
    """`n=3` with logprobs: interleaved choice indexes, a finish per choice, usage summing all three."""
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=4, n=3, stream=True, logprobs=True, top_logprobs=2,
        stream_options={"include_usage": True}, extra_body={"ignore_eos": True},
    )
    order, finish, usage = [], {}, None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            order.append(choice.index)
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert order[:3] == [0, 1, 2], order
    assert sorted(set(order)) == [0, 1, 2] and order != sorted(order), "choices interleave"
    assert finish == {0: "length", 1: "length", 2: "length"}
    assert usage.completion_tokens == 12 and usage.total_tokens == usage.prompt_tokens + 12
    return finish


async def check_beam_search_stream(client: Any, model: str) -> list[Any]:
    """Streamed beam search: the role chunks, then each beam whole with its finish reason."""
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=4, n=2, stream=True, stream_options={"include_usage": True},
        extra_body={"use_beam_search": True},
    )
    chunks = [chunk async for chunk in stream]
    with_choices = [c for c in chunks if c.choices]
    assert [c.choices[0].delta.role for c in with_choices[:2]] == ["assistant", "assistant"]
    beams = with_choices[2:]
    assert [c.choices[0].index for c in beams] == [0, 1]
    assert all(c.choices[0].finish_reason for c in beams) and chunks[-1].usage.completion_tokens == 8
    return beams


# --- completions, tokenize, metrics ------------------------------------------------------------


async def check_completion_stream(client: Any, model: str) -> Any:
    """`/v1/completions` streamed: text chunks, a `length` finish, usage adding up."""
    stream = await client.completions.create(
        model=model, prompt="def f(", max_tokens=6, stream=True, stream_options={"include_usage": True}
    )
    texts, finish, usage = [], None, None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            texts.append(choice.text)
            finish = choice.finish_reason or finish
    assert finish == "length" and usage.completion_tokens == 6
    assert usage.total_tokens == usage.prompt_tokens + 6
    return texts


async def check_tokenize_counts_the_prompt(client: Any, model: str, tools: bool = False,
                                           kwargs: dict[str, Any] | None = None) -> int:
    """`/tokenize` with a chat request's messages (and tools, and template kwargs) counts
    exactly that request's `usage.prompt_tokens`."""
    body: dict[str, Any] = {"model": model, "messages": WEATHER, "return_token_strs": True}
    extra: dict[str, Any] = {}
    if tools:
        body["tools"] = TOOLS
    if kwargs is not None:
        body["chat_template_kwargs"] = extra["chat_template_kwargs"] = kwargs
    status, _, raw = await http(root_url(client) + "/tokenize", body)
    assert status == 200, raw
    counted = json.loads(raw)
    assert counted["count"] == len(counted["tokens"]) == len(counted["token_strs"])
    response = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=1, extra_body=extra, **({"tools": TOOLS} if tools else {})
    )
    assert counted["count"] == response.usage.prompt_tokens, (counted["count"], response.usage.prompt_tokens)
    return counted["count"]


async def check_metrics(client: Any) -> dict[str, Any]:
    """`/metrics` without a key: vLLM's gauges, counters and histograms, labelled `engine` and
    `model_name`, parsed with prometheus_client."""
    status, headers, raw = await http(root_url(client) + "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(raw.decode())}
    for name in GAUGES:
        assert families[name].type == "gauge", name
    for name in COUNTERS:
        assert families[name].type == "counter", name
    for name in HISTOGRAMS:
        assert families[name].type == "histogram", name
    for name in GAUGES + COUNTERS + HISTOGRAMS:
        assert {"engine", "model_name"} <= set(families[name].samples[0].labels), name
    return families


async def check_version(client: Any) -> str:
    """`/version` answers with the server's version."""
    status, _, raw = await http(root_url(client) + "/version")
    version = json.loads(raw)["version"]
    assert status == 200 and re.match(r"\d+\.\d+", version)
    return version


async def check_runtime_lora_routes_absent(client: Any) -> Any:
    """Without `VLLM_ALLOW_RUNTIME_LORA_UPDATING` the load route does not exist: FastAPI's 404."""
    status, _, raw = await http(str(client.base_url).rstrip("/") + "/load_lora_adapter",
                                {"lora_name": "x", "lora_path": "/nonexistent"}, _key(client))
    assert status == 404 and json.loads(raw) == {"detail": "Not Found"}
    return raw


async def check_per_request_metrics(client: Any, model: str) -> dict[str, Any]:
    """A server with per-request metrics: the final usage chunk and the non-streamed body carry
    them; `n` > 1 gets none."""
    stream = await client.chat.completions.create(
        model=model, messages=WEATHER, max_tokens=6, stream=True, stream_options={"include_usage": True}
    )
    last = [chunk async for chunk in stream][-1]
    streamed = (last.model_extra or {}).get("metrics")
    assert streamed and set(streamed) <= METRIC_FIELDS and streamed["time_to_first_token_ms"] >= 0
    response = await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=6)
    metrics = (response.model_extra or {})["metrics"]
    assert set(metrics) == METRIC_FIELDS | {"speculative_decoding"}
    several = await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=3, n=2)
    assert (several.model_extra or {})["metrics"] is None
    return metrics


async def check_base_model(client: Any, model: str) -> Any:
    """A model without a chat template: chat and `/tokenize` with messages get vLLM's 400,
    completions and `/tokenize` with a prompt work."""
    import openai

    try:
        await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=3)
    except openai.BadRequestError as exc:
        assert exc.body["message"] == NO_CHAT_TEMPLATE
    else:
        raise AssertionError("chat on a base model did not fail")
    status, _, raw = await http(root_url(client) + "/tokenize", {"model": model, "messages": WEATHER})
    assert status == 400 and json.loads(raw)["error"]["message"] == NO_CHAT_TEMPLATE
    status, _, raw = await http(root_url(client) + "/tokenize", {"model": model, "prompt": "def f(x):"})
    assert status == 200 and json.loads(raw)["count"] >= 1
    completion = await client.completions.create(model=model, prompt="def f(", max_tokens=4)
    assert completion.choices[0].finish_reason in ("length", "stop")
    return completion


async def check_reasoning_controls(client: Any, model: str) -> Any:
    """A server with a reasoning parser: `reasoning_effort` takes vLLM's values (a 400 for
    others), `include_reasoning: false` leaves reasoning out, `thinking_token_budget` takes
    -1 (unlimited) and refuses other negatives."""
    import openai

    response = await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=8, reasoning_effort="low")
    assert response.choices[0].finish_reason in ("stop", "length")
    try:
        await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=3,
                                             extra_body={"reasoning_effort": "extreme"})
    except openai.BadRequestError as exc:
        assert "Input should be 'none', 'minimal', 'low', 'medium', 'high', 'xhigh' or 'max'" in exc.body["message"]
        assert exc.body["param"] == "body.reasoning_effort"
    else:
        raise AssertionError("an unknown reasoning_effort was accepted")
    hidden = await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=8,
                                                  extra_body={"include_reasoning": False})
    assert (hidden.choices[0].message.model_extra or {}).get("reasoning") is None
    unlimited = await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=4,
                                                     extra_body={"thinking_token_budget": -1})
    assert unlimited.choices
    try:
        await client.chat.completions.create(model=model, messages=WEATHER, max_tokens=4,
                                             extra_body={"thinking_token_budget": -2})
    except openai.BadRequestError as exc:
        assert exc.body["message"] == (
            "`thinking_token_budget` must be a non-negative integer or -1 for unlimited. "
            "(parameter=thinking_token_budget, value=-2)"
        )
    else:
        raise AssertionError("a negative thinking_token_budget was accepted")
    return hidden
