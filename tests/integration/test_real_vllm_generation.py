"""The generation controls through `ChatSession` against a real vLLM 0.32: replies under a JSON
schema, a choice list and a regex that match (real logits, real structured-output backend),
reasoning controls the server takes, the combination it refuses caught before sending, and a
base model: chat refused with its 400 and recognised, then completion mode streaming
`/v1/completions` with stop strings, continue and usage.

`VLLM_CHAT_REAL_URL` / `VLLM_CHAT_REAL_API_KEY`: the main server (tiny-llama, hermes tool
parser). `VLLM_CHAT_REAL_REASONING_URL`: the server with `--reasoning-parser qwen3`.
`VLLM_CHAT_REAL_BASE_URL`: a model without a chat template (`VR_BASE=1 VR_MODEL_NAME=tiny-base
start.sh PORT`; `.ci/run` starts one); those tests skip when it is unset.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from vllm_chat.core.config import load_settings
from vllm_chat.core.events import Event, TurnFailed, TurnFinished
from vllm_chat.core.generation.constraint_input import (
    choice_constraint,
    regex_constraint,
    schema_constraint,
)
from vllm_chat.core.generation.reasoning import ReasoningControls
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.session import ChatSession

pytestmark = pytest.mark.integration

REAL_URL = os.environ.get("VLLM_CHAT_REAL_URL")
REAL_KEY = os.environ.get("VLLM_CHAT_REAL_API_KEY")
REASONING_URL = os.environ.get("VLLM_CHAT_REAL_REASONING_URL")
BASE_URL = os.environ.get("VLLM_CHAT_REAL_BASE_URL")
MODEL = os.environ.get("VLLM_CHAT_REAL_MODEL", "tiny-llama")
BASE_MODEL = os.environ.get("VLLM_CHAT_REAL_BASE_MODEL", "tiny-base")
needs_real = pytest.mark.skipif(not REAL_URL, reason="set VLLM_CHAT_REAL_URL to a real vLLM server's /v1 URL")
needs_base = pytest.mark.skipif(not BASE_URL, reason="set VLLM_CHAT_REAL_BASE_URL to a real vLLM serving a "
                                                     "model without a chat template (VR_BASE=1 start.sh PORT)")

# Small and tight: the random-weight model pads JSON with whitespace, so a loose schema would
# run into max_tokens (capture round2/01); this one closes well within 600 tokens.
SCHEMA = json.dumps({"title": "reading", "type": "object", "additionalProperties": False,
                     "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]})


def session(url: str | None, model: str = MODEL, key: str | None = None, **settings: Any) -> ChatSession:
    values = {"base_url": url, "model": model, "tools": {"enabled": False}, **settings}
    if key:
        values["api_key"] = key
    return ChatSession(load_settings(values))


async def turn(chat: ChatSession, text: str | None = None, **options: Any) -> Event:
    if text is not None:
        chat.add_user_message(text)
    last = None
    async for event in chat.run(chat.options(**options)):
        last = event
    return last


@needs_real
@pytest.mark.parametrize(("constraint", "seed"), [
    (schema_constraint(SCHEMA), 1),
    (choice_constraint("red, green, blue"), 2),
    (regex_constraint("[A-Z]{3}-[0-9]{2}"), 3),
], ids=["json-schema", "choice", "regex"])
async def test_a_constrained_reply_from_the_real_vllm_matches(constraint, seed: int) -> None:
    chat = session(REAL_URL, key=REAL_KEY, sampling={"max_tokens": 600, "seed": seed, "temperature": 0.8})
    try:
        chat.set_constraint(constraint)
        last = await turn(chat, "answer")
        assert isinstance(last, TurnFinished), getattr(last, "error", None)
        reply = chat.conversation.messages[-1]
        assert reply.finish_reason == "stop", reply.content[:200]
        assert reply.check is not None and reply.check.outcome == "valid", (reply.check, reply.content[:200])
    finally:
        await chat.aclose()


@needs_real
async def test_the_real_vllm_would_refuse_a_constraint_with_a_named_tool_and_nothing_is_sent() -> None:
    from dataclasses import replace

    chat = session(REAL_URL, key=REAL_KEY, tools={"enabled": True})
    try:
        chat.set_constraint(choice_constraint("a,b"))
        chat.add_user_message("x")
        named = {"type": "function", "function": {"name": "calculator"}}
        last = None
        async for event in chat.run(replace(chat.options(), tool_choice=named)):
            last = event
        assert isinstance(last, TurnFailed) and last.error.kind == "conflict"
        assert last.error.details == {"before_sending": True}
    finally:
        await chat.aclose()


@pytest.mark.skipif(not REASONING_URL, reason="set VLLM_CHAT_REAL_REASONING_URL (vLLM with --reasoning-parser)")
@pytest.mark.xdist_group("real-vllm-reasoning")  # the reasoning server
async def test_reasoning_controls_are_taken_by_a_real_reasoning_server() -> None:
    chat = session(REASONING_URL, sampling={"max_tokens": 12})
    try:
        chat.set_reasoning_controls(ReasoningControls(reasoning_effort="low", thinking_token_budget=4,
                                                      chat_template_kwargs={"enable_thinking": True}))
        last = await turn(chat, "hi")
        assert isinstance(last, TurnFinished), getattr(last, "error", None)
        assert chat.conversation.messages[-1].reasoning_controls.reasoning_effort == "low"
        chat.set_reasoning_controls(ReasoningControls(reasoning_effort="extreme"))
        refused = await turn(chat, "hi")
        assert isinstance(refused, TurnFailed)
        assert refused.error.details["accepted"] == ["none", "minimal", "low", "medium", "high", "xhigh", "max"]
    finally:
        await chat.aclose()


@needs_real
async def test_a_thinking_budget_on_a_real_server_without_a_reasoning_parser_is_explained() -> None:
    chat = session(REAL_URL, key=REAL_KEY, sampling={"max_tokens": 4})
    try:
        chat.set_reasoning_controls(ReasoningControls(thinking_token_budget=8))
        last = await turn(chat, "hi")
        assert isinstance(last, TurnFailed)
        assert "started without a reasoning parser" in last.error.message
    finally:
        await chat.aclose()


@needs_base
async def test_a_real_base_model_refuses_chat_and_completion_mode_streams_a_completion() -> None:
    chat = session(BASE_URL, model=BASE_MODEL)
    try:
        await chat.connect()
        failed = await turn(chat, "def fibonacci(n):")
        assert isinstance(failed, TurnFailed) and failed.error.kind == "no_chat_template"
        assert chat.rewind_to_last_user()
        chat.set_completion_mode(True)
        chat.set_params(SamplingParams(max_tokens=12, seed=5))
        finished = await turn(chat)
        assert isinstance(finished, TurnFinished), getattr(finished, "error", None)
        reply = chat.conversation.messages[-1]
        assert reply.content and reply.finish_reason in ("length", "stop")
        assert reply.usage is not None and reply.usage.completion_tokens > 0
        assert reply.timings is not None and reply.timings.ttft is not None
        before = reply.content
        await turn(chat, continue_last=True)
        assert chat.conversation.messages[-1] is reply and reply.content.startswith(before)
        assert len(reply.content) > len(before)
    finally:
        await chat.aclose()


@needs_base
async def test_a_real_completion_without_max_tokens_runs_past_the_endpoints_16_token_default() -> None:
    chat = session(BASE_URL, model=BASE_MODEL, completion=True, sampling={"stop": ["zzzq"], "seed": 3})
    try:
        finished = await turn(chat, "Once upon a time")
        assert isinstance(finished, TurnFinished), getattr(finished, "error", None)
        assert chat.conversation.messages[-1].usage.completion_tokens > 16
    finally:
        await chat.aclose()
