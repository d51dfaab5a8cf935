"""Tool calls in the TUI: live panels, approval, results, Esc, and reload — against the
simulated vLLM, with real tools running."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.pilot import (
    WAIT,
    answer_dialog,
    send,
    wait_for_screen,
    wait_for_text,
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


async def turn_over(app, pilot, timeout: float = WAIT) -> None:
    await wait_until(pilot, lambda: not app.session.running, timeout=timeout, message="the turn to end")
    await pilot.pause()


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
        await wait_until(pilot, lambda: (panel.tool_name, panel.state) == ("calculator", "ok"))
        assert "391" in (panel.result or "")
        await wait_for_text(pilot, app, "calculator", "done", '"expression": "17*23"')
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
        await wait_for_text(pilot, app, '"expression": "6*7"')
        [panel] = panels(app)
        assert (panel.tool_name, panel.state) == ("calculator", "ok")
        assert "42" in (panel.result or "")


async def test_a_shell_tool_asks_first_and_runs_when_allowed(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "shout hello world")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await wait_for_text(pilot, app, "$ echo")
        await wait_until(pilot, lambda: panels(app) and panels(app)[0].state == "approval")
        await answer_dialog(pilot, "y")
        await turn_over(app, pilot)
        [panel] = panels(app)
        await wait_until(pilot, lambda: panel.state == "ok")
        assert "hello" in (panel.result or "")


async def test_a_denied_call_is_reported_to_the_model_as_denied(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "shout hello world")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await answer_dialog(pilot, "n")
        await turn_over(app, pilot)
        [panel] = panels(app)
        await wait_until(pilot, lambda: panel.state == "denied")
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
        await wait_until(pilot, lambda: [p.state for p in panels(app)] == ["ok", "ok"])


async def test_escape_while_a_tool_runs_stops_it_and_the_turn(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "nap for 600 seconds")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await answer_dialog(pilot, "y")
        await wait_until(pilot, lambda: panels(app) and panels(app)[0].state == "running")
        await pilot.press("escape")
        await turn_over(app, pilot)  # far sooner than the nap would end
        await wait_until(pilot, lambda: panels(app)[0].state == "stopped")
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
        await wait_for_text(pilot, app, "more lines")
        await wait_until(pilot, lambda: app.focused is panel)
        await pilot.press("enter")
        await wait_until(pilot, lambda: panel.expanded)
        await wait_for_text(pilot, app, absent=["more lines"])


async def test_the_round_limit_stops_a_runaway_loop_with_a_message(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools={"max_rounds": 1}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "what is 2+2")
        await turn_over(app, pilot)
        notice = await wait_until(pilot, lambda: (found := app.chat.messages.query(ErrorNotice)) and found.last())
        assert notice.error.kind == "round_limit"
        await wait_for_text(pilot, app, "Stopped after 1 tool rounds")


async def test_a_server_without_tool_calling_says_which_flags_and_tools_can_be_switched_off(make_app) -> None:
    async with SimServer(SimConfig(auto_tool_choice=False)) as server:
        async with make_app(base_url=server.base_url) as (app, pilot):
            await wait_until(pilot, lambda: app.session.models)
            await send(app, pilot, "hello")
            await turn_over(app, pilot)
            await wait_for_screen(pilot, app, ConfirmScreen)
            await wait_for_text(pilot, app, "--enable-auto-tool-choice", "--tool-call-parser", "without tools?")
            await answer_dialog(pilot, "y")
            await turn_over(app, pilot)
            assert app.session.conversation.messages[-1].status == "complete"
            assert "tools" not in server.stats.last_request_body
            await wait_for_text(pilot, app, "tools off")


async def test_tool_choice_can_be_switched_in_the_app(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        app.chat.set_tool_choice("none")
        await send(app, pilot, "what is 2+2")
        await turn_over(app, pilot)
        assert sim.stats.last_request_body["tool_choice"] == "none"
        await wait_for_text(pilot, app, "tools: none")
        assert not panels(app)
