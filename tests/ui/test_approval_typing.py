"""Keys meant for the prompt never answer a dialog that opened by itself.

A tool approval appears while the user may be typing the next message. Keys that
arrive before, with and 0.2-2 s after the dialog all stay in the prompt (even y, a and
n, the answer keys); only a deliberate move to the dialog (tab, or a click) lets it take
an answer. The same holds for the offers made after a failed turn. Against the hostile
test server, which calls a real shell tool when asked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual import events

from tests.conftest import TEST_API_KEY
from tests.support.hostile import HostileServer
from tests.support.pilot import answer_dialog, send, wait_for_screen, wait_until
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.approval import ToolApprovalScreen
from vllm_chat.ui.screens.confirm import ConfirmScreen

MARKER_TOOL = {"shell": [{"name": "make_marker", "description": "Create an empty marker file",
                          "command": ["touch", "{path}"], "parameters": {"path": {"type": "string"}}}]}
CALL = "make_marker " + json.dumps({"path": "flag.txt"})


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
async def hostile():
    async with HostileServer() as server:
        yield server


def ran(in_tmp: Path) -> bool:
    return (in_tmp / "flag.txt").exists()


def tool_results(app) -> list:
    return [m for m in app.session.conversation.messages if m.role == "tool"]


@pytest.mark.parametrize("after", [0.0, 0.2, 0.8, 2.0])
async def test_words_typed_after_the_dialog_opens_stay_in_the_prompt_and_approve_nothing(
        make_app, hostile, in_tmp: Path, after: float) -> None:
    async with make_app(base_url=hostile.base_url, tools=MARKER_TOOL, api_key="") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, f"call {CALL}")
        dialog = await wait_for_screen(pilot, app, ToolApprovalScreen)
        await pilot.pause(after)  # the moment the user's next keys arrive
        await pilot.press(*"banana", "space", *"yes", "space", *"no")
        await wait_until(pilot, lambda: app.chat.prompt.text == "banana yes no", message="the typing in the prompt")
        assert app.screen is dialog, "no typed key answered the dialog"
        assert not ran(in_tmp) and not tool_results(app)
        assert "Press tab" in str(dialog.query_one(".hint").render())
        await answer_dialog(pilot, "y")
        await wait_until(pilot, lambda: tool_results(app) and not app.session.running)
        assert ran(in_tmp), "after tab, y allows the call"
        assert app.chat.prompt.text == "banana yes no", "the text typed meanwhile is still there"


async def test_keys_typed_before_and_while_the_dialog_opens_all_reach_the_prompt(make_app, hostile, in_tmp) -> None:
    async with make_app(base_url=hostile.base_url, tools=MARKER_TOOL, api_key="") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        # The call comes 2 s after the reply starts: keys typed meanwhile come before the
        # dialog, even on a loaded machine where each key takes a while to go through.
        await send(app, pilot, f"late-call 2000 {CALL}")
        typed, before, after = "", 0, 0
        # Keep typing (answer keys included) until ten keys have arrived with the dialog up.
        for char in "yay any nay anyway " * 200:  # until the dialog has been up for ten keys, however slow the machine
            await pilot.press("space" if char == " " else char)
            typed += char
            if isinstance(app.screen, ToolApprovalScreen):
                after += 1
            else:
                before += 1
            if after >= 10:
                break
            await pilot.pause(0.03)
        assert before and after >= 10, "keys came both before and after the dialog opened"
        await wait_until(pilot, lambda: app.chat.prompt.text == typed)
        assert isinstance(app.screen, ToolApprovalScreen) and not ran(in_tmp)
        await answer_dialog(pilot, "n")
        await wait_until(pilot, lambda: tool_results(app) and not app.session.running)
        assert tool_results(app)[0].tool_status == "denied" and not ran(in_tmp)
        assert app.chat.prompt.text == typed


async def test_editing_keys_and_a_paste_while_the_dialog_waits_edit_the_prompt(make_app, hostile, in_tmp) -> None:
    async with make_app(base_url=hostile.base_url, tools=MARKER_TOOL, api_key="") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, f"call {CALL}")
        dialog = await wait_for_screen(pilot, app, ToolApprovalScreen)
        await pilot.press(*"abc", "backspace")
        dialog.post_message(events.Paste(" pasted"))
        await wait_until(pilot, lambda: app.chat.prompt.text == "ab pasted")
        await pilot.press("ctrl+u")
        await wait_until(pilot, lambda: app.chat.prompt.text == "")
        assert app.screen is dialog and not ran(in_tmp)


async def test_escape_stops_the_turn_at_once_as_it_does_in_the_prompt(make_app, hostile, in_tmp) -> None:
    async with make_app(base_url=hostile.base_url, tools=MARKER_TOOL, api_key="") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, f"call {CALL}")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.session.running and tool_results(app))
        assert tool_results(app)[0].status == "stopped" and not ran(in_tmp)


async def test_a_click_on_the_dialog_is_a_move_to_it(make_app, hostile, in_tmp) -> None:
    async with make_app(base_url=hostile.base_url, tools=MARKER_TOOL, api_key="") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, f"call {CALL}")
        dialog = await wait_for_screen(pilot, app, ToolApprovalScreen)
        await pilot.click(".title")
        await wait_until(pilot, lambda: dialog.armed)
        await pilot.press("y")
        await wait_until(pilot, lambda: tool_results(app) and not app.session.running)
        assert ran(in_tmp)


async def test_an_offer_after_a_failed_turn_takes_no_key_typed_for_the_prompt(make_app) -> None:
    async with (SimServer(SimConfig(auto_tool_choice=False, api_key=TEST_API_KEY)) as server,
                make_app(base_url=server.base_url) as (app, pilot)):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "hello")
        offer = await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press(*"yes", "enter")
        await wait_until(pilot, lambda: app.chat.prompt.text == "yes")
        assert app.screen is offer, "neither y nor Enter answered the offer"
        await answer_dialog(pilot, "y")
        await wait_until(pilot, lambda: not app.session.running and app.session.conversation.messages[-1].status
                         == "complete")
        assert "tools" not in server.stats.last_request_body


async def test_ctrl_u_on_a_busy_app_deletes_only_what_was_typed_before_it(make_app, hostile) -> None:
    async with make_app(base_url=hostile.base_url) as (app, pilot):
        # Keys queued faster than the app handles them, as when it is busy drawing.
        for key, char in [("a", "a"), ("b", "b"), ("ctrl+u", None), ("c", "c"), ("backspace", None),
                          ("d", "d"), ("e", "e")]:
            app.post_message(events.Key(key, char))
        await wait_until(pilot, lambda: app.chat.prompt.text == "de", message="ctrl+u and backspace in order")


async def test_tab_and_an_answer_in_one_burst_answer_the_dialog(make_app, hostile, in_tmp) -> None:
    async with make_app(base_url=hostile.base_url, tools=MARKER_TOOL, api_key="") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, f"call {CALL}")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        # Both keys queued at once, as a terminal delivers "tab y" typed quickly: y must see
        # the dialog armed by the tab before it, not still waiting.
        app.post_message(events.Key("tab", None))
        app.post_message(events.Key("y", "y"))
        await wait_until(pilot, lambda: tool_results(app) and not app.session.running)
        assert ran(in_tmp) and app.chat.prompt.text == ""


async def test_the_offers_to_make_room_take_no_letter_typed_after_enter(make_app) -> None:
    from vllm_chat.ui.screens.room_offers import RoomOffersScreen

    async with (SimServer(SimConfig(max_model_len=64, api_key=TEST_API_KEY)) as small,
                make_app(base_url=small.base_url, tools={"enabled": False}) as (app, pilot)):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "word " * 200)
        offers = await wait_for_screen(pilot, app, RoomOffersScreen)
        await pilot.press(*"sdact", "enter")  # each letter takes a way once the dialog is answered
        await wait_until(pilot, lambda: app.chat.prompt.text.endswith("sdact"), message="the letters in the prompt")
        assert app.screen is offers and small.stats.requests == 0, "nothing was sent"
        await answer_dialog(pilot, "escape")
        await wait_until(pilot, lambda: app.screen is not offers)
        assert app.chat.prompt.text.startswith("word word") and app.chat.prompt.text.endswith("sdact"), \
            "the message comes back with what was typed after it"
