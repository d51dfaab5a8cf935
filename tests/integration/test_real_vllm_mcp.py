"""End to end against a real vLLM (`VLLM_CHAT_REAL_URL`, `VLLM_CHAT_REAL_API_KEY`): a forced
call (named `tool_choice`, strict schema) to a tool of a real MCP server goes through
approval, runs on the server, and its result goes back to the model in the next request."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.core.tool_servers.conftest import stdio_server
from vllm_chat.core.client import ChatClient
from vllm_chat.core.config import ToolsSettings
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.engine import Engine, TurnOptions
from vllm_chat.core.events import ToolApprovalNeeded, TurnFailed
from vllm_chat.core.mcp.manager import McpManager
from vllm_chat.core.mcp.settings import McpSettings
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.tools.approval import ApprovalPolicy, Decision
from vllm_chat.core.tools.registry import ToolRegistry

pytestmark = pytest.mark.integration

REAL_URL = os.environ.get("VLLM_CHAT_REAL_URL")
REAL_KEY = os.environ.get("VLLM_CHAT_REAL_API_KEY") or "EMPTY"
MODEL = os.environ.get("VLLM_CHAT_REAL_MODEL", "tiny-llama")


@pytest.mark.skipif(not REAL_URL, reason="set VLLM_CHAT_REAL_URL to a real vLLM server's /v1 URL")
async def test_a_forced_call_to_an_mcp_tool_goes_through_approval_the_server_and_back(tmp_path: Path) -> None:
    state = tmp_path / "state"
    registry, _ = ToolRegistry.from_settings(ToolsSettings(builtins=[]), root=tmp_path)
    manager = McpManager(McpSettings(servers=[stdio_server("t", "--state", str(state))]), registry, root=tmp_path)
    client = ChatClient(REAL_URL or "", REAL_KEY)
    asked = []

    async def approve(call):
        asked.append(call.name)
        return Decision.ALLOW_ONCE

    try:
        manager.start()
        await manager.wait_settled()
        assert manager.statuses()[0].state == "ready"
        spec = next(s for s in registry.specs() if s["function"]["name"] == "record_reading")
        assert spec["function"]["strict"] is True
        engine = Engine(client, tools=registry, approval=ApprovalPolicy(registry), approver=approve, max_rounds=2)
        conv = Conversation(model=MODEL, params=SamplingParams(max_tokens=200, seed=3))
        conv.add(Message(role="user", content="Record today's temperature in Paris."))
        named = {"type": "function", "function": {"name": "record_reading"}}
        events = [e async for e in engine.run(conv, TurnOptions(tool_choice=named))]
    finally:
        await client.aclose()
        await manager.aclose()
    assert not any(isinstance(e, TurnFailed) for e in events), events[-1]
    assert asked == ["record_reading"] and any(isinstance(e, ToolApprovalNeeded) for e in events)
    call = conv.messages[1].tool_calls[0]
    arguments = json.loads(call.arguments)
    assert set(arguments) == {"city", "celsius"} and arguments["city"] in ("Paris", "Oslo")
    assert (state / "reading").read_text() == f"{arguments['city']} {arguments['celsius']}"  # it ran there
    tool = conv.messages[2]
    assert (tool.role, tool.tool_status) == ("tool", "ok")
    assert tool.content == f"recorded {arguments['celsius']} °C for {arguments['city']}"
    answer = conv.messages[3]  # the model read the result: the second request carried it
    assert answer.role == "assistant" and answer.status == "complete"


@pytest.mark.skipif(not REAL_URL, reason="set VLLM_CHAT_REAL_URL to a real vLLM server's /v1 URL")
async def test_an_mcp_image_for_a_text_only_model_goes_as_a_note_after_vllm_refuses_it(tmp_path: Path) -> None:
    registry, _ = ToolRegistry.from_settings(ToolsSettings(builtins=[]), root=tmp_path)
    manager = McpManager(McpSettings(servers=[stdio_server("t", confirm=False)]), registry, root=tmp_path)
    client = ChatClient(REAL_URL or "", REAL_KEY)
    try:
        manager.start()
        await manager.wait_settled()
        engine = Engine(client, tools=registry, approval=ApprovalPolicy(registry), max_rounds=2)
        conv = Conversation(model=MODEL, params=SamplingParams(max_tokens=200, seed=3))
        conv.add(Message(role="user", content="Draw me a picture."))
        named = {"type": "function", "function": {"name": "make_image"}}
        events = [e async for e in engine.run(conv, TurnOptions(tool_choice=named))]
    finally:
        await client.aclose()
        await manager.aclose()
    assert not any(isinstance(e, TurnFailed) for e in events), events[-1]
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool", "assistant"], conv.messages
    assert len(conv.messages[2].attachments) == 1  # the image is kept with the result
    assert engine.text_only_models == {MODEL}  # vLLM said "not a multimodal model"; the note went instead
    assert conv.messages[3].role == "assistant" and conv.messages[3].status == "complete"
