"""Reasoning controls vLLM 0.32 accepts, on the simulated server: `reasoning_effort`,
`include_reasoning`, `thinking_token_budget` and `chat_template_kwargs`."""

from __future__ import annotations

import pytest

from vllm_chat.simserver import tokenizer

from .helpers import chat, user


@pytest.fixture
async def thinker(make_sim):
    return await make_sim(reasoning=True)


def reasoning_of(reply) -> str | None:
    return reply.json["choices"][0]["message"]["reasoning"]


async def test_reasoning_effort_scales_the_reasoning(thinker, http):
    low, medium, high = [reasoning_of(await chat(http, thinker, {"messages": user("why is the sky blue?"),
                                                                  "reasoning_effort": effort}))
                         for effort in ("low", "medium", "high")]
    assert len(low) < len(medium) < len(high)
    assert "Check 1:" in high and "Check 1:" not in medium


async def test_reasoning_effort_none_switches_thinking_off(thinker, http):
    reply = await chat(http, thinker, {"messages": user("hi"), "reasoning_effort": "none"})
    assert reasoning_of(reply) is None and reply.json["choices"][0]["message"]["content"]


async def test_reasoning_effort_on_a_server_without_a_parser_is_accepted_and_changes_nothing(sim, http):
    reply = await chat(http, sim, {"messages": user("hi"), "reasoning_effort": "low", "max_tokens": 5})
    assert reply.status == 200 and reasoning_of(reply) is None
    assert reply.json["usage"]["completion_tokens_details"] is None


async def test_an_unknown_reasoning_effort_is_a_validation_error(sim, http):
    reply = await chat(http, sim, {"messages": user("hi"), "reasoning_effort": "extreme"})
    assert reply.json["error"] == {
        "message": "1 validation error:\n  {'type': 'literal_error', 'loc': 'body.reasoning_effort', "
                   "'msg': \"Input should be 'none', 'minimal', 'low', 'medium', 'high', 'xhigh' or 'max'\", "
                   "'input': 'extreme', 'ctx': {'expected': \"'none', 'minimal', 'low', 'medium', 'high', 'xhigh' "
                   "or 'max'\"}}",
        "type": "Bad Request", "param": "body.reasoning_effort", "code": 400,
    }


async def test_include_reasoning_false_leaves_the_reasoning_out_but_counts_it(thinker, http):
    reply = await chat(http, thinker, {"messages": user("echo fine"), "include_reasoning": False})
    message = reply.json["choices"][0]["message"]
    assert message["reasoning"] is None and message["content"].strip() == "fine"
    assert reply.json["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    streamed = await chat(http, thinker, {"messages": user("echo fine"), "include_reasoning": False, "stream": True})
    assert streamed.text("reasoning") == "" and streamed.text().strip() == "fine"


async def test_thinking_token_budget_cuts_the_reasoning(thinker, http):
    reply = await chat(http, thinker, {"messages": user("why is the sky blue?"), "thinking_token_budget": 3})
    assert len(tokenizer.tokenize(reasoning_of(reply))) == 3
    unlimited = await chat(http, thinker, {"messages": user("why is the sky blue?"), "thinking_token_budget": -1})
    assert len(tokenizer.tokenize(reasoning_of(unlimited))) > 3


@pytest.mark.parametrize("budget", [-2, 1.5, True, "3"])
async def test_a_bad_thinking_token_budget_is_refused(thinker, http, budget):
    reply = await chat(http, thinker, {"messages": user("hi"), "thinking_token_budget": budget})
    assert reply.json["error"] == {
        "message": "`thinking_token_budget` must be a non-negative integer or -1 for unlimited. "
                   f"(parameter=thinking_token_budget, value={budget})",
        "type": "BadRequestError", "param": "thinking_token_budget", "code": 400,
    }


@pytest.mark.parametrize("kwargs", [{"enable_thinking": False}, {"thinking": False}])
async def test_template_kwargs_switch_thinking_off_in_either_spelling(thinker, http, kwargs):
    reply = await chat(http, thinker, {"messages": user("hi"), "chat_template_kwargs": kwargs})
    assert reasoning_of(reply) is None

