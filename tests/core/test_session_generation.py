"""The session's generation controls against the simulated vLLM: each reply checked against
the constraint its request carried (and saved with it), reasoning controls on the wire and
in the reply, completion mode for a base model through the same turn path (stop, continue,
regenerate), a model's chat template from the config, and vLLM's refusals explained."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from vllm_chat.core.config import load_settings
from vllm_chat.core.events import (
    ContentDelta,
    Event,
    TurnFailed,
    TurnFinished,
    TurnStopped,
)
from vllm_chat.core.generation.constraint_input import (
    choice_constraint,
    regex_constraint,
    schema_constraint,
)
from vllm_chat.core.generation.reasoning import ReasoningControls
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer

PERSON = json.dumps({"title": "person", "type": "object", "required": ["name", "age"],
                     "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}})
TEMPLATE = "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}<assistant>"


@pytest.fixture
async def server() -> AsyncIterator[SimServer]:
    config = SimConfig(tps=0, ttft=0, models=("sim-chat", "sim-base"), base_models=("sim-base",))
    async with SimServer(config) as sim:
        yield sim


def session_on(sim: SimServer, model: str = "sim-chat", store: SessionStore | None = None,
               **settings: Any) -> ChatSession:
    settings = {"base_url": sim.base_url, "model": model, **settings}
    return ChatSession(load_settings(settings), store=store)


async def turn(session: ChatSession, text: str | None = None, **options: Any) -> Event:
    if text is not None:
        session.add_user_message(text)
    last = None
    async for event in session.run(session.options(**options)):
        last = event
    return last


# -- structured outputs ---------------------------------------------------------------------


async def test_a_reply_under_a_schema_is_checked_and_the_check_is_saved_with_it(server: SimServer) -> None:
    store = SessionStore()
    session = session_on(server, store=store)
    session.set_constraint(schema_constraint(PERSON))
    assert isinstance(await turn(session, "a person"), TurnFinished)
    sent = server.stats.last_request_body
    assert sent["response_format"]["json_schema"]["name"] == "person"
    reply = session.conversation.messages[-1]
    assert reply.check is not None and reply.check.badge == "valid against person"
    saved = store.load(session.conversation.id)
    assert saved.constraint == session.constraint and saved.messages[-1].check == reply.check
    assert session.status().constraint == "json: person"


async def test_a_server_that_ignores_the_constraint_is_reported_as_such(server: SimServer) -> None:
    session = session_on(server)
    session.set_constraint(regex_constraint("[A-Z]{3}-[0-9]{2}"))
    await turn(session, "a code sim:unconstrained")
    check = session.conversation.messages[-1].check
    assert check is not None and check.outcome == "invalid"
    assert check.server_ignored is not None and "so the server ignored it" in check.server_ignored


async def test_a_constrained_reply_cut_at_max_tokens_is_cut_not_a_mismatch(server: SimServer) -> None:
    session = session_on(server)
    session.set_constraint(schema_constraint(PERSON))
    session.set_params(SamplingParams(max_tokens=6))
    await turn(session, "someone sim:ramble")
    reply = session.conversation.messages[-1]
    assert reply.finish_reason == "length"
    assert reply.check is not None and reply.check.outcome == "cut"


async def test_a_choice_reply_matches_and_the_next_turn_without_a_constraint_is_not_checked(
        server: SimServer) -> None:
    session = session_on(server)
    session.set_constraint(choice_constraint("red, blue"))
    await turn(session, "pick blue")
    assert session.conversation.messages[-1].content == "blue"
    assert session.conversation.messages[-1].check.outcome == "valid"
    session.set_constraint(None)
    await turn(session, "hi")
    assert session.conversation.messages[-1].check is None
    assert "structured_outputs" not in server.stats.last_request_body


async def test_a_named_tool_with_a_constraint_fails_before_anything_is_sent(server: SimServer) -> None:
    session = session_on(server)
    session.set_constraint(choice_constraint("a,b"))
    await session.connect()
    before = server.stats.requests
    session.add_user_message("x")
    named = {"type": "function", "function": {"name": "calculator"}}
    from dataclasses import replace

    last = None
    async for event in session.run(replace(session.options(), tool_choice=named)):
        last = event
    assert isinstance(last, TurnFailed) and last.error.kind == "conflict"
    assert server.stats.requests == before
    assert session.conversation.messages[-1].failure.kind == "conflict"


# -- reasoning controls --------------------------------------------------------------------


async def test_reasoning_controls_go_out_and_are_written_on_the_reply(make_thinker) -> None:
    session = session_on(make_thinker)
    session.set_reasoning_controls(ReasoningControls(reasoning_effort="high", include_reasoning=False,
                                                     chat_template_kwargs={"custom": 1}))
    await turn(session, "why is the sky blue?")
    sent = make_thinker.stats.last_request_body
    assert (sent["reasoning_effort"], sent["include_reasoning"], sent["chat_template_kwargs"]) == \
        ("high", False, {"custom": 1})
    reply = session.conversation.messages[-1]
    assert reply.reasoning is None and reply.content  # include_reasoning false: the server kept it back
    assert reply.reasoning_controls == session.reasoning_controls
    assert session.status().reasoning == "effort high · reasoning omitted · template custom=1"


@pytest.fixture
async def make_thinker() -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig(tps=0, ttft=0, reasoning=True)) as sim:
        yield sim


async def test_a_thinking_budget_on_a_server_without_a_reasoning_parser_is_explained(server: SimServer) -> None:
    session = session_on(server)
    session.set_reasoning_controls(ReasoningControls(thinking_token_budget=10))
    last = await turn(session, "hi")
    assert isinstance(last, TurnFailed)
    assert last.error.message == ("The server can't apply thinking_token_budget: it was started without a "
                                  "reasoning parser.")


async def test_a_reasoning_effort_the_server_refuses_names_the_values_it_takes(server: SimServer) -> None:
    session = session_on(server)
    session.set_reasoning_controls(ReasoningControls(reasoning_effort="extreme"))
    last = await turn(session, "hi")
    assert isinstance(last, TurnFailed)
    assert last.error.details["accepted"] == ["none", "minimal", "low", "medium", "high", "xhigh", "max"]
    assert "it takes none, minimal, low, medium, high, xhigh, max" in last.error.message


async def test_the_settings_seed_new_conversations_with_the_controls(server: SimServer) -> None:
    session = session_on(server, reasoning={"reasoning_effort": "low"}, completion=True,
                         constraint={"kind": "choice", "choices": ["a", "b"]})
    conv = session.new_conversation()
    assert (conv.kind, conv.reasoning_controls.reasoning_effort, conv.constraint.choices) == \
        ("completion", "low", ["a", "b"])


# -- base models and completion mode ------------------------------------------------------


async def test_chat_with_a_base_model_is_recognised_and_completion_mode_answers(server: SimServer) -> None:
    store = SessionStore()
    session = session_on(server, model="sim-base", store=store)
    await session.connect()
    failed = await turn(session, "Once upon a time")
    assert isinstance(failed, TurnFailed) and failed.error.kind == "no_chat_template"
    assert failed.error.actions == ("completion-mode",)
    assert session.rewind_to_last_user()
    session.set_completion_mode(True)
    finished = await turn(session)
    assert isinstance(finished, TurnFinished)
    sent = server.stats.last_request_body
    assert sent["prompt"] == "Once upon a time" and "messages" not in sent
    reply = session.conversation.messages[-1]
    assert reply.content and reply.finish_reason in ("stop", "length") and reply.usage is not None
    assert sent["max_tokens"] + reply.usage.prompt_tokens == session.context_window, "the rest of the window"
    assert reply.reply_limit is None, "getting the rest of the window is no shortfall to report"
    saved = json.loads(store.path_for(session.conversation.id).read_text())
    assert saved["kind"] == "completion" and session.status().completion_mode


async def test_a_completion_sent_before_the_model_list_came_still_gets_the_rest_of_the_window(
        server: SimServer) -> None:
    session = session_on(server, model="sim-base", completion=True)
    assert session.context_window is None
    await turn(session, "long 200")
    usage = session.conversation.messages[-1].usage
    assert usage is not None and session.context_window == 32768
    assert server.stats.last_request_body["max_tokens"] + usage.prompt_tokens == 32768
    assert len(session.conversation.messages[-1].content) > 200, "not cut after 16 tokens"


async def test_completion_mode_continues_stops_and_regenerates_like_chat(server: SimServer) -> None:
    session = session_on(server, model="sim-base", completion=True)
    session.set_params(SamplingParams(max_tokens=5))
    await turn(session, "The cat")
    first = session.conversation.messages[-1]
    assert first.finish_reason == "length" and session.can_continue()
    before = first.content
    await turn(session, continue_last=True)
    assert session.conversation.messages[-1] is first and first.content.startswith(before)
    assert len(first.content) > len(before)
    assert server.stats.last_request_body["prompt"] == "The cat" + before
    assert session.rewind_to_last_user()
    await turn(session)
    assert session.alternatives(session.conversation.messages[-1].id) == (2, 2)


async def test_stopping_a_completion_keeps_what_arrived(make_slow) -> None:
    session = session_on(make_slow, model="sim-base", completion=True)
    session.add_user_message("long 500")
    pieces = 0
    async for event in session.run():
        pieces += isinstance(event, ContentDelta)
        if pieces == 3:
            session.stop()
        last = event
    assert isinstance(last, TurnStopped)
    reply = session.conversation.messages[-1]
    assert reply.status == "stopped" and reply.content and len(reply.content) < 500
    assert session.can_continue()


@pytest.fixture
async def make_slow() -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig(tps=50, ttft=0.05, models=("sim-base",), base_models=("sim-base",))) as sim:
        yield sim


async def test_a_models_chat_template_from_the_config_lets_a_base_model_chat(make_trusting) -> None:
    session = session_on(make_trusting, model="sim-base", models={"sim-base": {"chat_template": TEMPLATE}})
    assert isinstance(await turn(session, "hi"), TurnFinished)
    assert make_trusting.stats.last_request_body["chat_template"] == TEMPLATE


@pytest.fixture
async def make_trusting() -> AsyncIterator[SimServer]:
    config = SimConfig(tps=0, ttft=0, models=("sim-base",), base_models=("sim-base",),
                       trust_request_chat_template=True)
    async with SimServer(config) as sim:
        yield sim


async def test_a_chat_template_on_a_server_that_does_not_trust_it_is_explained(server: SimServer) -> None:
    session = session_on(server, model="sim-base", models={"sim-base": {"chat_template": TEMPLATE}})
    last = await turn(session, "hi")
    assert isinstance(last, TurnFailed) and last.error.kind == "untrusted_template"
    assert "--trust-request-chat-template" in last.error.hint
