"""MCP tools inside a turn: the engine against the simulated vLLM over HTTP, calling a real
MCP server — Esc during a call, images for text-only and vision models, a named tool_choice."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.core.tool_servers.conftest import stdio_server
from vllm_chat.core.client import ChatClient
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.engine import Engine, TurnOptions
from vllm_chat.core.events import ToolResult, ToolRunning, TurnFinished, TurnStopped
from vllm_chat.core.tools.approval import ApprovalPolicy
from vllm_chat.simserver import SimConfig, SimServer


def conversation(prompt: str, model: str = "sim-chat") -> Conversation:
    conv = Conversation(model=model)
    conv.add(Message(role="user", content=prompt))
    return conv


async def stop_once_started(engine: Engine, state: Path) -> None:
    """Stop the turn once the tool runs on the server (a stop sent before it started would
    cancel a call the tool never saw)."""
    deadline = time.monotonic() + 60
    while not (state / "started").exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    engine.stop()


async def test_esc_during_an_mcp_call_stops_the_turn_and_cancels_the_call_on_the_server(
        make_manager, tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with SimServer(SimConfig()) as sim, \
            make_manager([stdio_server("t", "--state", str(state))]) as (manager, registry):
        await manager.wait_settled()
        client = ChatClient(sim.base_url)
        engine = Engine(client, tools=registry, approval=ApprovalPolicy(registry, auto_approve=True))
        conv = conversation("hang forever please")
        events = []
        async for event in engine.run(conv):
            events.append(event)
            if isinstance(event, ToolRunning):
                assert event.call.name == "hang_forever"
                stopper = asyncio.create_task(stop_once_started(engine, state))
        await client.aclose()
        await stopper
        assert isinstance(events[-1], TurnStopped)
        tool = conv.messages[-1]
        assert (tool.role, tool.status) == ("tool", "stopped")
        deadline = time.monotonic() + 60
        while not (state / "cancelled").exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert (state / "cancelled").exists(), "the MCP server never heard that the call was cancelled"


async def test_a_tool_image_reaches_a_vision_model_and_a_text_model_gets_a_note(make_manager) -> None:
    async with SimServer(SimConfig(models=("sim-chat", "sim-vision"))) as sim, \
            make_manager([stdio_server("t", confirm=False)]) as (manager, registry):
        await manager.wait_settled()
        client = ChatClient(sim.base_url)
        engine = Engine(client, tools=registry, approval=ApprovalPolicy(registry))

        vision = conversation("make an image", model="sim-vision")
        events = [e async for e in engine.run(vision)]
        assert isinstance(events[-1], TurnFinished)
        [result] = [e for e in events if isinstance(e, ToolResult)]
        assert len(result.message.attachments) == 1
        sent = sim.stats.last_request_body["messages"][-1]
        assert sent["role"] == "tool" and [p["type"] for p in sent["content"]] == ["text", "image_url"]
        assert sent["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
        assert engine.text_only_models == set()

        text = conversation("make an image", model="sim-chat")
        events = [e async for e in engine.run(text)]
        await client.aclose()
        assert isinstance(events[-1], TurnFinished), events[-1]
        assert engine.text_only_models == {"sim-chat"}
        sent = sim.stats.last_request_body["messages"][-1]
        assert sent["role"] == "tool" and sent["content"] == (
            "[image make_image-image-1: image/png, 8×6]\n[1 image(s) not shown: this model takes no images]")
        assert text.messages[-1].status == "complete" and not text.messages[-1].error


async def test_a_named_tool_choice_forces_the_mcp_tool_once_and_then_lets_the_model_answer(make_manager) -> None:
    async with SimServer(SimConfig()) as sim, \
            make_manager([stdio_server("t", confirm=False)]) as (manager, registry):
        await manager.wait_settled()
        client = ChatClient(sim.base_url)
        engine = Engine(client, tools=registry, approval=ApprovalPolicy(registry))
        conv = conversation("say something")
        named = {"type": "function", "function": {"name": "echo_text"}}
        events = [e async for e in engine.run(conv, TurnOptions(tool_choice=named))]
        await client.aclose()
    assert isinstance(events[-1], TurnFinished)
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool", "assistant"]
    assert conv.messages[2].content.startswith("echo: ")
    assert sim.stats.last_request_body["tool_choice"] == "auto"
