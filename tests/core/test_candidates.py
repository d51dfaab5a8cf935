"""Several replies to one turn: N candidates (`n`, beam search) and model comparisons stream
side by side through `ChatSession`, every reply is an alternative of the same message from
the start (saved as it arrives), and picking one shows it and continues with it."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TEST_API_KEY
from vllm_chat.core.config import load_settings
from vllm_chat.core.events import (
    CandidateEvent,
    CandidatesDone,
    CandidatesStarted,
    ContentDelta,
    ToolResult,
    TurnFailed,
    TurnFinished,
    TurnStopped,
)
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer

LORAS = {"sim-chat-terse": "sim-chat"}


def session_for(server: SimServer, *, store: SessionStore | None = None, **settings: object) -> ChatSession:
    return ChatSession(load_settings({"base_url": server.base_url, "api_key": TEST_API_KEY, "model": "sim-chat",
                                      **settings}), store=store)


async def collect(session: ChatSession, plan) -> list:
    return [event async for event in session.run_candidates(plan)]


def slot_events(events: list, kind: type) -> list[int]:
    return [e.slot for e in events if isinstance(e, CandidateEvent) and isinstance(e.event, kind)]


def on_disk(store: SessionStore, session: ChatSession) -> dict:
    return json.loads(store.path_for(session.conversation.id).read_text())


async def test_three_candidates_stream_interleaved_each_with_its_own_figures_and_stay_as_alternatives() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, tps=300)) as server:
        store = SessionStore()
        session = session_for(server, store=store)
        prompt = session.add_user_message("Tell me about paged attention")
        events = await collect(session, session.plan_candidates(3))
        await session.aclose()

    assert isinstance(events[0], CandidatesStarted) and isinstance(events[-1], CandidatesDone)
    deltas = slot_events(events, ContentDelta)
    assert set(deltas) == {0, 1, 2}
    assert deltas.index(1) < len(deltas) - 1 - deltas[::-1].index(0), "the choices interleave in one stream"
    assert sorted(slot_events(events, TurnFinished)) == [0, 1, 2]

    figures = session.status().candidates
    assert [c.label for c in figures] == ["#1", "#2", "#3"]
    replies = events[-1].messages
    for figure, reply in zip(figures, replies, strict=True):
        assert figure.state == "done" and figure.message_id == reply.id
        assert figure.tokens == reply.usage.completion_tokens > 0, "each candidate counts its own tokens"
        assert figure.ttft is not None and reply.timings.ttft is not None
        assert reply.parent_id == prompt.id and reply.content
    assert len({r.content for r in replies}) > 1, "the candidates differ"
    assert session.versions() == {replies[0].id: (1, 3)}

    doc = on_disk(store, session)
    assert doc["messages"][-1]["id"] == replies[0].id
    assert {m["id"] for m in doc["aside"]} == {replies[1].id, replies[2].id}


async def test_picking_a_candidate_shows_it_and_keeps_the_others_as_its_alternatives() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        store = SessionStore()
        session = session_for(server, store=store)
        session.add_user_message("hello")
        events = await collect(session, session.plan_candidates(3))
        second = events[-1].messages[1]
        needs_turn = session.pick_candidate(second.id)
        await session.aclose()

    assert needs_turn is False, "a reply without tool calls needs no further turn"
    assert session.conversation.messages[-1] is second
    assert session.versions() == {second.id: (2, 3)}
    assert session.status().candidates == (), "the group's figures are gone once one is picked"
    doc = on_disk(store, session)
    assert doc["messages"][-1]["id"] == second.id and len(doc["aside"]) == 2


async def test_beam_search_candidates_arrive_whole_with_their_own_token_counts() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        session = session_for(server)
        session.add_user_message("hello")
        events = await collect(session, session.plan_candidates(2, beam=True))
        await session.aclose()

    assert slot_events(events, ContentDelta) == [0, 1], "each beam comes in one piece"
    figures = session.status().candidates
    assert [c.label for c in figures] == ["beam 1", "beam 2"]
    for figure, reply in zip(figures, events[-1].messages, strict=True):
        assert figure.tokens == reply.usage.completion_tokens > 1


async def test_n_candidates_are_sent_without_tools_so_no_candidate_asks_for_a_call() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        session = session_for(server)
        assert session.tools_on
        session.add_user_message("calculate 2+3")
        events = await collect(session, session.plan_candidates(2))
        await session.aclose()
    assert all(not m.tool_calls and m.content for m in events[-1].messages)


async def test_a_comparison_streams_every_model_and_a_failing_model_fails_only_its_own_column() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, loras=LORAS, tps=300)) as server:
        store = SessionStore()
        session = session_for(server, store=store)
        session.add_user_message("hello")
        events = await collect(session, session.plan_comparison(["sim-chat", "sim-chat-terse", "retired-model"]))
        await session.aclose()

    assert sorted(slot_events(events, TurnFinished)) == [0, 1]
    failed = [e.event for e in events if isinstance(e, CandidateEvent) and isinstance(e.event, TurnFailed)]
    assert [f.error.kind for f in failed] == ["unknown_model"]
    figures = session.status().candidates
    assert [(c.label, c.state) for c in figures] == [
        ("sim-chat", "done"), ("sim-chat-terse", "done"), ("retired-model", "failed")]
    assert "retired-model" in figures[2].error
    replies = events[-1].messages
    assert [m.model for m in replies] == ["sim-chat", "sim-chat-terse", "retired-model"]
    assert replies[2].failure is not None, "the failure is kept with its reply"
    assert all(r.usage is not None and figure.tokens == r.usage.completion_tokens
               for r, figure in zip(replies[:2], figures[:2], strict=True))
    assert len(on_disk(store, session)["aside"]) == 2


async def test_picking_a_compared_reply_that_asked_for_a_tool_runs_its_calls_then_the_model_answers() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, loras=LORAS)) as server:
        session = session_for(server)
        session.add_user_message("calculate 2+3")
        events = await collect(session, session.plan_comparison(["sim-chat", "sim-chat-terse"]))
        replies = events[-1].messages
        assert all(r.tool_calls for r in replies), "a comparison offers the tools"
        assert not any(m.role == "tool" for m in session.conversation.messages), "no candidate's calls ran"
        assert session.pick_candidate(replies[1].id) is True
        assert session.conversation.model == "sim-chat-terse", "the picked model is the one to continue with"
        turn = [event async for event in session.run_picked()]
        await session.aclose()

    assert any(isinstance(e, ToolResult) for e in turn) and isinstance(turn[-1], TurnFinished)
    roles = [m.role for m in session.conversation.messages]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert session.conversation.messages[1] is replies[1]
    assert "5" in session.conversation.messages[2].content


async def test_stopping_stops_every_candidate_and_keeps_what_arrived() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, tps=40)) as server:
        store = SessionStore()
        session = session_for(server, store=store)
        session.add_user_message("Tell me about paged attention")
        events = []
        async for event in session.run_candidates(session.plan_candidates(2)):
            events.append(event)
            if len(set(slot_events(events, ContentDelta))) == 2 and len(slot_events(events, ContentDelta)) > 6:
                session.stop()
        await session.aclose()

    assert isinstance(events[-1], CandidatesDone) and events[-1].stopped
    assert sorted(slot_events(events, TurnStopped)) == [0, 1]
    for reply in events[-1].messages:
        assert reply.status == "stopped" and reply.content
    doc = on_disk(store, session)
    assert [m["status"] for m in doc["aside"]] == ["stopped"]
    assert doc["messages"][-1]["status"] == "stopped"


async def test_a_regenerated_turn_answered_by_candidates_keeps_the_earlier_reply_as_version_1() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        session = session_for(server)
        session.add_user_message("hello")
        [event async for event in session.run()]
        earlier = session.conversation.messages[-1]
        assert session.rewind_to_last_user()
        events = await collect(session, session.plan_candidates(2))
        await session.aclose()
    first = events[-1].messages[0]
    assert session.versions() == {first.id: (2, 3)}
    assert session.pick_candidate(earlier.id) is False, "any alternative can be picked"
    assert session.conversation.messages[-1] is earlier


async def test_when_the_request_fails_every_candidate_fails_with_the_same_explanation() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        session = session_for(server, model="retired-model")
        session.add_user_message("hello")
        events = await collect(session, session.plan_candidates(2))
        await session.aclose()
    failed = [e.event for e in events if isinstance(e, CandidateEvent) and isinstance(e.event, TurnFailed)]
    assert [f.error.kind for f in failed] == ["unknown_model", "unknown_model"]
    assert all(c.state == "failed" for c in session.status().candidates)


def test_bad_requests_for_candidates_say_what_to_change() -> None:
    session = ChatSession(load_settings({"model": "m"}))
    for count in (1, 9):
        with pytest.raises(ValueError, match="2 to 8"):
            session.plan_candidates(count)
    with pytest.raises(ValueError, match="at least two models"):
        session.plan_comparison(["m"])
    with pytest.raises(ValueError, match="at most 4"):
        session.plan_comparison(["a", "b", "c", "d", "e"])
    with pytest.raises(ValueError, match="picked twice"):
        session.plan_comparison(["a", "a"])
    session.set_params(session.conversation.params.model_copy(update={"temperature": 0}))
    with pytest.raises(ValueError, match="temperature 0"):
        session.plan_candidates(3)
    assert session.plan_candidates(3, beam=True).mode == "beam", "beam search is deterministic by design"


async def test_candidates_need_a_prompt_to_answer() -> None:
    session = ChatSession(load_settings({"model": "m"}))
    with pytest.raises(ValueError, match="no prompt"):
        await collect(session, session.plan_candidates(2))


def test_the_last_reply_offers_candidates_and_a_comparison_next_to_regenerate() -> None:
    session = ChatSession(load_settings({"model": "m"}))
    session.add_user_message("q")
    reply = session.conversation.add(session.conversation.messages[0].model_copy(
        update={"id": "r1", "role": "assistant", "content": "a"}))
    actions = session.actions_for(reply.id)
    at = actions.index("regenerate")
    assert actions[at:at + 3] == ["regenerate", "candidates", "compare"]


async def test_a_candidate_that_ended_before_the_stop_stays_complete() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, tps=60)) as server:
        session = session_for(server)
        session.add_user_message("hello")  # the second wording is much shorter than the first
        events = []
        async for event in session.run_candidates(session.plan_candidates(2)):
            events.append(event)
            figures = session.status().candidates
            if figures and figures[1].state == "done" and figures[0].state == "streaming":
                session.stop()
        await session.aclose()
    first, second = events[-1].messages
    assert events[-1].stopped
    assert (first.status, second.status) == ("stopped", "complete")
    assert second.finish_reason == "stop" and slot_events(events, TurnFinished) == [1]


async def test_every_candidate_is_checked_against_the_constraint_like_a_single_reply() -> None:
    from vllm_chat.core.generation.constraint_input import regex_constraint

    async with SimServer(SimConfig(api_key=TEST_API_KEY, tps=0, ttft=0)) as server:
        session = session_for(server)
        session.set_constraint(regex_constraint("[A-Z]{3}-[0-9]{2}"))
        session.add_user_message("a code")
        await collect(session, session.plan_candidates(2))
        kept = [m for m in (*session.conversation.messages, *session.conversation.aside) if m.role == "assistant"]
        assert len(kept) == 2 and all(m.check is not None and m.check.outcome == "valid" for m in kept)
        session.add_user_message("another code sim:unconstrained")
        events = await collect(session, session.plan_candidates(2))
        await session.aclose()
    ignored = events[-1].messages
    assert all(m.check is not None and m.check.outcome == "invalid" for m in ignored), \
        "a candidate the server did not constrain is flagged, as a single reply is"


async def test_a_compared_model_is_sent_its_own_chat_template_not_the_conversation_models() -> None:
    template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}<assistant>"
    config = SimConfig(api_key=TEST_API_KEY, tps=0, ttft=0, models=("sim-base", "sim-chat"),
                       base_models=("sim-base",), trust_request_chat_template=True)
    async with SimServer(config) as server:
        session = session_for(server, model="sim-base", models={"sim-base": {"chat_template": template}})
        session.add_user_message("hello")
        events = await collect(session, session.plan_comparison(["sim-base", "sim-chat"]))
        await session.aclose()
        sent = {body["model"]: body for body in server.stats.recent_request_bodies if isinstance(body, dict)}
    assert sorted(slot_events(events, TurnFinished)) == [0, 1], "both models answer"
    assert sent["sim-base"].get("chat_template") == template
    assert "chat_template" not in sent["sim-chat"], "the chat model keeps its own template"


async def test_a_regenerated_turn_can_be_answered_by_a_comparison_and_the_earlier_reply_stays() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, loras=LORAS)) as server:
        session = session_for(server)
        session.add_user_message("hello")
        [event async for event in session.run()]
        earlier = session.conversation.messages[-1]
        assert session.rewind_to_last_user()
        events = await collect(session, session.plan_comparison(["sim-chat", "sim-chat-terse"]))
        await session.aclose()
    replies = events[-1].messages
    assert [m.model for m in replies] == ["sim-chat", "sim-chat-terse"]
    assert session.versions() == {replies[0].id: (2, 3)}, "the earlier reply is version 1"
    assert session.pick_candidate(replies[1].id) is False, "no tool call waits to run"
    assert session.conversation.messages[-1] is replies[1] and session.conversation.model == "sim-chat-terse"
    assert earlier in session.conversation.aside
