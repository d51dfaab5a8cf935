"""The keymap remaps bindings by id (and conflicts are reported); themes load, fall back
when broken, and a theme picked in the app is remembered in the config file."""

from __future__ import annotations

from pathlib import Path

from tests.support.pilot import wait_for_screen, wait_until
from vllm_chat.core.config import tomllib
from vllm_chat.ui.screens.help import HelpScreen
from vllm_chat.ui.screens.model_picker import ModelPickerScreen


def notes(app) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


async def test_a_binding_can_be_moved_to_another_key(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap={"pick-model": "f9"}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await pilot.press("ctrl+o")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ModelPickerScreen), "the old key is free now"
        await pilot.press("f9")
        await wait_for_screen(pilot, app, ModelPickerScreen)


async def test_the_send_key_can_be_remapped_and_enter_then_adds_a_line(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap={"send": "ctrl+d"}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await pilot.press("h", "i", "enter", "y", "o", "ctrl+d")
        await wait_until(pilot, lambda: app.session.conversation.messages
                         and app.session.conversation.messages[0].content == "hi\nyo")


async def test_the_help_screen_shows_the_keys_in_force(sim, make_app) -> None:
    from rich.console import Console

    async with make_app(base_url=sim.base_url, keymap={"pick-model": "f9"}) as (app, pilot):
        await pilot.press("f1")
        await wait_for_screen(pilot, app, HelpScreen)
        console = Console(width=120, record=True, file=open("/dev/null", "w"))
        console.print(app.screen._table())
        line = next(line for line in console.export_text().splitlines() if "pick-model" in line)
        assert "f9" in line and "ctrl+o" not in line


async def test_conflicts_and_unknown_ids_are_reported_once_and_not_applied(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap={"pick-model": "ctrl+s", "sned": "x"}) as (app, pilot):
        await wait_until(pilot, lambda: "keymap:" in notes(app))
        text = notes(app)
        assert "ctrl+s would trigger both 'open-settings' and 'pick-model'" in text
        assert "'sned' is not a binding id (did you mean 'send'?)" in text
        await wait_until(pilot, lambda: app.session.models)
        await pilot.press("ctrl+o")
        await wait_for_screen(pilot, app, ModelPickerScreen), "the default stays"


async def test_a_broken_theme_is_reported_and_the_default_is_used(sim, make_app, isolated_env: Path) -> None:
    themes = isolated_env / "xdg-config" / "vllm-chat" / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    async with make_app(base_url=sim.base_url, theme="broken") as (app, pilot):
        await wait_until(pilot, lambda: "broken.toml" in notes(app))
        assert "not-a-colour" in notes(app) and "using vllm-night" in notes(app)
        assert app.theme == "vllm-night"


async def test_a_users_own_theme_and_textual_builtins_are_available(sim, make_app, isolated_env: Path) -> None:
    themes = isolated_env / "xdg-config" / "vllm-chat" / "themes"
    themes.mkdir(parents=True)
    (themes / "mine.toml").write_text('name = "mine"\nprimary = "#ff8800"\nbackground = "#101010"\n')
    async with make_app(base_url=sim.base_url, theme="mine") as (app, pilot):
        assert app.theme == "mine"
        assert {"vllm-night", "vllm-day", "vllm-contrast", "vllm-ember", "nord"} <= set(app.available_themes)


async def test_a_theme_picked_in_the_app_is_saved_to_the_config(sim, make_app, isolated_env: Path) -> None:
    config = isolated_env / "xdg-config" / "vllm-chat" / "config.toml"
    async with make_app(base_url=sim.base_url) as (app, pilot):
        app.theme = "vllm-day"
        await wait_until(pilot, lambda: config.exists(), timeout=5)
    assert tomllib.loads(config.read_text())["theme"] == "vllm-day"
