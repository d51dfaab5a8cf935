"""The first ten minutes, what stays in view (issue 12), at 120×40, 80×24 and 60×20: the
header keeps the connection state and the context meter however long the model's name
(the name is shortened in its middle), the footer keeps quit and help, the header says
what a reply waits for (its first token, with the seconds, or your approval), toasts
leave an error and the prompt readable, and the focused message stands out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from textual.widgets._toast import Toast

from tests.conftest import TEST_API_KEY
from tests.support.pilot import (
    focus_last_message,
    screen_text,
    send,
    turn,
    wait_for_screen,
    wait_for_stable_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.approval import ToolApprovalScreen
from vllm_chat.ui.widgets.message_views import AssistantMessageView, ErrorNotice, MessageView
from vllm_chat.ui.widgets.welcome_note import WelcomeNote

SIZES = [(120, 40), (80, 24), (60, 20)]
LONG_NAME = "meta-llama/Llama-3.3-70B-Instruct-FP8-dynamic"
SHOUT = {"shell": [{"name": "shout", "description": "Shout the given text back", "command": ["echo", "{text}"],
                    "parameters": {"text": {"type": "string", "description": "what to shout"}}}]}


def by_size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def header(app) -> str:
    return screen_text(app).splitlines()[0]


def footer(app) -> str:
    return screen_text(app).rstrip("\n").splitlines()[-1]


@pytest.fixture
async def long_named() -> AsyncIterator[SimServer]:
    """A server whose model has a name as long as real ones get, and a first token that
    takes its time."""
    async with SimServer(SimConfig(models=(LONG_NAME,), ttft=3.0, tps=200.0, api_key=TEST_API_KEY)) as server:
        yield server


@pytest.mark.parametrize("size", SIZES, ids=by_size)
async def test_a_long_model_name_is_shortened_in_the_middle_and_the_state_and_meter_stay(
        long_named, make_app, size) -> None:
    async with make_app(base_url=long_named.base_url, size=size) as (app, pilot):
        await wait_until(pilot, lambda: "connected" in header(app) and "ctx " in header(app),
                         message="the state and the meter in the header")
        line = header(app)
        assert "meta-llama/L" in line, "the family (the start of the name) stays"
        if size[0] < 120:
            assert LONG_NAME not in line and "…" in line, "shortened in the middle"
            assert line.split("…")[1].split()[0] in LONG_NAME[-20:], "the end (size, quantisation) stays"


@pytest.mark.parametrize("size", SIZES, ids=by_size)
async def test_before_the_first_token_the_header_says_so_and_counts_the_seconds(long_named, make_app, size) -> None:
    async with make_app(base_url=long_named.base_url, size=size) as (app, pilot):
        await wait_until(pilot, lambda: app.session.connection == "connected")
        await send(app, pilot, "hello")
        words = "waiting for the first token ·" if size[0] >= 80 else "waiting"
        await wait_until(pilot, lambda: f"{words} 1 s" in header(app), message="waiting, at 1 s")
        await wait_until(pilot, lambda: f"{words} 2 s" in header(app), message="the seconds move on")
        assert "ctx " in header(app) and "…" in header(app), "the model's name gave way, not the meter"
        await wait_until(pilot, lambda: "streaming" in header(app) or "connected" in header(app))


@pytest.mark.parametrize("size", SIZES, ids=by_size)
async def test_while_a_tool_call_waits_for_approval_the_header_says_so(sim, make_app, size) -> None:
    async with make_app(base_url=sim.base_url, tools=SHOUT, size=size) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "shout hello")
        await wait_for_screen(pilot, app, ToolApprovalScreen)
        await wait_until(pilot, lambda: "waiting for your approval" in header(app), message=header(app))
        assert "tok/s" not in header(app)
        await pilot.press("n")


@pytest.mark.parametrize("size", SIZES, ids=by_size)
async def test_the_footer_keeps_quit_and_help_at_any_width(sim, make_app, size) -> None:
    async with make_app(base_url=sim.base_url, size=size) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await wait_until(pilot, lambda: "⏎ Send" in footer(app) and "^q Quit" in footer(app)
                         and "f1 Help" in footer(app), message="quit and help in the prompt's footer")
        await turn(app, pilot, "echo hi")
        await pilot.press("alt+up")
        await wait_until(pilot, lambda: isinstance(app.focused, MessageView))
        await wait_until(pilot, lambda: "^q Quit" in footer(app) and "f1 Help" in footer(app)
                         and "Actions" in footer(app), message="and in a message's footer")


async def test_the_footers_keys_are_drawn_again_at_a_focus_change_but_not_restyled(sim, make_app, monkeypatch) -> None:
    """The footer builds its keys anew at every focus change; a key starts in the footer's
    style, so its style is not worked out again (Textual's keys start in another style
    and were each restyled twice: ~170 restyles for three focus changes)."""
    from textual.dom import DOMNode
    from textual.widgets._footer import FooterKey

    restyled: list[DOMNode] = []
    restyle = DOMNode.update_node_styles
    monkeypatch.setattr(DOMNode, "update_node_styles",
                        lambda node, animate=True: (restyled.append(node), restyle(node, animate))[1])
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await turn(app, pilot, "echo hi")
        for focused in (MessageView, type(app.chat.prompt), MessageView):
            await pilot.press("alt+up" if focused is MessageView else "escape")
            await wait_until(pilot, lambda kind=focused: isinstance(app.focused, kind))
            await wait_until(pilot, lambda kind=focused: ("Actions" in footer(app)) == (kind is MessageView))
        keys = [node for node in restyled if isinstance(node, FooterKey) and not node.has_class("-command-palette")]
        assert keys == [], "the palette's key keeps its own (compact) style, and is restyled once as it mounts"


async def test_the_footer_names_quit_and_help_by_the_keys_of_the_keymap(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(60, 20), keymap={"quit": "ctrl+b", "help": "f10"}) as (app, pilot):
        await wait_until(pilot, lambda: "^b Quit" in footer(app) and "f10 Help" in footer(app))


@pytest.mark.parametrize("size", SIZES, ids=by_size)
async def test_a_toast_leaves_an_error_and_the_prompt_readable(sim, make_app, size) -> None:
    async with make_app(base_url=sim.base_url, size=size) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "sim:error-first")
        notice = (await wait_until(pilot, lambda: list(app.chat.messages.query(ErrorNotice))))[0]
        app.chat.connect(announce=True)  # palette → Reconnect: "Connected to … 2 models."
        toast = (await wait_until(pilot, lambda: list(app.screen.query(Toast)), message="a toast"))[0]
        await wait_until(pilot, lambda: toast.region.area, message="the toast laid out")
        await wait_for_stable_screen(pilot, app)
        for covered in (notice, app.chat.prompt):
            assert not toast.region.overlaps(covered.region), (type(covered).__name__, toast.region, covered.region)
        assert not toast.region.overlaps(app.chat.status.region), "the header stays in view"


async def test_a_focused_message_is_barred_on_both_sides_without_its_text_moving(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo first")
        await turn(app, pilot, "echo second")
        first, last = list(app.chat.messages.query(AssistantMessageView))[-2:]
        text_width = last.content_region.width
        await focus_last_message(app, pilot)
        await wait_until(pilot, lambda: app.focused is last)
        variables = app.theme_variables
        for side in (last.styles.border_left, last.styles.border_right):
            assert side[1].hex6.lower() == variables["focus-border"].lower()
        assert first.styles.border_right[0] in ("", "none"), "only the focused message has the second bar"
        shown = await wait_for_stable_screen(pilot, app)  # the bars drawn
        assert last.content_region.width == text_width, "the bar takes the padding's place: no line rewraps"
        lines = [line for line in shown.splitlines() if "second" in line]
        assert lines and lines[-1].rstrip().endswith("█"), "the second bar is on screen"


@pytest.mark.parametrize("size", SIZES, ids=by_size)
async def test_the_demos_welcome_says_what_to_type_first(sim, make_app, size) -> None:
    async with make_app(base_url=sim.base_url, size=size, demo=True) as (app, pilot):
        def said() -> str:
            return " ".join(screen_text(app).replace("│", " ").split())

        words = "type hello for a tour, or help for every phrase it knows" if size[0] >= 120 else "try hello or help"
        # What to type, in the welcome, and the keys, as before.
        await wait_until(pilot, lambda: words in (text := said()) and "f1 every key" in text, message="the welcome")
        note = app.chat.messages.query_one(WelcomeNote)
        tall = note.outer_size.height + note.styles.margin.top + note.styles.margin.bottom
        assert tall <= app.chat.messages.content_region.height, "the whole note is in view, frame included"
    async with make_app(base_url=sim.base_url, size=size) as (app, pilot):
        await wait_for_text(pilot, app, "Ask anything.", absent=["hello"])  # a real server has no magic phrases
