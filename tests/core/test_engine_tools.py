"""The tool loop in the engine, against the simulated vLLM over HTTP with real tools:
one call, parallel calls, the duplicate-index delta quirk, approval, and the round limit."""

from __future__ import annotations

import json
from pathlib import Path

from vllm_chat.core.client import ChatClient
from vllm_chat.core.config import ToolsSettings
from vllm_chat.core.conversation import Conversation, Message, ToolCall
from vllm_chat.core.engine import Engine, TurnOptions
from vllm_chat.core.events import (
    ToolApprovalNeeded,
    ToolCallDelta,
    ToolCallReady,
    ToolResult,
    ToolRunning,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from vllm_chat.core.tools.approval import ApprovalPolicy, Decision
from vllm_chat.core.tools.registry import ToolRegistry
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
