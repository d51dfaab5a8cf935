"""Tool calls in the TUI: live panels, approval, results, Esc, and reload — against the
simulated vLLM, with real tools running."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.pilot import (
    answer_dialog,
    screen_text,
    send,
    wait_for_screen,
    wait_until,
)
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.approval import ToolApprovalScreen
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.widgets.message_views import ErrorNotice
from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel

SHELL_TOOLS = {
    "shell": [
        {"name": "shout", "description": "Shout the given text back", "command": ["echo", "{text}"],
         "parameters": {"text": {"type": "string", "description": "what to shout"}}},
        {"name": "nap", "description": "Nap for some seconds", "command": ["sleep", "{seconds}"],
         "parameters": {"seconds": {"type": "integer", "description": "how long"}}},
    ]
}




async def turn_over(app, pilot, timeout: float = 20.0) -> None:
    await wait_until(pilot, lambda: not app.session.running, timeout=timeout, message="the turn to end")
    await pilot.pause(0.1)


def panels(app) -> list[ToolCallPanel]:
    return list(app.chat.messages.query(ToolCallPanel))


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the file tools are confined to the start folder
    return tmp_path


async def test_a_calculator_call_streams_into_a_panel_runs_and_is_answered(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "what is 17*23")
        await turn_over(app, pilot)
        [panel] = panels(app)
        assert (panel.tool_name, panel.state) == ("calculator", "ok")
        assert "391" in (panel.result or "")
        text = screen_text(app)
        assert "calculator" in text and "done" in text and '"expression": "17*23"' in text
        assert "391" in app.session.conversation.messages[-1].content
        roles = [m.role for m in app.session.conversation.messages]
        assert roles == ["user", "assistant", "tool", "assistant"]


async def test_a_reloaded_session_shows_the_same_panels(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "what is 6*7")
        await turn_over(app, pilot)
        conv_id = app.session.conversation.id
    conv = SessionStore().load(conv_id)
    async with make_app(base_url=sim.base_url, conversation=conv) as (app, pilot):
        await pilot.pause(0.2)
        [panel] = panels(app)
        assert (panel.tool_name, panel.state) == ("calculator", "ok")
        assert "42" in (panel.result or "") and '"expression": "6*7"' in screen_text(app)


async def test_a_shell_tool_asks_first_and_runs_when_allowed(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "shout hello world")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        assert "$ echo" in screen_text(app)
        assert panels(app)[0].state == "approval"
        await answer_dialog(pilot, "y")
        await turn_over(app, pilot)
        [panel] = panels(app)
        assert panel.state == "ok" and "hello" in (panel.result or "")


async def test_a_denied_call_is_reported_to_the_model_as_denied(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "shout hello world")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await answer_dialog(pilot, "n")
        await turn_over(app, pilot)
        [panel] = panels(app)
        assert panel.state == "denied"
        tool_msg = next(m for m in app.session.conversation.messages if m.role == "tool")
        assert tool_msg.tool_status == "denied" and "denied" in tool_msg.content
        assert app.session.conversation.messages[-1].role == "assistant"


async def test_allow_for_the_session_stops_asking_for_that_tool(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "shout one")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await answer_dialog(pilot, "a")
        await turn_over(app, pilot)
        await send(app, pilot, "shout two")
        await turn_over(app, pilot)
        assert [p.state for p in panels(app)] == ["ok", "ok"]


async def test_escape_while_a_tool_runs_stops_it_and_the_turn(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "nap for 30 seconds")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await answer_dialog(pilot, "y")
        await wait_until(pilot, lambda: panels(app) and panels(app)[0].state == "running")
        await pilot.press("escape")
        await turn_over(app, pilot, timeout=5)
        assert panels(app)[0].state == "stopped"
        tool_msg = next(m for m in app.session.conversation.messages if m.role == "tool")
        assert tool_msg.tool_status == "error"


async def test_a_long_result_is_folded_in_the_view_and_kept_whole(sim, make_app, in_tmp: Path) -> None:
    for i in range(40):
        (in_tmp / f"file{i:02}.txt").write_text("x")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "list directory .")
        await turn_over(app, pilot)
        tool_msg = next(m for m in app.session.conversation.messages if m.role == "tool")
        assert "file39.txt" in tool_msg.content, "the session keeps the whole result"
        app.chat.messages.focus_message(1)  # the reply that made the call (the answer below is long)
        await wait_until(pilot, lambda: getattr(app.focused, "message", None) is app.session.conversation.messages[1])
        panel = await wait_until(pilot, lambda: next(iter(panels(app)), None))
        panel.focus()  # focusing scrolls the panel into view
        await wait_until(pilot, lambda: "more lines" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: panel.expanded and "more lines" not in screen_text(app))


async def test_the_round_limit_stops_a_runaway_loop_with_a_message(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools={"max_rounds": 1}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "what is 2+2")
        await turn_over(app, pilot)
        notice = app.chat.messages.query(ErrorNotice).last()
        assert notice.error.kind == "round_limit"
        assert "Stopped after 1 tool rounds" in screen_text(app)


async def test_a_server_without_tool_calling_says_which_flags_and_tools_can_be_switched_off(make_app) -> None:
    async with SimServer(SimConfig(auto_tool_choice=False)) as server:
        async with make_app(base_url=server.base_url) as (app, pilot):
            await wait_until(pilot, lambda: app.session.models)
            await send(app, pilot, "hello")
            await turn_over(app, pilot)
            await wait_for_screen(pilot, app, ConfirmScreen)
            text = screen_text(app)
            assert "--enable-auto-tool-choice" in text and "--tool-call-parser" in text
            assert "without tools?" in text
            await answer_dialog(pilot, "y")
            await turn_over(app, pilot)
            assert app.session.conversation.messages[-1].status == "complete"
            assert "tools" not in server.stats.last_request_body
            assert "tools off" in screen_text(app)


async def test_tool_choice_can_be_switched_in_the_app(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        app.chat.set_tool_choice("none")
        await send(app, pilot, "what is 2+2")
        await turn_over(app, pilot)
        assert sim.stats.last_request_body["tool_choice"] == "none"
        assert "tools: none" in screen_text(app)
        assert not panels(app)
