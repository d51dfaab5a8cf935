"""The cockpit in the TUI, driven from the keyboard against the simulated vLLM: the server
panel (its key and the palette), why a reply waits and the load in the header, the
logprobs switch (palette and settings), the confidence view with its token cursor, the
reply footer's server timings and perplexity, and the request view with its copies and
the rendered prompt; at 120×40, 80×24 and 60×20."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI

from tests.conftest import TEST_API_KEY
from tests.support.pilot import run_command, screen_text, turn, wait_for_screen, wait_for_text, wait_until
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.confidence import ConfidenceScreen
from vllm_chat.ui.screens.request_view import RenderedPromptScreen, RequestScreen
from vllm_chat.ui.screens.server_panel import ServerPanelScreen
from vllm_chat.ui.screens.settings import SettingsScreen
from vllm_chat.ui.widgets.token_text import TokenText

SIZES = [(120, 40), (80, 24), (60, 20)]


@pytest.fixture
async def busy_sim() -> AsyncIterator[SimServer]:
    """A server small enough to queue: 4 requests at once, with per-request metrics."""
    async with SimServer(SimConfig(tps=150.0, max_num_seqs=4, kv_cache_tokens=131072, per_request_metrics=True,
                                   api_key=TEST_API_KEY)) as server:
        yield server


async def focus_last_reply(app, pilot) -> None:
    await pilot.press("alt+up")
    await wait_until(pilot, lambda: app.focused is not None and type(app.focused).__name__ == "AssistantMessageView")


async def test_f3_opens_the_server_panel_which_follows_the_load_until_closed(make_app, busy_sim) -> None:
    async with make_app(base_url=busy_sim.base_url, size=(120, 40)) as (app, pilot):
        await pilot.press("f3")
        await wait_for_screen(pilot, app, ServerPanelScreen)
        await wait_for_text(pilot, app, "0.32.0", "KV cache", "Model                sim-chat · max_model_len 32768",
                            "Requests             0 running · 0 waiting")
        client = AsyncOpenAI(base_url=busy_sim.base_url, api_key=TEST_API_KEY, max_retries=0)
        others = asyncio.create_task(client.chat.completions.create(
            model="sim-chat", messages=[{"role": "user", "content": "sim:load=6 hello"}]))
        await wait_until(pilot, lambda: "Requests             4 running · 3 waiting" in screen_text(app),
                         message="the panel to show the queue")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ServerPanelScreen))
        assert "panel" not in app.session._tasks  # no more polling once closed
        others.cancel()
        await client.close()


async def test_the_palette_opens_the_server_panel(make_app, busy_sim) -> None:
    async with make_app(base_url=busy_sim.base_url) as (app, pilot):
        await run_command(app, pilot, "Server panel")
        await wait_for_screen(pilot, app, ServerPanelScreen)


async def test_a_reply_stuck_in_the_queue_says_why_in_the_header(make_app, busy_sim) -> None:
    async with make_app(base_url=busy_sim.base_url, size=(120, 40)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.connection == "connected")
        app.chat.prompt.load_text("sim:load=6 hello")
        app.chat.prompt.action_submit()
        await wait_until(pilot, lambda: "2 requests ahead, 4 running, KV cache 97 %" in screen_text(app),
                         message="the waiting line's reason")
        await wait_until(pilot, lambda: "requests ahead" not in screen_text(app))


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_on_a_narrow_screen_the_reason_shortens_and_the_context_meter_stays(make_app, busy_sim, size) -> None:
    async with make_app(base_url=busy_sim.base_url, size=size) as (app, pilot):
        await wait_until(pilot, lambda: app.session.connection == "connected")
        app.chat.prompt.load_text("sim:load=6 hello")
        app.chat.prompt.action_submit()

        def header() -> str:
            return screen_text(app).splitlines()[0]

        # At 60 columns the reason is said in brief ("2 ahead") rather than pushing out the meter.
        reasons = ("2 requests ahead",) if size[0] >= 80 else ("2 requests ahead", "2 ahead")

        def reason_whole_and_meter() -> bool:
            line = header()
            return any(r in line for r in reasons) and "ctx " in line and "waiting " in line and "…" not in line

        await wait_until(pilot, reason_whole_and_meter, message="the reason, whole, and the meter")


async def test_the_header_shows_the_load_while_the_server_is_busy(make_app, busy_sim) -> None:
    async with make_app(base_url=busy_sim.base_url, size=(120, 40), load_poll_interval=0.3) as (app, pilot):
        client = AsyncOpenAI(base_url=busy_sim.base_url, api_key=TEST_API_KEY, max_retries=0)
        others = asyncio.create_task(client.chat.completions.create(
            model="sim-chat", messages=[{"role": "user", "content": "sim:load=8 hello"}]))
        await wait_until(pilot, lambda: "server busy: " in (line := screen_text(app).splitlines()[0])
                         and "waiting · KV 97 %" in line, message="the load indicator")
        await others
        await wait_until(pilot, lambda: "server busy" not in screen_text(app).splitlines()[0])
        await client.close()


async def test_logprobs_are_switched_on_from_the_palette_and_shown_in_the_settings(make_app, busy_sim) -> None:
    async with make_app(base_url=busy_sim.base_url) as (app, pilot):
        await run_command(app, pilot, "Logprobs on")
        await wait_until(pilot, lambda: app.session.logprobs == 5)
        await turn(app, pilot, "hello")
        assert busy_sim.stats.last_request_body["top_logprobs"] == 5
        await pilot.press("ctrl+s")
        screen = await wait_for_screen(pilot, app, SettingsScreen)
        field = screen.query_one("#param-logprobs")
        assert field.value == "5"
        field.value = ""  # empty: off
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen))
        assert app.session.logprobs is None


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_confidence_view_walks_the_reply_token_by_token(make_app, busy_sim, size) -> None:
    async with make_app(base_url=busy_sim.base_url, size=size, sampling={"logprobs": 3},
                        tools={"enabled": False}) as (app, pilot):
        await turn(app, pilot, "markdown")
        reply = app.session.conversation.messages[-1]
        await wait_until(pilot, lambda: "mean logprob -" in screen_text(app) and "perplexity" in screen_text(app))
        await focus_last_reply(app, pilot)
        await pilot.press("p")
        screen = await wait_for_screen(pilot, app, ConfidenceScreen)
        count = reply.logprobs.count
        await wait_for_text(pilot, app, f"token 1 of {count}", "“#”", "the likeliest of 3")
        await pilot.press("right")
        await wait_until(pilot, lambda: f"token 2 of {count}" in screen_text(app))
        await pilot.press("n")
        heatmap = screen.query_one(TokenText)
        await wait_until(pilot, lambda: heatmap.cursor > 1)
        assert app.session.logprobs_of(reply.id)[heatmap.cursor].probability < 0.3
        await wait_until(pilot, lambda: f"token {heatmap.cursor + 1} of {count}" in screen_text(app))
        await pilot.press("end")
        await wait_until(pilot, lambda: f"token {count} of {count}" in screen_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfidenceScreen))


async def test_the_reply_footer_shows_vllm_s_timings_under_the_client_s(make_app, busy_sim) -> None:
    async with make_app(base_url=busy_sim.base_url, size=(120, 40), sampling={"logprobs": 1}) as (app, pilot):
        await turn(app, pilot, "echo hi")

        def footer_in_order() -> bool:
            lines = screen_text(app).splitlines()
            client = next((i for i, line in enumerate(lines) if "TTFT" in line and "server:" not in line), None)
            return (client is not None and client + 2 < len(lines) and "server: queue " in lines[client + 1]
                    and " TTFT " in lines[client + 1] and "mean logprob" in lines[client + 2])

        await wait_until(pilot, footer_in_order, message="the client's line, then vLLM's, then the confidence")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_request_view_shows_the_request_redacted_and_copies_it(make_app, busy_sim, size) -> None:
    async with make_app(base_url=busy_sim.base_url, size=size) as (app, pilot):
        await turn(app, pilot, "hello")
        reply = app.session.conversation.messages[-1]
        await focus_last_reply(app, pilot)
        await pilot.press("x")
        await wait_for_screen(pilot, app, RequestScreen)
        await wait_for_text(pilot, app, "POST ", "[redacted]", absent=[TEST_API_KEY])
        for key, form in (("c", "curl"), ("j", "json"), ("p", "python")):
            await pilot.press(key)
            await wait_until(pilot, lambda f=form: app.clipboard == app.session.request_as(reply.id, f))
        assert TEST_API_KEY not in app.clipboard


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_rendered_prompt_shows_special_tokens_and_boundaries_on_demand(make_app, busy_sim, size) -> None:
    async with make_app(base_url=busy_sim.base_url, size=size, system_prompt="Be terse.",
                        tools={"enabled": False}) as (app, pilot):
        await turn(app, pilot, "hello")
        await focus_last_reply(app, pilot)
        await pilot.press("x")
        await wait_for_screen(pilot, app, RequestScreen)
        await pilot.press("r")
        screen = await wait_for_screen(pilot, app, RenderedPromptScreen)
        await wait_for_text(pilot, app, "<|im_start|>system", "Be terse.")
        await wait_until(pilot, lambda: "special token" in screen_text(app))  # the cursor starts on <|im_start|>
        view = screen.query_one(TokenText)
        before = list(view._styles)
        await pilot.press("b")
        await wait_until(pilot, lambda: screen.boundaries and view._styles != before)
        await pilot.press("n")  # the next special token
        await wait_until(pilot, lambda: view.cursor > 0 and "special token" in screen_text(app))
        await pilot.press("escape")
        await wait_for_screen(pilot, app, RequestScreen)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_server_panel_fits_every_size(make_app, busy_sim, size) -> None:
    async with make_app(base_url=busy_sim.base_url, size=size) as (app, pilot):
        await pilot.press("f3")
        await wait_for_screen(pilot, app, ServerPanelScreen)
        await wait_until(pilot, lambda: "KV cache" in screen_text(app) and "close" in screen_text(app))
