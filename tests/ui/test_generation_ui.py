"""vLLM's generation controls in the app: a JSON reply pretty-printed with its check badge, a
server that ignored the constraint said so, the settings panel and the palette setting the
constraint, the reasoning controls and the mode, the footer naming the reasoning controls,
and completion mode offered for a base model, with continue, regenerate and stop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from textual.widgets import Input, RadioSet, Select

from tests.conftest import TEST_API_KEY
from tests.support.pilot import (
    answer_dialog,
    run_command,
    screen_text,
    send,
    turn,
    wait_for_reply,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.core.generation.constraint_input import schema_constraint
from vllm_chat.core.generation.reasoning import ReasoningControls
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.screens.constraint_input import ConstraintInputScreen
from vllm_chat.ui.screens.settings import SettingsScreen

PERSON = json.dumps({"title": "person", "type": "object", "required": ["name", "age"],
                     "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}})


@pytest.fixture
async def base_sim() -> AsyncIterator[SimServer]:
    """sim-chat and a base model without a chat template, streaming at a pace Esc can catch."""
    config = SimConfig(tps=150.0, models=("sim-chat", "sim-base"), base_models=("sim-base",),
                       api_key=TEST_API_KEY)
    async with SimServer(config) as server:
        yield server


async def test_a_json_reply_is_pretty_printed_with_a_valid_badge(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(100, 36)) as (app, pilot):
        app.session.set_constraint(schema_constraint(PERSON))
        await wait_until(pilot, lambda: "json: person" in screen_text(app), message="the header's constraint")
        await turn(app, pilot, "a person")

        def fields_on_their_own_lines() -> bool:
            text = screen_text(app)
            lines = [line.strip(" █▌") for line in text.splitlines()]
            return "✓ valid against person" in text and '"name": "Ada Lovelace",' in lines and '"age": 36' in lines

        await wait_until(pilot, fields_on_their_own_lines, message="one field per line and the badge")
        assert app.session.conversation.messages[-1].content == '{"name": "Ada Lovelace", "age": 36}'


async def test_a_reply_that_ignores_the_constraint_says_the_server_ignored_it(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(100, 40)) as (app, pilot):
        app.session.set_constraint(schema_constraint(PERSON))
        await turn(app, pilot, "anyone sim:unconstrained")
        await wait_until(pilot, lambda: "✗ does not match: not JSON" in screen_text(app))
        await wait_until(pilot, lambda: "so the server ignored it" in screen_text(app))


async def test_a_reply_cut_at_max_tokens_is_marked_cut_not_invalid(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, sampling={"max_tokens": 6}) as (app, pilot):
        app.session.set_constraint(schema_constraint(PERSON))
        await turn(app, pilot, "x sim:ramble")
        await wait_for_text(pilot, app, "not checked against person: cut at max_tokens", absent=["does not match"])


async def test_the_settings_panel_sets_the_constraint_the_reasoning_controls_and_the_mode(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(110, 60)) as (app, pilot):
        await pilot.press("ctrl+s")
        screen = await wait_for_screen(pilot, app, SettingsScreen)
        screen.query_one("#gen-constraint-kind", Select).value = "choice"
        await wait_until(pilot, lambda: not screen.query_one("#gen-constraint", Input).disabled)
        await pilot.pause()
        await wait_until(pilot, lambda: "The choice list is empty" in screen_text(app))
        screen.query_one("#gen-constraint", Input).focus()
        await pilot.press(*"yes, no")
        screen.query_one("#gen-effort", Select).value = "low"
        screen.query_one("#gen-budget", Input).focus()
        await pilot.press(*"64")
        screen.query_one("#gen-kwargs", Input).focus()
        await pilot.press(*"custom=1")
        screen.query_one("#gen-include", RadioSet).focus()
        await pilot.press("right", "right", "enter")
        await wait_until(pilot, lambda: "The choice list is empty" not in screen_text(app))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen))
    conv = app.session.conversation
    assert conv.constraint.choices == ["yes", "no"]
    assert conv.reasoning_controls == ReasoningControls(reasoning_effort="low", thinking_token_budget=64,
                                                        include_reasoning=False, chat_template_kwargs={"custom": 1})


async def test_the_settings_panel_refuses_to_save_a_bad_value_and_says_where(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(110, 60)) as (app, pilot):
        await pilot.press("ctrl+s")
        screen = await wait_for_screen(pilot, app, SettingsScreen)
        screen.query_one("#gen-budget", Input).focus()
        await pilot.press(*"lots")
        await wait_until(pilot, lambda: "thinking_token_budget must be a whole number, got 'lots'." in
                         screen_text(app))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "Fix 1 field before saving: thinking_token_budget." in screen_text(app))
        assert isinstance(app.screen, SettingsScreen) and app.focused is screen.query_one("#gen-budget")


async def test_the_palette_sets_and_clears_a_regex_constraint(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await run_command(app, pilot, "Constraint: regex")
        await wait_for_screen(pilot, app, ConstraintInputScreen)
        await pilot.press("(", "enter")
        await wait_until(pilot, lambda: "is not valid" in screen_text(app), message="the regex refused")
        await pilot.press("backspace", *"[A-Z]{3}-[0-9]{2}", "enter")
        await wait_until(pilot, lambda: app.session.constraint is not None)
        assert app.session.constraint.regex == "[A-Z]{3}-[0-9]{2}"
        await turn(app, pilot, "a code")
        await wait_until(pilot, lambda: "✓ valid against regex [A-Z]{3}-[0-9]{2}" in screen_text(app))
        await run_command(app, pilot, "Clear constraint")
        await wait_until(pilot, lambda: app.session.constraint is None)


async def test_the_reply_footer_names_the_reasoning_controls_it_was_sent_with(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, reasoning={"reasoning_effort": "low"}) as (app, pilot):
        await turn(app, pilot, "echo hi")
        # On the reply's own stats line.
        await wait_until(pilot, lambda: any("effort low" in line and "tokens" in line
                                            for line in screen_text(app).splitlines()), message="the footer")
        assert app.session.conversation.messages[-1].reasoning_controls.reasoning_effort == "low"


async def test_a_base_model_is_offered_completion_mode_and_the_turn_is_answered(base_sim, make_app) -> None:
    async with make_app(base_url=base_sim.base_url, model="sim-base", size=(100, 36)) as (app, pilot):
        await send(app, pilot, "Once upon a time")
        dialog = await wait_for_screen(pilot, app, ConfirmScreen)
        await wait_for_text(pilot, app, "sim-base has no chat template", "Use completion mode for this conversation?")
        await answer_dialog(pilot, "y")
        await wait_until(pilot, lambda: not dialog.is_attached)
        await wait_for_reply(app, pilot)
        assert app.session.completion_mode and base_sim.stats.last_request_body["prompt"] == "Once upon a time"
        reply = app.session.conversation.messages[-1]
        assert reply.status == "complete" and reply.content
        await wait_until(pilot, lambda: "completion" in screen_text(app).splitlines()[0], message="header")


async def test_completion_mode_stops_continues_and_regenerates(base_sim, make_app) -> None:
    async with make_app(base_url=base_sim.base_url, model="sim-base", completion=True,
                        size=(100, 36)) as (app, pilot):
        await send(app, pilot, "long 3000")
        await wait_until(pilot, lambda: len(app.session.conversation.messages) == 2
                         and len(app.session.conversation.messages[-1].content) > 40, message="some text")
        await pilot.press("escape")
        await wait_for_reply(app, pilot)
        reply = app.session.conversation.messages[-1]
        assert reply.status == "stopped"
        kept = reply.content
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.session.running)
        await wait_until(pilot, lambda: len(reply.content) > len(kept) + 20, message="the continuation")
        await pilot.press("escape")
        await wait_for_reply(app, pilot)
        assert reply.content.startswith(kept) and app.session.conversation.messages[-1] is reply
        assert base_sim.stats.last_request_body["prompt"] == "long 3000" + kept
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.session.conversation.messages[-1] is not reply)
        await pilot.press("escape")
        await wait_for_reply(app, pilot)
        await wait_until(pilot, lambda: "‹ 2/2 ›" in screen_text(app), message="the regenerated version")
        assert base_sim.stats.last_request_body["prompt"] == "long 3000"


async def test_its_key_switches_completion_mode_and_the_header_says_so(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await pilot.press("alt+b")
        await wait_until(pilot, lambda: app.session.completion_mode)
        await wait_until(pilot, lambda: "· completion" in screen_text(app).splitlines()[0])
        await pilot.press("alt+b")
        await wait_until(pilot, lambda: "· completion" not in screen_text(app).splitlines()[0])
        assert not app.session.completion_mode


async def test_attachments_in_completion_mode_are_kept_and_not_sent(sim, make_app, tmp_path) -> None:
    from PIL import Image

    picture = tmp_path / "p.png"
    Image.new("RGB", (32, 32), (10, 20, 30)).save(picture)
    async with make_app(base_url=sim.base_url, completion=True) as (app, pilot):
        await send(app, pilot, f"/attach {picture}")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        await send(app, pilot, "what is this?")
        await wait_until(pilot, lambda: "Completion mode sends text only" in screen_text(app))
        assert app.chat.prompt.text == "what is this?" and len(app.chat.attachments.chips) == 1
        assert not app.session.conversation.messages


async def test_a_completion_is_shown_literally_and_a_chat_reply_as_markdown(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, completion=True) as (app, pilot):
        await turn(app, pilot, "echo def f():\n    return **x**")
        # The prompt shows it literally in any mode; the reply only in completion mode.
        await wait_until(pilot, lambda: screen_text(app).count("    return **x**") == 2,
                         message="the reply's indentation and stars kept")
        await pilot.press("alt+b")
        await wait_until(pilot, lambda: screen_text(app).count("    return **x**") == 1,
                         message="the reply as Markdown in chat mode")
