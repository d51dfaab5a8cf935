"""MCP tool servers in the TUI (Pilot, the simulated vLLM, real MCP servers): the servers
panel, a call through approval that names its server, Esc during a call, and a slow server
that never holds up chatting."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.conftest import TEST_API_KEY
from tests.core.tool_servers.conftest import stdio_server
from tests.support.pilot import (
    answer_dialog,
    reply_over,
    screen_text,
    send,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.core.config import load_settings
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore
from vllm_chat.ui.app import VllmChatApp
from vllm_chat.ui.screens.approval import ToolApprovalScreen
from vllm_chat.ui.screens.tool_servers import ToolServersScreen


@asynccontextmanager
async def app_with_servers(sim: Any, servers: list[dict[str, Any]],
                           size: tuple[int, int] = (110, 36)) -> AsyncIterator[tuple[VllmChatApp, Any]]:
    settings = load_settings({"base_url": sim.base_url, "api_key": TEST_API_KEY, "mcp": {"servers": servers}})
    chat = ChatSession(settings, store=SessionStore())
    app = VllmChatApp(chat)
    try:
        async with app.run_test(size=size, notifications=True) as pilot:
            yield app, pilot
            chat.stop()
    finally:
        await chat.aclose()  # the MCP servers are stopped whatever the test did


def state_of(app: VllmChatApp, name: str) -> str:
    return next(s.state for s in app.session.tool_servers() if s.name == name)


async def test_the_servers_panel_shows_each_server_its_tools_and_why_one_failed(sim) -> None:
    servers = [stdio_server("t", confirm=["exit_now"]), {"name": "bad", "command": "no-such-program-xyz"},
               {"name": "off", "url": "http://127.0.0.1:9/mcp", "enabled": False}]
    async with app_with_servers(sim, servers) as (app, pilot):
        await wait_until(pilot, lambda: state_of(app, "t") == "ready" and state_of(app, "bad") == "failed")
        await wait_until(pilot, lambda: "MCP server bad failed" in screen_text(app))  # the notice
        await pilot.press("f8")
        panel = await wait_for_screen(pilot, app, ToolServersScreen)
        await wait_for_text(pilot, app, "✓ t  7 tools", "✗ bad  failed", "– off  disabled", "ready · 7 tools",
                            "exit_now  asks first", "echo_text  runs at once")
        await pilot.press("down")
        await wait_for_text(pilot, app, "cannot start 'no-such-program-xyz': no such program",
                            "failed: the server exited with status 127")
        await pilot.press("r")  # reconnect it: it fails again, with the same reason
        await wait_until(pilot, lambda: state_of(app, "bad") == "connecting" or "✗ bad" in screen_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ToolServersScreen))
        assert panel is not app.screen


async def test_an_mcp_call_goes_through_approval_and_its_panel_names_the_server(sim) -> None:
    async with app_with_servers(sim, [stdio_server("t")]) as (app, pilot):
        await wait_until(pilot, lambda: state_of(app, "t") == "ready")
        await send(app, pilot, "please echo the text hello")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await wait_for_text(pilot, app, "Run echo_text?", "Runs on MCP server t.")
        await answer_dialog(pilot, "y")
        await wait_until(pilot, lambda: reply_over(app))
        await wait_for_text(pilot, app, "✓ echo_text · MCP server t  done", "echo: please echo the text hello")
        tool = next(m for m in app.session.conversation.messages if m.role == "tool")
        assert (tool.tool_status, tool.content) == ("ok", "echo: please echo the text hello")


async def test_esc_during_an_mcp_call_stops_the_turn_and_the_server_hears_it(sim, tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with app_with_servers(sim, [stdio_server("t", "--state", str(state))]) as (app, pilot):
        await wait_until(pilot, lambda: state_of(app, "t") == "ready")
        await send(app, pilot, "hang forever please")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await answer_dialog(pilot, "y")
        await wait_until(pilot, lambda: "⟳ hang_forever · MCP server t  running" in screen_text(app))
        await wait_until(pilot, lambda: (state / "started").exists(), message="the call to run on the server")
        await pilot.press("escape")
        await wait_until(pilot, lambda: "■ hang_forever · MCP server t  stopped" in screen_text(app))
        await wait_until(pilot, lambda: (state / "cancelled").exists(), message="the server's cancel marker")
        assert not app.session.running


async def test_a_slow_server_never_holds_up_chatting(sim, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # the server answers nothing, its handshake included, until this exists
    async with app_with_servers(sim, [stdio_server("slow", "--gate", str(gate))]) as (app, pilot):
        await send(app, pilot, "hello there")
        await wait_until(pilot, lambda: reply_over(app))
        assert state_of(app, "slow") == "connecting"  # the reply came while it still connects
        await pilot.press("f8")
        await wait_for_screen(pilot, app, ToolServersScreen)
        await wait_for_text(pilot, app, "connecting for")
        gate.touch()
        await wait_for_text(pilot, app, "ready · 7 tools")


async def test_the_panel_says_how_to_add_servers_when_there_are_none(sim) -> None:
    async with app_with_servers(sim, []) as (app, pilot):
        await pilot.press("f8")
        await wait_for_screen(pilot, app, ToolServersScreen)
        await wait_until(pilot, lambda: "No MCP servers are configured" in screen_text(app))
        assert sys.executable  # nothing was started
        assert app.session.tool_servers() == []
