"""How reasoning, tool calls, logprobs, stop strings and the quirks of vLLM's parsers are streamed."""

from __future__ import annotations

import json
import re

from .helpers import chat, user

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME_TOOL = {"type": "function", "function": {
    "name": "datetime", "description": "Current date and time", "parameters": {"type": "object", "properties": {}}}}


# --- reasoning ----------------------------------------------------------------------------------


async def test_reasoning_server_streams_reasoning_then_content(make_sim, http):
    server = await make_sim(reasoning=True, null_content_transition=False)
    reply = await chat(http, server, {"messages": user("hello"), "stream": True,
                                      "stream_options": {"include_usage": True}})
    kinds = [next(iter(d)) for d in reply.deltas()[1:] if d]
    assert kinds[0] == "reasoning" and kinds[-1] == "content"
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning"), "no reasoning after the answer started"
    assert reply.text("reasoning").startswith("\n") and reply.text("reasoning").endswith("\n")
    assert reply.text().startswith("\n\n## Hello")
    usage = reply.chunks[-1]["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == len([k for k in kinds if k == "reasoning"])


async def test_reasoning_ends_with_a_null_content_transition_delta_by_default(make_sim, http):
    server = await make_sim(reasoning=True)
    deltas = (await chat(http, server, {"messages": user("hello"), "stream": True})).deltas()
    transitions = [d for d in deltas if "reasoning" in d and "content" in d]
    assert len(transitions) == 1 and transitions[0]["content"] is None
    assert list(transitions[0]) == ["content", "reasoning"]
    after = deltas[deltas.index(transitions[0]) + 1:]
    assert after and all("reasoning" not in d for d in after)


async def test_legacy_reasoning_content_field(make_sim, http):
    server = await make_sim(reasoning=True, reasoning_field="reasoning_content")
    reply = await chat(http, server, {"messages": user("hello"), "stream": True})
    assert reply.text("reasoning_content") and not reply.text("reasoning")
    whole = await chat(http, server, {"messages": user("hello")})
    message = whole.json["choices"][0]["message"]
    assert message["reasoning_content"] and "reasoning" not in message


async def test_enable_thinking_switches_reasoning_per_request(make_sim, http):
    plain = await make_sim()
    on = await chat(http, plain, {"messages": user("hello"), "chat_template_kwargs": {"enable_thinking": True}})
    assert on.json["choices"][0]["message"]["reasoning"]
    assert on.json["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    thinking = await make_sim(reasoning=True)
    off = await chat(http, thinking, {"messages": user("hello"), "stream": True,
                                      "chat_template_kwargs": {"enable_thinking": False}})
    assert not off.text("reasoning") and off.text().startswith("## Hello")
    effort_none = await chat(http, thinking, {"messages": user("hello"), "reasoning_effort": "none"})
    assert effort_none.json["choices"][0]["message"]["reasoning"] is None


async def test_think_and_no_think_soft_switches(make_sim, http):
    plain = await make_sim()
    on = await chat(http, plain, {"messages": user("/think hello")})
    assert on.json["choices"][0]["message"]["reasoning"]
    thinking = await make_sim(reasoning=True)
    off = await chat(http, thinking, {"messages": user("hello /no_think")})
    assert off.json["choices"][0]["message"]["reasoning"] is None


async def test_include_reasoning_false_hides_reasoning_and_nulls_it_in_content_deltas(make_sim, http):
    server = await make_sim(reasoning=True)
    reply = await chat(http, server, {"messages": user("hello"), "stream": True, "include_reasoning": False})
    pieces = [d for d in reply.deltas()[1:] if d]
    assert pieces and all(list(d) == ["content", "reasoning"] and d["reasoning"] is None for d in pieces)
    whole = await chat(http, server, {"messages": user("hello"), "include_reasoning": False})
    assert whole.json["choices"][0]["message"]["reasoning"] is None


async def test_reasoning_cut_by_max_tokens_leaves_content_null(make_sim, http):
    server = await make_sim(reasoning=True)
    reply = await chat(http, server, {"messages": user("hello"), "max_tokens": 5})
    message = reply.json["choices"][0]["message"]
    assert message["content"] is None and message["reasoning"]
    assert reply.json["choices"][0]["finish_reason"] == "length"


async def test_thinking_token_budget_caps_the_reasoning(make_sim, http):
    server = await make_sim(reasoning=True)
    reply = await chat(http, server, {"messages": user("hello"), "thinking_token_budget": 3})
    assert reply.json["usage"]["completion_tokens_details"]["reasoning_tokens"] == 3


# --- tool calls ---------------------------------------------------------------------------------


async def test_tool_call_deltas_are_framed_like_the_hermes_parser(sim, http):
    reply = await chat(http, sim, {"messages": user("What is the weather in Paris?"), "stream": True,
                                   "tools": [WEATHER_TOOL]})
    deltas = reply.deltas()
    tool_deltas = [d for d in deltas if "tool_calls" in d]
    name = tool_deltas[0]
    assert list(name) == ["content", "tool_calls"] and name["content"] is None
    entry = name["tool_calls"][0]
    assert list(entry) == ["id", "type", "index", "function"] and entry["function"] == {"name": "get_weather"}
    assert re.fullmatch(r"chatcmpl-tool-[0-9a-f]{16}", entry["id"])
    fragments = [d["tool_calls"][0] for d in tool_deltas[1:]]
    assert all(list(f) == ["index", "function"] and list(f["function"]) == ["arguments"] for f in fragments)
    assert json.loads("".join(f["function"]["arguments"] for f in fragments)) == {"city": "Paris"}
    assert reply.text().startswith("Let me check"), "auto tool choice: a sentence before the call"
    assert reply.finish() == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls",
                              "stop_reason": None, "token_ids": None}


async def test_named_tool_choice_finishes_with_stop(sim, http):
    reply = await chat(http, sim, {"messages": user("hi"), "stream": True, "tools": [WEATHER_TOOL, TIME_TOOL],
                                   "tool_choice": {"type": "function", "function": {"name": "datetime"}}})
    assert reply.text() == ""
    assert [d["tool_calls"][0]["function"].get("name") for d in reply.deltas() if "tool_calls" in d][0] == "datetime"
    assert reply.finish()["finish_reason"] == "stop"


async def test_parallel_calls_use_increasing_indices_unless_parallel_calls_are_off(sim, http):
    body = {"messages": user("What is the weather in Rome and what time is it?"), "stream": True,
            "tools": [WEATHER_TOOL, TIME_TOOL]}
    both = await chat(http, sim, body)
    names = [(d["tool_calls"][0]["index"], d["tool_calls"][0]["function"]["name"])
             for d in both.deltas() if "tool_calls" in d and "id" in d["tool_calls"][0]]
    assert names == [(0, "get_weather"), (1, "datetime")]
    one = await chat(http, sim, {**body, "parallel_tool_calls": False})
    assert {d["tool_calls"][0]["index"] for d in one.deltas() if "tool_calls" in d} == {0}


async def test_duplicate_index_quirk_puts_name_and_first_fragment_in_one_delta(make_sim, http):
    server = await make_sim(duplicate_index_tool_deltas=True)
    reply = await chat(http, server, {"messages": user("What is the weather in Paris?"), "stream": True,
                                      "tools": [WEATHER_TOOL]})
    first = next(d for d in reply.deltas() if "tool_calls" in d)
    assert [e["index"] for e in first["tool_calls"]] == [0, 0]
    assert first["tool_calls"][0]["function"] == {"name": "get_weather"}
    assert first["tool_calls"][1] == {"index": 0, "function": {"arguments": '{"'}}


async def test_tool_choice_none_never_calls(sim, http):
    reply = await chat(http, sim, {"messages": user("What is the weather in Paris?"), "tools": [WEATHER_TOOL],
                                   "tool_choice": "none"})
    message = reply.json["choices"][0]["message"]
    assert "tool_calls" not in message and message["content"]
    assert reply.json["choices"][0]["finish_reason"] == "stop"


async def test_a_tool_call_cut_before_its_name_is_dropped(sim, http):
    reply = await chat(http, sim, {"messages": user("weather in Paris"), "stream": True, "max_tokens": 5,
                                   "tools": [WEATHER_TOOL], "tool_choice": "required"})
    assert len(reply.chunks) == 2
    assert reply.finish()["delta"] == {} and reply.finish()["finish_reason"] == "length"


async def test_non_streamed_forced_call_cut_short_returns_the_raw_text(sim, http):
    reply = await chat(http, sim, {"messages": user("weather in Paris"), "max_tokens": 14,
                                   "tools": [WEATHER_TOOL], "tool_choice": "required"})
    message = reply.json["choices"][0]["message"]
    assert message["content"].startswith('<tool_call>\n{"name": "get_weather",')
    assert "tool_calls" not in message


async def test_non_streamed_calls(sim, http):
    auto = await chat(http, sim, {"messages": user("What is the weather in Paris?"), "tools": [WEATHER_TOOL]})
    message = auto.json["choices"][0]["message"]
    assert message["content"].startswith("Let me check")
    assert list(message) == ["role", "content", "refusal", "annotations", "audio", "function_call", "tool_calls",
                             "reasoning"]
    assert message["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    forced = await chat(http, sim, {"messages": user("hi"), "tools": [WEATHER_TOOL], "tool_choice": "required"})
    assert forced.json["choices"][0]["message"]["content"] == ""


# --- logprobs, stop strings, length ----------------------------------------------------------------


async def test_logprobs_are_sent_per_token_with_the_requested_alternatives(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "stream": True, "max_tokens": 3, "logprobs": True,
                                   "top_logprobs": 2})
    entries = [c["choices"][0]["logprobs"] for c in reply.chunks[1:]]
    assert all(list(e["content"][0]) == ["token", "logprob", "bytes", "top_logprobs"] for e in entries)
    assert all(len(e["content"][0]["top_logprobs"]) == 2 for e in entries)
    first = entries[0]["content"][0]
    assert first["bytes"] == list(first["token"].encode()) and first["top_logprobs"][0]["token"] == first["token"]
    whole = await chat(http, sim, {"messages": user("hello"), "max_tokens": 3, "logprobs": True})
    assert [e["top_logprobs"] for e in whole.json["choices"][0]["logprobs"]["content"]] == [[], [], []]


async def test_stop_string_ends_the_reply_with_its_stop_reason(sim, http):
    reply = await chat(http, sim, {"messages": user("echo one two three four"), "stream": True, "stop": ["three"]})
    assert reply.text() == "one two "
    assert reply.finish()["finish_reason"] == "stop" and reply.finish()["stop_reason"] == "three"
    kept = await chat(http, sim, {"messages": user("echo one two three four"), "stop": "three",
                                  "include_stop_str_in_output": True})
    assert kept.json["choices"][0]["message"]["content"] == "one two three"


async def test_ignore_eos_writes_until_max_tokens(sim, http):
    reply = await chat(http, sim, {"messages": user("echo hi"), "max_tokens": 300, "ignore_eos": True})
    assert reply.json["choices"][0]["finish_reason"] == "length"
    assert reply.json["usage"]["completion_tokens"] == 300


async def test_min_tokens_extends_a_short_reply(sim, http):
    reply = await chat(http, sim, {"messages": user("echo hi"), "min_tokens": 50})
    assert reply.json["usage"]["completion_tokens"] >= 50
    assert reply.json["choices"][0]["finish_reason"] == "stop"


async def test_long_reply_has_exactly_the_requested_tokens(sim, http):
    reply = await chat(http, sim, {"messages": user("long 2000"), "stream": True,
                                   "stream_options": {"include_usage": True}})
    content = [d for d in reply.deltas() if d.get("content")]
    assert len(content) == 2000
    assert reply.chunks[-1]["usage"]["completion_tokens"] == 2001, "2000 tokens of text, then EOS"
    text = reply.text()
    for marker in ("\n## ", "\n- ", "\n1. ", "```python", "| Model |", "\n> "):
        assert marker in text, marker
