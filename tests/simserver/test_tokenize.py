"""`/tokenize` counts what a chat request will cost, exactly: every form of request the chat
endpoint accepts gives the `usage.prompt_tokens` of that chat request."""

from __future__ import annotations

import pytest

from .helpers import chat, request, user

PNG_1X1 = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAAB"
           "JRU5ErkJggg==")
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
TOOL_ROUND = [
    {"role": "system", "content": "You are terse."},
    *user("weather in Paris?"),
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'},
]
CASES = {
    "plain": {"messages": user("What is the weather in Paris?")},
    "tools": {"messages": user("What is the weather in Paris?"), "tools": TOOLS},
    "tool round": {"messages": TOOL_ROUND, "tools": TOOLS},
    "thinking off": {"messages": user("hi"), "chat_template_kwargs": {"enable_thinking": False}},
    "thinking off, other spelling": {"messages": user("hi"), "chat_template_kwargs": {"thinking": False}},
    "no generation prompt": {"messages": user("hi"), "add_generation_prompt": False},
    "continue": {"messages": [*user("hi"), {"role": "assistant", "content": "Hello, I"}],
                 "add_generation_prompt": False, "continue_final_message": True},
    "image": {"model": "sim-vision", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": PNG_1X1}}]}]},
}


@pytest.mark.parametrize("body", CASES.values(), ids=CASES.keys())
async def test_the_count_equals_the_chat_requests_prompt_tokens(sim, http, body):
    counted = await request(http, "POST", sim.root_url + "/tokenize", body)
    used = await chat(http, sim, {**body, "max_tokens": 1})
    assert counted.status == used.status == 200, (counted.raw, used.raw)
    assert counted.json["count"] == used.json["usage"]["prompt_tokens"]


async def test_reasoning_effort_changes_the_chat_prompt_but_tokenize_ignores_it(sim, http):
    # vLLM maps reasoning_effort to enable_thinking for chat only; /tokenize needs the kwargs.
    plain = (await request(http, "POST", sim.root_url + "/tokenize", {"messages": user("hi")})).json["count"]
    off = await chat(http, sim, {"messages": user("hi"), "reasoning_effort": "none", "max_tokens": 1})
    assert off.json["usage"]["prompt_tokens"] > plain, "an empty think block closes the generation prompt"
    with_kwargs = await request(http, "POST", sim.root_url + "/tokenize",
                                {"messages": user("hi"), "chat_template_kwargs": {"enable_thinking": False}})
    assert with_kwargs.json["count"] == off.json["usage"]["prompt_tokens"]


async def test_token_strings_show_the_template_and_byte_level_pieces(sim, http):
    reply = await request(http, "POST", sim.root_url + "/tokenize",
                          {"messages": user("hello there"), "return_token_strs": True})
    assert reply.json["token_strs"] == ["<|im_start|>", "user", "Ċ", "hello", "Ġthere", "<|im_end|>", "Ċ",
                                        "<|im_start|>", "assistant", "Ċ"]
    assert reply.json["tokens"][0] == reply.json["tokens"][7] == 1, "special tokens have small fixed ids"


async def test_an_empty_tools_list_is_accepted_by_tokenize(sim, http):
    counted = await request(http, "POST", sim.root_url + "/tokenize", {"messages": user("hi"), "tools": []})
    plain = await request(http, "POST", sim.root_url + "/tokenize", {"messages": user("hi")})
    assert counted.json == plain.json


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"messages": []}, 400, "Cannot apply chat template to an empty conversation. Provide at least one message."),
    ({"messages": user("hi"), "continue_final_message": True, "add_generation_prompt": True}, 400,
     "Cannot set both `continue_final_message` and `add_generation_prompt` to True."),
    ({"messages": user("hi"), "continue_final_message": True}, 400,
     "continue_final_message and add_generation_prompt are not compatible. Use continue_final_message when you want "
     "the model to continue the final message, and add_generation_prompt when you want to add a header that will "
     "prompt it to start a new assistant message instead."),
    ({"model": "nope", "prompt": "x"}, 404, "The model `nope` does not exist. Valid aliases: sim-chat, sim-vision."),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG_1X1}}]}]}, 400,
     "sim-chat is not a multimodal model"),
    ({"messages": user("hi"), "chat_template": "{{ messages }}"}, 400,
     "Chat template is passed with request, but --trust-request-chat-template is not set. Refused request with "
     "untrusted chat template."),
])
async def test_tokenize_refuses_what_vllm_refuses(sim, http, body, status, message):
    reply = await request(http, "POST", sim.root_url + "/tokenize", body)
    assert (reply.status, reply.json["error"]["message"]) == (status, message)


async def test_tokenize_checks_no_context_window(make_sim, http):
    server = await make_sim(max_model_len=64)
    reply = await request(http, "POST", server.root_url + "/tokenize", {"prompt": "word " * 199 + "word"})
    assert reply.status == 200 and reply.json["count"] == 200 and reply.json["max_model_len"] == 64


async def test_detokenize_decodes_what_tokenize_produced_and_nothing_else(sim, http):
    tokens = (await request(http, "POST", sim.root_url + "/tokenize", {"messages": user("round trip")})).json["tokens"]
    text = (await request(http, "POST", sim.root_url + "/detokenize", {"tokens": tokens})).json["prompt"]
    assert text == "<|im_start|>user\nround trip<|im_end|>\n<|im_start|>assistant\n"
    assert (await request(http, "POST", sim.root_url + "/detokenize", {"tokens": [99999999]})).json == {"prompt": ""}
