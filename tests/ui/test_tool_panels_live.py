"""Tool calls in the TUI as they happen: arguments streaming into a panel, Esc and `n`
at the approval prompt, chains of rounds, bad arguments, what a reloaded session shows,
and approvals that end with the conversation — against the simulated vLLM, with real
tools running."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TEST_API_KEY
from tests.support.pilot import (
    answer_dialog,
    screen_text,
    send,
    wait_for_screen,
    wait_for_stable_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.simserver.script import BAD_ARGUMENTS
from vllm_chat.ui.screens.approval import ToolApprovalScreen
from vllm_chat.ui.screens.sessions import SessionBrowserScreen
from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel

SHELL_TOOLS = {
    "shell": [
        {"name": "make_marker", "description": "Create an empty marker file", "command": ["touch", "{path}"],
         "parameters": {"path": {"type": "string", "description": "the file to create"}}},
        {"name": "shout", "description": "Shout the given text back", "command": ["echo", "{text}"],
         "parameters": {"text": {"type": "string", "description": "what to shout"}}},
        {"name": "nap", "description": "Nap for some seconds", "command": ["sleep", "{seconds}"],
         "parameters": {"seconds": {"type": "integer", "description": "how long"}}},
    ]
}
"""Shell tools (each needs approval); `make_marker` leaves a file behind when it runs."""

MARKER_PROMPT = "create marker file flag.txt"
"""Makes the simulated model call `make_marker` with `{"path": "flag.txt"}`."""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # tools run in (and file tools are confined to) the start folder
    return tmp_path


async def turn_over(app, pilot) -> None:
    await wait_until(pilot, lambda: not app.session.running, message="the turn to end")
    await pilot.pause()


def panels(app) -> list[ToolCallPanel]:
    return list(app.chat.messages.query(ToolCallPanel))


def shown(app, widget) -> str:
    """The text the screen shows inside `widget`'s region, line by line."""
    region = widget.region
    lines = screen_text(app).splitlines()[region.y:region.bottom]
    return "\n".join(line[region.x:region.right].rstrip() for line in lines)


async def wait_shown(pilot, app, widget, *texts: str) -> str:
    """Wait until the screen shows every one of `texts` inside `widget`; return what it shows there."""
    await wait_until(pilot, lambda: all(text in shown(app, widget) for text in texts),
                     message=f"{', '.join(map(repr, texts))} in the {type(widget).__name__}")
    return shown(app, widget)


def tool_messages(app) -> list:
    return [m for m in app.session.conversation.messages if m.role == "tool"]


async def ready(app, pilot) -> None:
    await wait_until(pilot, lambda: app.session.models, message="the models to load")


async def test_a_panel_appears_while_the_arguments_stream_and_shows_them_growing(make_app) -> None:
    # 5 tokens/s: the arguments take seconds to arrive, even on a loaded machine that hands
    # the app the tokens in bursts.
    async with (SimServer(SimConfig(tps=5.0, api_key=TEST_API_KEY)) as slow,
                make_app(base_url=slow.base_url) as (app, pilot)):
        await ready(app, pilot)
        await send(app, pilot, "what is 17*23")
        final = '{"expression": "17*23"}'
        panel = await wait_until(pilot, lambda: next(iter(panels(app)), None), message="the panel to appear")
        assert panel.state == "streaming", "the panel is there before the call is complete"
        assert panel.tool_name == "calculator"
        seen: list[int] = []  # longest prefix of the final arguments on screen, per frame

        def sample() -> bool:
            if panel.state != "streaming":
                return True
            text = shown(app, panel)
            length = max(k for k in range(len(final) + 1) if final[:k] in text)
            if not seen or seen[-1] != length:
                seen.append(length)
            return False

        await wait_until(pilot, sample, message="the arguments to finish streaming")
        partial = [n for n in seen if 0 < n < len(final)]
        assert len(partial) >= 2, f"the shown arguments should grow while streaming, saw lengths {seen}"
        assert partial == sorted(partial), "the shown arguments only grow"
        assert app.session.running
        await wait_until(pilot, lambda: panel.state == "ok", message="the tool to run")
        assert "391" in (panel.result or "")
        await wait_shown(pilot, app, panel, "done", '"expression": "17*23"', "391")
        app.session.stop()  # the answer would take a while at this pace; it is not the point here
        await turn_over(app, pilot)


async def test_escape_at_the_approval_prompt_stops_the_turn_and_the_tool_never_runs(
        sim, make_app, in_tmp: Path) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS) as (app, pilot):
        await ready(app, pilot)
        await send(app, pilot, MARKER_PROMPT)
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await wait_for_text(pilot, app, "$ touch flag.txt")
        await pilot.press("escape")
        await turn_over(app, pilot)
        await wait_until(pilot, lambda: not isinstance(app.screen, ToolApprovalScreen), message="the prompt to go")
        assert not (in_tmp / "flag.txt").exists(), "the command never ran"
        [panel] = panels(app)
        await wait_until(pilot, lambda: panel.state == "stopped")
        await wait_shown(pilot, app, panel, "stopped", "did not run")
        [tool_msg] = tool_messages(app)
        assert tool_msg.status == "stopped" and "did not run" in tool_msg.content
        assert app.session.conversation.messages[-1] is tool_msg, "no answer was asked for"
        assert sim.stats.requests == 1, "no request after the stop (the count of 3 below shows none came later)"
        await wait_until(pilot, lambda: app.focused is app.chat.prompt)
        await send(app, pilot, "what is 6*7")
        await turn_over(app, pilot)
        assert [p.state for p in panels(app)] == ["stopped", "ok"]
        assert "42" in app.session.conversation.messages[-1].content
        assert sim.stats.requests == 3


async def test_n_at_the_approval_prompt_denies_the_call_and_the_turn_goes_on(
        sim, make_app, in_tmp: Path) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS) as (app, pilot):
        await ready(app, pilot)
        await send(app, pilot, MARKER_PROMPT)
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await answer_dialog(pilot, "n")
        await turn_over(app, pilot)
        assert not (in_tmp / "flag.txt").exists()
        [panel] = panels(app)
        await wait_until(pilot, lambda: panel.state == "denied")
        await wait_shown(pilot, app, panel, "denied")
        assert sim.stats.requests == 2, "the model got the denial and answered"
        told = sim.stats.last_request_body["messages"][-1]
        assert told["role"] == "tool" and "denied" in told["content"]
        answer = app.session.conversation.messages[-1]
        assert answer.role == "assistant" and answer.status == "complete" and "denied" in answer.content


async def test_a_reloaded_session_shows_each_panel_as_it_ended_live(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS, size=(120, 110)) as (app, pilot):
        await ready(app, pilot)
        live: dict[str, tuple[str, str | None, str]] = {}

        async def note_panels() -> None:
            await wait_for_stable_screen(pilot, app)
            for panel in panels(app):
                live[panel.call_id] = (panel.state, panel.result, shown(app, panel))

        await send(app, pilot, "what is 6*7")
        await turn_over(app, pilot)
        await note_panels()
        await send(app, pilot, "shout hello world")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await answer_dialog(pilot, "n")
        await turn_over(app, pilot)
        await note_panels()
        await send(app, pilot, "nap for 600 seconds")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await answer_dialog(pilot, "y")
        await wait_until(pilot, lambda: panels(app)[-1].state == "running")
        await pilot.press("escape")
        await turn_over(app, pilot)
        await note_panels()
        await send(app, pilot, MARKER_PROMPT)
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await pilot.press("escape")
        await turn_over(app, pilot)
        await note_panels()
        assert [state for state, _, _ in live.values()] == ["ok", "denied", "stopped", "stopped"]
        assert "while this call was running" in list(live.values())[2][1]
        assert "before this call ran" in list(live.values())[3][1]
        conv_id = app.session.conversation.id

        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: not panels(app))
        await pilot.press("ctrl+l")
        await wait_for_screen(pilot, app, SessionBrowserScreen)
        await wait_for_text(pilot, app, "what is 6*7")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.session.conversation.id == conv_id)
        await wait_until(pilot, lambda: len(panels(app)) == 4 and all(p.region.height for p in panels(app)))
        await wait_for_stable_screen(pilot, app)
        reloaded = {p.call_id: (p.state, p.result, shown(app, p)) for p in panels(app)}
        assert list(reloaded) == list(live)
        for call_id, (state, result, text) in live.items():
            again_state, again_result, again_text = reloaded[call_id]
            assert again_state == state, f"{call_id} was {state} live, {again_state} reloaded"
            assert again_result == result
            assert again_text == text, f"live:\n{text}\nreloaded:\n{again_text}"


async def test_a_chain_shows_each_round_in_order_then_an_answer_quoting_both(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(120, 60)) as (app, pilot):
        await ready(app, pilot)
        await send(app, pilot, "what is 6*7, then what time is it")
        await turn_over(app, pilot)
        first, second = panels(app)
        await wait_until(pilot, lambda: (first.state, second.state) == ("ok", "ok"))
        assert first.tool_name == "calculator" and "42" in (first.result or "")
        assert second.tool_name == "datetime" and second.result
        answer = app.session.conversation.messages[-1]
        assert answer.role == "assistant" and answer.status == "complete"
        assert "42" in answer.content and second.result.splitlines()[0] in answer.content
        answer_view = await wait_until(pilot, lambda: app.chat.messages.view_for(answer.id))
        await wait_shown(pilot, app, first, "42")
        await wait_shown(pilot, app, second, second.result.splitlines()[0])
        await wait_shown(pilot, app, answer_view, "Here is what the tools returned")
        assert first.region.bottom <= second.region.y, "the first round is shown above the second"
        assert answer_view.region.y >= second.region.bottom
        assert sim.stats.requests == 3


async def test_bad_arguments_are_shown_as_sent_and_the_model_is_told(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(120, 40)) as (app, pilot):
        await ready(app, pilot)
        await send(app, pilot, "what is 17*23 with bad arguments")
        await turn_over(app, pilot)
        [panel] = panels(app)
        assert panel.arguments == BAD_ARGUMENTS
        await wait_until(pilot, lambda: panel.state == "error")
        arguments = await wait_shown(pilot, app, panel.query_one(".args"), "not a valid JSON object")
        assert arguments.splitlines()[0] == BAD_ARGUMENTS, "the raw arguments, not a number made of them"
        assert "not valid JSON" in (panel.result or "")
        await wait_shown(pilot, app, panel.query_one(".result"), "not valid JSON")
        answer = app.session.conversation.messages[-1]
        assert answer.role == "assistant" and answer.status == "complete"
        assert "not valid JSON" in answer.content
        await send(app, pilot, "what is 6*7")
        await turn_over(app, pilot)
        assert "42" in app.session.conversation.messages[-1].content, "the app goes on"


async def test_allow_for_the_session_is_forgotten_in_a_new_conversation(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, tools=SHELL_TOOLS) as (app, pilot):
        await ready(app, pilot)
        await send(app, pilot, "shout one")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await answer_dialog(pilot, "a")
        await turn_over(app, pilot)
        await wait_until(pilot, lambda: [p.state for p in panels(app)] == ["ok"])
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: not app.session.conversation.messages and not panels(app))
        await send(app, pilot, "shout two")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await wait_until(pilot, lambda: panels(app) and panels(app)[0].state == "approval")
        await answer_dialog(pilot, "y")
        await turn_over(app, pilot)
        [panel] = panels(app)
        await wait_until(pilot, lambda: panel.state == "ok")
        assert "two" in (panel.result or "")
