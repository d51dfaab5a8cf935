"""Invalid requests get vLLM's status, error type, `param` and message, word for word."""

from __future__ import annotations

import pytest

from .helpers import chat, request, user

PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42"
       "mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}


def image_message(count: int = 1, model: str = "sim-chat") -> dict:
    parts = [{"type": "text", "text": "What is this?"}] + [{"type": "image_url", "image_url": {"url": PNG}}] * count
    return {"model": model, "messages": [{"role": "user", "content": parts}], "max_tokens": 2}


CASES = [
    ({"temperature": -1}, 400, "BadRequestError", "temperature",
     "temperature must be non-negative, got -1.0. (parameter=temperature, value=-1.0)"),
    ({"temperature": 5}, 400, "BadRequestError", "temperature",
     "temperature must be in [0, 2], got 5.0. (parameter=temperature, value=5.0)"),
    ({"temperature": "hot"}, 400, "Bad Request", "body.temperature",
     "1 validation error:\n  {'type': 'float_parsing', 'loc': 'body.temperature', 'msg': 'Input should be a valid "
     "number, unable to parse string as a number', 'input': 'hot'}"),
    ({"top_p": 1.5}, 400, "BadRequestError", "top_p", "top_p must be in (0, 1], got 1.5. (parameter=top_p, value=1.5)"),
    ({"top_p": 0}, 400, "BadRequestError", "top_p", "top_p must be in (0, 1], got 0.0. (parameter=top_p, value=0.0)"),
    ({"min_p": 2}, 400, "BadRequestError", None, "min_p must be in [0, 1], got 2.0."),
    ({"presence_penalty": 3}, 400, "BadRequestError", None, "presence_penalty must be in [-2, 2], got 3.0."),
    ({"frequency_penalty": -3}, 400, "BadRequestError", None, "frequency_penalty must be in [-2, 2], got -3.0."),
    ({"repetition_penalty": 0}, 400, "BadRequestError", None, "repetition_penalty must be greater than zero, got 0.0."),
    ({"top_k": -5}, 400, "BadRequestError", None, "top_k must be 0 (disable), or at least 1, got -5."),
    ({"n": 0}, 400, "BadRequestError", None, "n must be at least 1, got 0."),
    ({"max_tokens": 0}, 400, "BadRequestError", "max_tokens",
     "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)"),
    ({"max_tokens": -5}, 400, "BadRequestError", "max_tokens",
     "max_tokens must be at least 1, got -5. (parameter=max_tokens, value=-5)"),
    ({"max_tokens": 100000}, 400, "BadRequestError", "max_tokens",
     "max_tokens=100000 cannot be greater than max_model_len=32768. Please request fewer output tokens. "
     "(parameter=max_tokens, value=100000)"),
    ({"max_completion_tokens": 100000}, 400, "BadRequestError", "max_completion_tokens",
     "max_completion_tokens=100000 cannot be greater than max_model_len=32768. Please request fewer output tokens. "
     "(parameter=max_completion_tokens, value=100000)"),
    ({"max_tokens": "lots"}, 400, "Bad Request", "body.max_tokens",
     "1 validation error:\n  {'type': 'int_parsing', 'loc': 'body.max_tokens', 'msg': 'Input should be a valid "
     "integer, unable to parse string as an integer', 'input': 'lots'}"),
    ({"stream": "maybe"}, 400, "Bad Request", "body.stream",
     "1 validation error:\n  {'type': 'bool_parsing', 'loc': 'body.stream', 'msg': 'Input should be a valid "
     "boolean, unable to interpret input', 'input': 'maybe'}"),
    ({"model": 5}, 400, "Bad Request", "body.model",
     "1 validation error:\n  {'type': 'string_type', 'loc': 'body.model', 'msg': 'Input should be a valid string', "
     "'input': '5'}"),
    ({"stop": ["a", "b", "c", "d", "e"]}, 400, "Bad Request", "body.stop",
     "2 validation errors:\n  {'type': 'string_type', 'loc': 'body.stop', 'msg': 'Input should be a valid string', "
     "'input': '<list of 5 items>'}\n  {'type': 'too_long', 'loc': 'body.stop', 'msg': 'List should have at most 4 "
     "items after validation, not 5', 'input': '<list of 5 items>', 'ctx': {'field_type': 'List', 'max_length': 4, "
     "'actual_length': 5}}"),
    ({"stream_options": {"include_usage": True}}, 400, "BadRequestError", "stream_options",
     "Stream options can only be defined when `stream=True`. (parameter=stream_options)"),
    ({"tools": []}, 400, "BadRequestError", "tools",
     "`tools` must not be an empty array. Either provide at least one tool or omit the field entirely. "
     "(parameter=tools)"),
    ({"tool_choice": "required"}, 400, "BadRequestError", "tool_choice",
     "When using `tool_choice`, `tools` must be set. (parameter=tool_choice)"),
    ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, 400, "BadRequestError",
     "tool_choice",
     "The tool specified in `tool_choice` does not match any of the specified `tools` (parameter=tool_choice)"),
    ({"tools": [TOOL], "tool_choice": "bogus"}, 400, "BadRequestError", "tool_choice",
     'Invalid value for `tool_choice`: bogus! Only named tools, "none", "auto" or "required" are supported. '
     "(parameter=tool_choice)"),
    ({"top_logprobs": 2}, 400, "BadRequestError", "top_logprobs",
     "when using `top_logprobs`, `logprobs` must be set to true. (parameter=top_logprobs)"),
    ({"logprobs": True, "top_logprobs": 25}, 400, "BadRequestError", "logprobs",
     "Requested sample logprobs of 25, which is greater than max allowed: 20 (parameter=logprobs, value=25)"),
    ({"thinking_token_budget": 10}, 400, "BadRequestError", None,
     "thinking_token_budget is set but reasoning_config is not configured. Please set --reasoning-parser and/or "
     "--reasoning-config to use thinking_token_budget."),
    # Both set explicitly: the request model's validator; continue alone (add_generation_prompt
    # defaults to true): transformers' own message, as a real vLLM 0.32 answers.
    ({"continue_final_message": True, "add_generation_prompt": True}, 400, "BadRequestError", None,
     "Cannot set both `continue_final_message` and `add_generation_prompt` to True."),
    ({"continue_final_message": True}, 400, "BadRequestError", None,
     "continue_final_message and add_generation_prompt are not compatible. Use continue_final_message when you "
     "want the model to continue the final message, and add_generation_prompt when you want to add a header that "
     "will prompt it to start a new assistant message instead."),
    ({"messages": []}, 400, "BadRequestError", None,
     "Cannot apply chat template to an empty conversation. Provide at least one message."),
    ({"model": "nope"}, 404, "NotFoundError", "model",
     "The model `nope` does not exist. Valid aliases: sim-chat, sim-vision."),
    ({"sim_fault": "explode"}, 400, "BadRequestError", None,
     "sim_fault: unknown fault 'explode'; known faults: "
     "error-first, error-mid, drop, stall, keepalive, busy, length, abort, 429, 503, load, unconstrained, ramble"),
    (image_message(), 400, "BadRequestError", None, "sim-chat is not a multimodal model"),
    ({"messages": [{"role": "user", "content": [{"type": "file", "file": {}}]}]}, 400, "BadRequestError", "type",
     "Unsupported chat content part type: 'file'. Supported types: audio_embeds, audio_url, image_embeds, image_pil, "
     "image_url, input_audio, input_image, input_text, output_text, prompt_embeds, refusal, text, thinking, "
     "tool_reference, video_embeds, video_url. (parameter=type, value=file)"),
]


@pytest.mark.parametrize(("extra", "status", "type_", "param", "message"), CASES,
                         ids=[f"{i}-{next(iter(c[0]))}" for i, c in enumerate(CASES)])
async def test_invalid_request_gets_vllms_error(sim, http, extra, status, type_, param, message):
    body = {"messages": user("hi"), "max_tokens": 2, **extra}
    reply = await chat(http, sim, body)
    assert reply.status == status
    assert reply.headers["content-type"] == "application/json"
    assert reply.json == {"error": {"message": message, "type": type_, "param": param, "code": status}}


@pytest.mark.parametrize("stream", [False, True])
async def test_errors_before_the_stream_are_real_http_errors_even_when_streaming(sim, http, stream):
    reply = await chat(http, sim, {"messages": user("hi"), "max_tokens": 100000, "stream": stream})
    assert reply.status == 400 and reply.headers["content-type"] == "application/json"


async def test_engine_side_errors_arrive_as_the_first_event_when_streaming(sim, http):
    reply = await chat(http, sim, {"messages": user("hi"), "stream": True, "logprobs": True, "top_logprobs": 25})
    assert reply.status == 200
    assert reply.raw == (
        b'data: {"error": {"message": "Requested sample logprobs of 25, which is greater than max allowed: 20 '
        b'(parameter=logprobs, value=25)", "type": "BadRequestError", "param": "logprobs", "code": 400}}\n\n'
        b"data: [DONE]\n\n"
    )


async def test_prompt_longer_than_the_context_window(make_sim, http):
    server = await make_sim(max_model_len=100)
    reply = await chat(http, server, {"messages": user("word " * 200), "max_tokens": 2})
    assert reply.json["error"] == {
        "message": "This model's maximum context length is 100 tokens. However, your prompt contains at least 101 "
                   "input tokens, which exceeds this limit even without any output tokens. Please reduce the length "
                   "of the input prompt. (parameter=input_tokens, value=101)",
        "type": "BadRequestError", "param": "input_tokens", "code": 400,
    }


async def test_prompt_that_fills_the_window_leaves_no_room_for_output(make_sim, http):
    server = await make_sim(max_model_len=100)
    count = (await request(http, "POST", server.root_url + "/tokenize", {"messages": user("word")})).json["count"]
    reply = await chat(http, server, {"messages": user("word" + " word" * (100 - count))})
    assert reply.json["error"]["message"] == "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)"


async def test_prompt_plus_max_tokens_over_the_window_is_clamped_and_ends_with_length(make_sim, http):
    server = await make_sim(max_model_len=120)
    reply = await chat(http, server, {"messages": user("long 500"), "max_tokens": 110})
    usage = reply.json["usage"]
    assert reply.status == 200
    assert reply.json["choices"][0]["finish_reason"] == "length"
    assert usage["total_tokens"] == 120


@pytest.mark.parametrize(("body", "message"), [
    ('{"model": "sim-chat", "messages": [}',
     "1 validation error:\n  {'type': 'json_invalid', 'loc': 'body.35', 'msg': 'JSON decode error', "
     "'input': '<dict of 0 items>', 'ctx': {'error': 'Expecting value'}}"),
    ("[1, 2]",
     "1 validation error:\n  {'type': 'model_attributes_type', 'loc': 'body', 'msg': 'Input should be a valid "
     "dictionary or object to extract fields from', 'input': '<list of 2 items>'}"),
    ('{"model": "sim-chat", "max_tokens": 4}',
     "1 validation error:\n  {'type': 'missing', 'loc': 'body.messages', 'msg': 'Field required', "
     "'input': '<dict of 2 items>'}"),
])
async def test_malformed_bodies_are_pydantic_style_errors(sim, http, body, message):
    reply = await request(http, "POST", sim.base_url + "/chat/completions", raw=body.encode())
    assert reply.status == 400
    assert reply.json["error"]["message"] == message
    assert reply.json["error"]["type"] == "Bad Request"


async def test_a_message_without_a_role_lists_the_union_failures(sim, http):
    reply = await chat(http, sim, {"messages": [{"content": "hi"}]})
    error = reply.json["error"]
    assert error["message"].startswith("11 validation errors:\n  {'type': 'missing', "
                                       "'loc': 'body.messages.0.ChatCompletionDeveloperMessageParam.role'")
    assert error["message"].endswith("...and 1 more errors")
    assert error["param"] == "body.messages.0.ChatCompletionDeveloperMessageParam.role"


async def test_a_body_that_is_not_declared_json_is_refused(sim, http):
    reply = await request(http, "POST", sim.base_url + "/chat/completions", raw=b'{"messages": []}',
                          headers={"Content-Type": "text/plain"})
    assert reply.json["error"] == {
        "message": "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed",
        "type": "Bad Request", "param": None, "code": 400,
    }


async def test_json_with_a_charset_is_accepted(sim, http):
    reply = await request(http, "POST", sim.base_url + "/chat/completions",
                          raw=b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}',
                          headers={"Content-Type": "application/json; charset=utf-8"})
    assert reply.status == 200


async def test_too_many_images_for_the_limit(make_sim, http):
    server = await make_sim(limit_images=2)
    reply = await chat(http, server, image_message(3, model="sim-vision"))
    assert reply.json["error"] == {
        "message": "At most 2 image(s) may be provided in one prompt. Set `--limit-mm-per-prompt` to increase this "
                   "limit. (parameter=image)",
        "type": "BadRequestError", "param": "image", "code": 400,
    }
    assert (await chat(http, server, image_message(2, model="sim-vision"))).status == 200


async def test_a_data_url_that_is_not_base64_is_not_implemented(sim, http):
    parts = [{"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}]
    reply = await chat(http, sim, {"model": "sim-vision", "messages": [{"role": "user", "content": parts}]})
    assert reply.status == 501
    assert reply.json["error"] == {"message": "Only base64 data URLs are supported for now.",
                                   "type": "NotImplementedError", "param": None, "code": 501}


async def test_broken_base64_is_a_clear_bad_request(sim, http):
    parts = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]
    reply = await chat(http, sim, {"model": "sim-vision", "messages": [{"role": "user", "content": parts}]})
    assert reply.status == 400 and "base64" in reply.json["error"]["message"]


@pytest.mark.parametrize(("choice", "message"), [
    (None, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'),
    ("auto", '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'),
    ("required", 'tool_choice="required" requires --tool-call-parser to be set'),
    ({"type": "function", "function": {"name": "get_weather"}},
     'tool_choice=function "get_weather" requires --tool-call-parser to be set'),
])
async def test_tools_without_auto_tool_choice_are_refused(make_sim, http, choice, message):
    server = await make_sim(auto_tool_choice=False)
    body = {"messages": user("hi"), "tools": [TOOL]}
    if choice is not None:
        body["tool_choice"] = choice
    reply = await chat(http, server, body)
    assert reply.json["error"] == {"message": message, "type": "BadRequestError", "param": None, "code": 400}
    assert (await chat(http, server, {**body, "tool_choice": "none"})).status == 200


async def test_rejected_requests_are_counted_and_recorded(sim, http):
    await chat(http, sim, {"messages": user("hi"), "temperature": 9})
    assert sim.stats.rejected == 1 and sim.stats.requests == 1
    assert sim.stats.last_request_body["temperature"] == 9
