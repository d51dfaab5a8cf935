"""The app in front of a router or gateway, driven with Pilot over HTTP: a busy server's
countdown in the header (Esc stops the wait), the warning while TLS is not checked, and
the server picker (alt+o) listing every profile with its models and moving the
conversation to another server."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from tests.support.gateway import Gateway
from tests.support.pilot import (
    focus_last_message,
    screen_text,
    send,
    turn,
    wait_for_reply,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.model_picker import ModelPickerScreen
from vllm_chat.ui.screens.request_view import RequestScreen
from vllm_chat.ui.screens.server_picker import ServerPickerScreen


def header(app) -> str:
    return screen_text(app).splitlines()[0]


async def test_a_busy_router_counts_down_in_the_header_then_the_reply_arrives(sim, make_app) -> None:
    async with Gateway(sim.base_url) as gw:
        gw.busy = [(429, 6)]  # long enough for the countdown to be drawn on a loaded machine
        async with make_app(base_url=gw.base_url, model="sim-chat") as (app, pilot):
            await send(app, pilot, "echo worth the wait")
            await wait_until(pilot, lambda: "server busy, retrying in" in header(app), message="the countdown")
            await wait_for_reply(app, pilot)
            assert app.session.conversation.messages[-1].content == "worth the wait"
            await wait_until(pilot, lambda: "worth the wait" in screen_text(app))
    assert [s.status for s in gw.seen if s.path.endswith("/chat/completions")] == [429, 200]


async def test_escape_during_the_wait_stops_the_turn(sim, make_app) -> None:
    async with Gateway(sim.base_url) as gw:
        gw.busy = [(503, 60)]
        async with make_app(base_url=gw.base_url, model="sim-chat") as (app, pilot):
            await send(app, pilot, "echo never sent again")
            await wait_until(pilot, lambda: "server busy, retrying in" in header(app), message="the countdown")
            await pilot.press("escape")
            await wait_for_reply(app, pilot)
            assert app.session.conversation.messages[-1].status == "stopped"
            await wait_until(pilot, lambda: "server busy" not in header(app))
    assert [s.status for s in gw.seen if s.path.endswith("/chat/completions")] == [503]


async def test_the_header_warns_while_tls_is_not_checked(make_app) -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, tls=trustme.CA()) as gw:
        async with make_app(base_url=gw.base_url, insecure=True, api_key="EMPTY") as (app, pilot):
            await wait_until(pilot, lambda: app.session.models, message="the model list over unchecked TLS")
            await wait_until(pilot, lambda: "TLS unchecked" in header(app))


@pytest.fixture
async def two_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    async with SimServer(SimConfig()) as first, SimServer(SimConfig(models=("other-model",))) as second:
        config = tmp_path / "config.toml"
        config.write_text(f'[profiles.gpu-a]\nbase_url = "{first.base_url}"\n'
                          f'[profiles.gpu-b]\nbase_url = "{second.base_url}"\n'
                          '[profiles.down]\nbase_url = "http://127.0.0.1:9/v1"\n')
        monkeypatch.setenv("VLLM_CHAT_CONFIG", str(config))
        monkeypatch.setenv("VLLM_CHAT_PROFILE", "gpu-a")
        yield first, second


async def test_the_server_picker_lists_every_profile_with_its_models_and_moves_the_conversation(
        two_servers, make_app) -> None:
    first, second = two_servers
    async with make_app(api_key="EMPTY", size=(110, 34)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models, message="the first server's models")
        await wait_until(pilot, lambda: "@ gpu-a" in header(app), message="the header on the first server")
        await send(app, pilot, "echo asked on gpu-a")
        await wait_for_reply(app, pilot)
        await pilot.press("alt+o")
        await wait_for_screen(pilot, app, ServerPickerScreen)
        await wait_for_text(pilot, app, "other-model", "● gpu-a", "sim-chat", "gpu-b", "down", "Can't reach the server")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: "@ gpu-b" in header(app) and "other-model" in header(app),
                         message="the header on the second server")
        assert app.session.conversation.messages[0].content == "echo asked on gpu-a", "the conversation stays"
        await send(app, pilot, "echo asked on gpu-b")
        await wait_for_reply(app, pilot)
        assert second.stats.last_request_body["model"] == "other-model"
        assert len(second.stats.last_request_body["messages"]) >= 3, "the whole conversation went along"
        await pilot.press("ctrl+o")
        await wait_for_screen(pilot, app, ModelPickerScreen)
        await wait_until(pilot, lambda: "served by gpu-b" in screen_text(app))


async def test_a_narrow_header_keeps_the_countdown_and_the_tls_warning_in_short(make_app) -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, tls=trustme.CA()) as gw:
        gw.busy = [(429, 30)]
        async with make_app(base_url=gw.base_url, insecure=True, api_key="EMPTY", model="sim-chat",
                            size=(60, 20)) as (app, pilot):
            await send(app, pilot, "echo hi")
            await wait_until(pilot, lambda: "busy, retry in" in header(app) and "!TLS" in header(app),
                             message="the short countdown and warning")
            await pilot.press("escape")
            await wait_for_reply(app, pilot)


async def test_the_request_view_and_its_copies_never_show_a_header_value(sim, make_app,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "ui-gw-s3cret-6a0f"
    monkeypatch.setenv("GW_TOKEN", secret)
    async with Gateway(sim.base_url, require={"X-Gateway-Token": secret}, routing_header="x-user-id") as gw:
        async with make_app(base_url=gw.base_url, headers={"X-Gateway-Token": "${GW_TOKEN}"},
                            routing_header="x-user-id") as (app, pilot):
            await turn(app, pilot, "echo shown, not told")
            reply = app.session.conversation.messages[-1]
            await focus_last_message(app, pilot)
            await pilot.press("x")
            await wait_for_screen(pilot, app, RequestScreen)
            await wait_for_text(pilot, app, "X-Gateway-Token: •••", f"x-user-id: {app.session.conversation.id}",
                                absent=[secret])
            await pilot.press("c")
            await wait_until(pilot, lambda: app.clipboard == app.session.request_as(reply.id, "curl"))
            assert secret not in app.clipboard and "${GW_TOKEN}" in app.clipboard
