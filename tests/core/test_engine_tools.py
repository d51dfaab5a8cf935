"""The tool loop in the engine, against the simulated vLLM over HTTP with real tools:
one call, parallel calls, chained calls, the duplicate-index delta quirk, approval (and
stopping there), calls stopped or cut off, the round limit, and tools switched off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_chat.core.client import ChatClient
from vllm_chat.core.config import ToolsSettings, load_settings
from vllm_chat.core.conversation import Conversation, Message, ToolCall
from vllm_chat.core.engine import Engine
from vllm_chat.core.events import (
    ToolApprovalNeeded,
    ToolCallDelta,
    ToolCallReady,
    ToolResult,
    ToolRunning,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnStopped,
)
from vllm_chat.core.session import ChatSession
from vllm_chat.core.tools.approval import ApprovalPolicy, Decision
from vllm_chat.core.tools.registry import ToolRegistry
from vllm_chat.core.turn_request import TurnOptions, request_messages
from vllm_chat.simserver import SimConfig, SimServer


async def run_turn(server: SimServer, prompt: str, *, settings: ToolsSettings | None = None,
                   approver=None, max_rounds: int = 8, choice: str = "auto", root: Path | None = None):
    registry, problems = ToolRegistry.from_settings(settings or ToolsSettings(), root=root or Path.cwd())
    assert problems == []
    client = ChatClient(server.base_url)
    conv = Conversation(model="sim-chat")
    conv.add(Message(role="user", content=prompt))
    engine = Engine(client, tools=registry, approval=ApprovalPolicy(registry), approver=approver,
                    max_rounds=max_rounds)
    events = [e async for e in engine.run(conv, TurnOptions(tool_choice=choice))]
    await client.aclose()
    return events, conv


async def test_one_call_runs_and_the_loop_continues_to_an_answer() -> None:
    async with SimServer(SimConfig()) as server:
        events, conv = await run_turn(server, "what is 17*23")
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool", "assistant"]
    assert conv.messages[2].content.endswith("391") and conv.messages[2].tool_status == "ok"
    assert "391" in conv.messages[3].content
    kinds = [type(e) for e in events]
    assert kinds.count(TurnStarted) == 2 and kinds[-1] is TurnFinished
    assert kinds.index(ToolCallReady) < kinds.index(ToolRunning) < kinds.index(ToolResult)
    second_request = server.stats.last_request_body["messages"]
    assert second_request[-1] == {"role": "tool", "tool_call_id": conv.messages[1].tool_calls[0].id,
                                  "content": conv.messages[2].content}


async def test_parallel_calls_each_get_a_result_in_order() -> None:
    async with SimServer(SimConfig()) as server:
        events, conv = await run_turn(server, "what is 2+3 and what time is it in UTC")
    calls = conv.messages[1].tool_calls
    assert [c.name for c in calls] == ["calculator", "datetime"]
    results = [m for m in conv.messages if m.role == "tool"]
    assert [r.tool_call_id for r in results] == [c.id for c in calls]
    assert {e.index for e in events if isinstance(e, ToolCallDelta)} == {0, 1}


async def test_a_delta_with_two_entries_for_one_index_is_merged() -> None:
    async with SimServer(SimConfig(duplicate_index_tool_deltas=True)) as server:
        events, conv = await run_turn(server, "what is 6*7")
    [call] = conv.messages[1].tool_calls
    assert call.name == "calculator" and json.loads(call.arguments) == {"expression": "6*7"}
    assert conv.messages[2].content.endswith("42")


async def test_a_call_that_needs_approval_waits_for_the_approver() -> None:
    asked: list[ToolCall] = []

    async def approve(call: ToolCall) -> Decision:
        asked.append(call)
        return Decision.DENY

    settings = ToolsSettings(confirm=["calculator"])
    async with SimServer(SimConfig()) as server:
        events, conv = await run_turn(server, "what is 17*23", settings=settings, approver=approve)
    assert [c.name for c in asked] == ["calculator"]
    assert any(isinstance(e, ToolApprovalNeeded) for e in events)
    assert not any(isinstance(e, ToolRunning) for e in events), "a denied call never runs"
    assert conv.messages[2].tool_status == "denied"
    assert isinstance(events[-1], TurnFinished)


async def test_required_tool_choice_forces_the_first_round_only() -> None:
    async with SimServer(SimConfig()) as server:
        events, conv = await run_turn(server, "hello there", choice="required")
        bodies = list(server.stats.recent_request_bodies)
    assert bodies[0]["tool_choice"] == "required" and bodies[-1]["tool_choice"] == "auto"
    assert isinstance(events[-1], TurnFinished) and conv.messages[-1].role == "assistant"


async def test_a_runaway_loop_stops_at_the_round_limit() -> None:
    async with SimServer(SimConfig()) as server:
        events, conv = await run_turn(server, "what is 1+1", max_rounds=1)
    assert isinstance(events[-1], TurnFailed) and events[-1].error.kind == "round_limit"
    assert conv.messages[-1].role == "tool", "the call that ran keeps its result"


async def test_chained_calls_take_one_round_each_then_the_answer_quotes_every_result() -> None:
    async with SimServer(SimConfig()) as server:
        events, conv = await run_turn(server, "what is 6*7, then what time is it")
        bodies = list(server.stats.recent_request_bodies)
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert [c.name for c in conv.messages[1].tool_calls] == ["calculator"]
    assert [c.name for c in conv.messages[3].tool_calls] == ["datetime"]
    assert [e.round for e in events if isinstance(e, TurnStarted)] == [1, 2, 3]
    assert isinstance(events[-1], TurnFinished)
    # Each request carries every earlier call with its result.
    assert [[m["role"] for m in b["messages"]] for b in bodies] == [
        ["user"], ["user", "assistant", "tool"], ["user", "assistant", "tool", "assistant", "tool"]]
    answer = conv.messages[-1].content
    assert "6*7 = 42" in answer and "**datetime**" in answer


def session_for(server: SimServer, **settings: object) -> ChatSession:
    """A ChatSession on the simulated server, with the app's settings plus `settings`."""
    return ChatSession(load_settings({"base_url": server.base_url, "model": "sim-chat", **settings}))


async def run_session(session: ChatSession, prompt: str) -> list[object]:
    session.add_user_message(prompt)
    events = [e async for e in session.run()]
    await session.aclose()
    return events


async def test_the_default_round_limit_of_8_stops_a_model_that_keeps_calling_tools() -> None:
    async with SimServer(SimConfig()) as server:
        session = session_for(server)
        events = await run_session(session, "keep calling tools")
        requests = server.stats.requests
    assert requests == 8 and [e.round for e in events if isinstance(e, TurnStarted)] == list(range(1, 9))
    failed = events[-1]
    assert isinstance(failed, TurnFailed) and failed.error.kind == "round_limit"
    assert failed.error.message == "Stopped after 8 tool rounds in one turn."
    assert "tools.max_rounds" in failed.error.hint
    assert session.conversation.messages[-1].role == "tool", "every call that ran keeps its result"


@pytest.mark.parametrize("switch", ["config", "session"])
async def test_with_tools_switched_off_the_request_carries_no_tools(switch: str) -> None:
    async with SimServer(SimConfig()) as server:
        session = session_for(server, tools={"enabled": switch != "config"})
        if switch == "session":
            session.conversation.tools_enabled = False
        await run_session(session, "what is 17*23")
        body = server.stats.last_request_body
        assert "tools" not in body and "tool_choice" not in body
        assert [m.role for m in session.conversation.messages] == ["user", "assistant"]
        # The same session with tools on offers them again.
        session = session_for(server)
        await run_session(session, "what is 17*23")
        assert [t["function"]["name"] for t in server.stats.recent_request_bodies[-2]["tools"]] == [
            "datetime", "calculator", "read_file", "list_directory"]


async def test_stop_at_the_approval_prompt_stops_the_turn_and_nothing_runs() -> None:
    async def stop(call: ToolCall) -> Decision:
        return Decision.STOP

    settings = ToolsSettings(confirm=["calculator"])
    async with SimServer(SimConfig()) as server:
        events, conv = await run_turn(server, "what is 17*23", settings=settings, approver=stop)
        requests = server.stats.requests
    assert isinstance(events[-1], TurnStopped)
    assert not any(isinstance(e, ToolRunning) for e in events)
    assert requests == 1, "the loop does not go on to another request"
    [result] = [m for m in conv.messages if m.role == "tool"]
    assert (result.status, result.tool_status) == ("stopped", "error")
    assert result.content == "The user stopped the turn before this call ran; it did not run."
    assert [e.message for e in events if isinstance(e, ToolResult)] == [result]
    assert [m["role"] for m in request_messages(conv.to_openai())] == ["user", "assistant", "tool"]


SLEEPER = ToolsSettings(shell=[{"name": "nap", "description": "Nap for some seconds", "command": ["sleep", "{seconds}"],
                                "parameters": {"seconds": {"type": "integer", "description": "how long"}}}])


async def test_a_call_stopped_while_running_is_saved_as_stopped_with_how_long_it_ran() -> None:
    async def allow(call: ToolCall) -> Decision:
        return Decision.ALLOW_ONCE

    async with SimServer(SimConfig()) as server:
        registry, _ = ToolRegistry.from_settings(SLEEPER, root=Path.cwd())
        client = ChatClient(server.base_url)
        engine = Engine(client, tools=registry, approval=ApprovalPolicy(registry), approver=allow)
        conv = Conversation(model="sim-chat")
        conv.add(Message(role="user", content="nap for 30 seconds"))
        events = []
        async for event in engine.run(conv):
            events.append(event)
            if isinstance(event, ToolRunning):
                engine.stop()
        await client.aclose()
    assert isinstance(events[-1], TurnStopped)
    result = conv.messages[-1]
    assert (result.role, result.status, result.tool_status) == ("tool", "stopped", "error")
    assert result.content == "The user stopped the turn while this call was running; it did not finish."
    assert result.timings is not None and 0 <= result.timings.duration < 30


async def test_a_call_cut_off_mid_arguments_by_a_stop_is_kept_but_never_sent() -> None:
    async with SimServer(SimConfig(tps=40)) as server:
        registry, _ = ToolRegistry.from_settings(ToolsSettings(), root=Path.cwd())
        client = ChatClient(server.base_url)
        engine = Engine(client, tools=registry, approval=ApprovalPolicy(registry))
        conv = Conversation(model="sim-chat")
        conv.add(Message(role="user", content="what is 17*23"))
        events = []
        async for event in engine.run(conv):
            events.append(event)
            if isinstance(event, ToolCallDelta) and event.arguments_fragment:
                engine.stop()
        conv.add(Message(role="user", content="hello"))
        [e async for e in engine.run(conv)]
        await client.aclose()
        sent = server.stats.last_request_body["messages"]
    assert isinstance(events[-1], TurnStopped)
    reply = conv.messages[1]
    assert reply.status == "stopped" and not any(m.role == "tool" for m in conv.messages[:3])
    [call] = reply.tool_calls
    fragments = "".join(e.arguments_fragment for e in events if isinstance(e, ToolCallDelta))
    assert call.name == "calculator" and call.arguments == fragments and fragments != '{"expression": "17*23"}'
    assert "tool_calls" not in sent[1] and sent[1]["role"] == "assistant", "the cut call is not sent back"


async def test_a_call_cut_by_max_tokens_is_kept_for_display_and_left_out_of_the_next_request() -> None:
    async with SimServer(SimConfig()) as server:
        session = session_for(server)
        events = await run_session(session, "what is 17*23 sim:length=16")
        reply = session.conversation.messages[1]
        assert isinstance(events[-1], TurnFinished) and reply.finish_reason == "length"
        assert [(c.name, c.arguments) for c in reply.tool_calls] == [("calculator", '{"expression": "17*')]
        assert not any(isinstance(e, (ToolCallReady, ToolRunning)) for e in events)
        session = ChatSession(session.settings, conversation=session.conversation)
        await run_session(session, "hello")
        sent = server.stats.last_request_body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert "tool_calls" not in sent[1] and sent[1]["content"] == reply.content


def test_request_messages_leave_out_calls_that_have_no_result() -> None:
    def asks(*ids: str, content: str | None = None) -> dict:
        return {"role": "assistant", "content": content,
                "tool_calls": [{"id": i, "type": "function", "function": {"name": "t", "arguments": "{"}}
                               for i in ids]}

    def result(call_id: str) -> dict:
        return {"role": "tool", "tool_call_id": call_id, "content": "r"}

    user = {"role": "user", "content": "q"}
    messages = [user, asks("a", "b"), result("a"), asks("c"), user, asks("d", content="text"),
                user, asks("e"), result("e")]
    assert request_messages(messages) == [
        user, asks("a"), result("a"), user, {"role": "assistant", "content": "text"},
        user, asks("e"), result("e"),
    ]
