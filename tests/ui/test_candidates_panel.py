"""N candidates and model comparisons in the app: the replies stream side by side (tabs on a
narrow terminal), each with its own footer; esc stops them all; ← → and enter pick one to
continue with, and the others stay as versions of it; a model that fails fails its column."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_API_KEY
from tests.support.pilot import reply_over, screen_text, send, wait_for_screen, wait_for_text, wait_until
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.compare import CompareScreen
from vllm_chat.ui.screens.pick_list import PickListScreen
from vllm_chat.ui.widgets.candidates_panel import CandidatesPanel


@pytest.fixture
async def sim_lora():
    """A simulated server with a LoRA adapter and a base model (chat on it fails with vLLM's 400)."""
    config = SimConfig(tps=300.0, api_key=TEST_API_KEY, loras={"sim-chat-terse": "sim-chat"},
                       base_models=("sim-base",))
    async with SimServer(config) as server:
        yield server


async def ask_candidates(app, pilot, choice: str) -> None:
    """alt+n, then the entry `choice` ("n:3", "beam:2") of the list."""
    await pilot.press("alt+n")
    screen = await wait_for_screen(pilot, app, PickListScreen)
    ids = [item_id for item_id, _ in screen.items]
    screen.query_one("OptionList").highlighted = ids.index(choice)
    await pilot.press("enter")


def panel(app) -> CandidatesPanel | None:
    return app.chat.candidates_panel


async def wait_for_line(pilot, app, *parts: str) -> str:
    """Wait until one line of the screen shows all of `parts` (the panel's head line), and return it."""
    def line() -> str | None:
        return next((row for row in screen_text(app).splitlines() if all(p in row for p in parts)), None)

    return await wait_until(pilot, line, message=f"a line with {parts}")


def ended(app) -> bool:
    p = panel(app)
    return p is not None and not p.streaming and not app.session.running


async def test_three_candidates_stream_side_by_side_with_their_own_footers_and_the_picked_one_stays(
        sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(120, 40)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models, message="connected")
        app.chat.prompt.load_text("Tell me about paged attention")
        await ask_candidates(app, pilot, "n:3")
        await wait_until(pilot, lambda: panel(app) is not None, message="the panel")
        await wait_for_line(pilot, app, "1 #1", "2 #2", "3 #3")  # the three replies side by side
        assert not panel(app).as_tabs and not app.chat.messages.display
        await wait_until(pilot, lambda: ended(app), message="the replies end")
        await wait_until(pilot, lambda: screen_text(app).count("TTFT") == 3, message="a footer per reply")
        await wait_until(pilot, lambda: "continue with it" in screen_text(app))

        await pilot.press("right", "enter")
        await wait_until(pilot, lambda: panel(app) is None, message="the panel closes on a pick")
        chosen = app.session.conversation.messages[-1]
        figures = app.session.status().candidates
        assert figures == (), "picked: the group is done"
        # The others stay as versions of the picked one, which is shown.
        await wait_for_text(pilot, app, "‹ 2/3 ›", chosen.content.splitlines()[0][:20])
        assert app.chat.messages.display


async def test_on_a_narrow_terminal_the_candidates_are_tabs_and_arrows_switch_them(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(60, 20)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models, message="connected")
        app.chat.prompt.load_text("hello")
        await ask_candidates(app, pilot, "n:3")
        await wait_until(pilot, lambda: panel(app) is not None and panel(app).as_tabs, message="tabs")
        await wait_until(pilot, lambda: " 1 #1   2 #2   3 #3" in screen_text(app), message="the tab bar")
        await wait_until(pilot, lambda: ended(app))
        first = app.session.status().candidates[0]
        assert panel(app).columns[0].display and not panel(app).columns[1].display, "one reply at a time"
        await pilot.press("right")
        await wait_until(pilot, lambda: panel(app).columns[1].display and not panel(app).columns[0].display)
        await wait_until(pilot, lambda: "│ 2 #2" in screen_text(app), message="#2 shown, under its own title")
        await pilot.press("enter")
        await wait_until(pilot, lambda: panel(app) is None)
        assert app.session.conversation.messages[-1].id != first.message_id
        await wait_until(pilot, lambda: "‹ 2/3 ›" in screen_text(app))


async def test_esc_stops_every_candidate_and_keeps_what_arrived(make_app) -> None:
    async with SimServer(SimConfig(tps=25.0, api_key=TEST_API_KEY)) as slow:
        async with make_app(base_url=slow.base_url, size=(120, 40)) as (app, pilot):
            await wait_until(pilot, lambda: app.session.models, message="connected")
            app.chat.prompt.load_text("long 800")
            await ask_candidates(app, pilot, "n:2")
            await wait_until(pilot, lambda: all(c.tokens > 5 for c in app.session.status().candidates or [None]
                                                if c is not None) and app.session.status().candidates,
                             message="both replies streaming")
            await wait_for_text(pilot, app, "stop all")
            await pilot.press("escape")
            await wait_until(pilot, lambda: ended(app), message="stopped")
            await wait_until(pilot, lambda: screen_text(app).count("· stopped") == 2, message="each says so")
            messages = [app.session.conversation.messages[-1], *app.session.conversation.aside]
            assert [m.status for m in messages] == ["stopped", "stopped"] and all(m.content for m in messages)
            await pilot.press("escape")
            await wait_until(pilot, lambda: panel(app) is None, message="esc closes once stopped")
            await wait_until(pilot, lambda: "‹ 1/2 ›" in screen_text(app))


async def test_a_comparison_shows_a_failing_model_in_its_own_column_and_the_pick_switches_model(
        sim_lora, make_app) -> None:
    async with make_app(base_url=sim_lora.base_url, model="sim-chat", size=(120, 40)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models, message="connected")
        app.chat.prompt.load_text("hello")
        await pilot.press("alt+m")
        screen = await wait_for_screen(pilot, app, CompareScreen)
        await wait_for_text(pilot, app, "↳ sim-chat-terse", "LoRA")  # adapters under their base
        choices = screen.query_one("SelectionList")
        choices.select("sim-chat-terse")
        choices.select("sim-base")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: panel(app) is not None)
        await wait_until(pilot, lambda: ended(app), message="the replies end")
        await wait_for_text(pilot, app, "has no chat template")
        await wait_for_line(pilot, app, "1 sim-chat", "2 sim-chat-terse", "3 sim-base  failed")
        figures = app.session.status().candidates
        assert [c.state for c in figures] == ["done", "done", "failed"]
        await pilot.press("right", "enter")
        await wait_until(pilot, lambda: panel(app) is None)
        assert app.session.conversation.model == "sim-chat-terse", "the picked model continues"
        await wait_until(pilot, lambda: "sim-chat-terse" in screen_text(app).splitlines()[0])


async def test_a_comparison_needs_two_models_and_says_so_in_the_dialog(sim_lora, make_app) -> None:
    async with make_app(base_url=sim_lora.base_url, model="sim-chat") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models, message="connected")
        app.chat.prompt.load_text("hello")
        await pilot.press("alt+m")
        await wait_for_screen(pilot, app, CompareScreen)
        await pilot.press("ctrl+s")
        await wait_for_text(pilot, app, "at least two models")
        assert isinstance(app.screen, CompareScreen) and not app.session.conversation.messages


async def test_the_last_reply_is_regenerated_as_candidates_from_its_menu(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(120, 40)) as (app, pilot):
        await send(app, pilot, "hello")
        await wait_until(pilot, lambda: reply_over(app))
        earlier = app.session.conversation.messages[-1]
        await pilot.press("alt+up")
        await wait_until(pilot, lambda: app.focused is not None and getattr(app.focused, "message", None) is earlier)
        await pilot.press("enter")
        menu = await wait_for_screen(pilot, app, PickListScreen)
        assert "candidates" in [item_id for item_id, _ in menu.items]
        menu.query_one("OptionList").highlighted = [i for i, _ in menu.items].index("candidates")
        await pilot.press("enter")
        # The next list replaces the menu: wait for it, not for the menu still on screen.
        await wait_until(pilot, lambda: isinstance(app.screen, PickListScreen) and app.screen is not menu,
                         message="the list of counts")
        await wait_for_text(pilot, app, "last prompt again")
        await pilot.press("enter")  # 3 candidates, highlighted first
        await wait_until(pilot, lambda: ended(app), message="the replies end")
        await pilot.press("escape")
        await wait_until(pilot, lambda: panel(app) is None)
        await wait_until(pilot, lambda: "‹ 2/4 ›" in screen_text(app), message="the earlier reply is version 1")
        assert app.session.alternatives(app.session.conversation.messages[-1].id) == (2, 4)


async def test_a_picked_reply_that_asked_for_a_tool_runs_its_call_then_the_model_answers(sim_lora,
                                                                                         make_app) -> None:
    async with make_app(base_url=sim_lora.base_url, model="sim-chat", size=(120, 40)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models, message="connected")
        app.chat.prompt.load_text("calculate 2+3")
        await pilot.press("alt+m")
        screen = await wait_for_screen(pilot, app, CompareScreen)
        screen.query_one("SelectionList").select("sim-chat-terse")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: ended(app))
        await wait_until(pilot, lambda: screen_text(app).count("(run if picked)") == 2)
        await pilot.press("enter")
        await wait_until(pilot, lambda: reply_over(app) and app.session.conversation.messages[-1].content,
                         message="the call ran and the model answered")
        roles = [m.role for m in app.session.conversation.messages]
        assert roles == ["user", "assistant", "tool", "assistant"]
        assert "5" in app.session.conversation.messages[2].content


async def test_alt_n_as_a_terminal_sends_it_opens_the_list_and_types_nothing(sim, make_app) -> None:
    from textual import events

    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models, message="connected")
        app.chat.prompt.load_text("hello")
        app.post_message(events.Key("alt+n", "n"))  # ESC n arrives with "n" as its character
        await wait_for_screen(pilot, app, PickListScreen)
        assert app.chat.prompt.text == "hello"


async def test_a_new_conversation_takes_the_panel_away(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(120, 40)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models, message="connected")
        app.chat.prompt.load_text("hello")
        await ask_candidates(app, pilot, "n:2")
        await wait_until(pilot, lambda: ended(app))
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: panel(app) is None and app.chat.messages.display)
        await wait_until(pilot, lambda: "Ask anything" in screen_text(app))
        assert app.session.status().candidates == ()


async def test_a_column_shows_what_its_reply_streams_even_if_the_message_took_it_in_first(
        sim, make_app) -> None:
    # The engine runs ahead of the screen: when the panel opens, a reply's message may hold
    # text whose deltas are still to come to its column.
    from vllm_chat.core.conversation import Message
    from vllm_chat.core.events import ContentDelta, TurnFinished
    from vllm_chat.ui.widgets.candidates_panel import CandidateColumn

    message = Message(role="assistant", status="streaming", content="already in")
    column = CandidateColumn(0, "#1", message)
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await app.screen.mount(column)
        column.apply(ContentDelta("already in"))
        message.status = "complete"
        column.apply(TurnFinished(message))
        await wait_until(pilot, lambda: column.reply.body.settled, message="the reply drawn")
        assert column.reply.body.source == "already in"
