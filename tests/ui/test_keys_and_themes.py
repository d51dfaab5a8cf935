"""Keys and themes: every binding in force has an id and is on the help screen; the
keymap remaps bindings by id, conflicts (also with a text box's own keys) are reported,
and hint lines follow a remap; themes load, fall back when broken, the palette's theme
picker previews live and its pick is remembered in the config file. (That widget CSS
uses theme variables only is checked in test_css_uses_theme_variables.py.)"""

from __future__ import annotations

import importlib
import io
import pkgutil
import re
from pathlib import Path

from rich.console import Console
from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.dom import DOMNode

import vllm_chat.ui
from tests.support.pilot import (
    notes,
    screen_text,
    turn,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.core.config import tomllib
from vllm_chat.core.keymap import BindingInfo, keys_of
from vllm_chat.ui.key_places import binding_contexts, help_groups
from vllm_chat.ui.screens.help import HelpScreen
from vllm_chat.ui.screens.model_picker import ModelPickerScreen
from vllm_chat.ui.theming import ThemePicker

KEBAB = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def ui_modules() -> list:
    return [importlib.import_module(info.name)
            for info in pkgutil.walk_packages(vllm_chat.ui.__path__, "vllm_chat.ui.")]


def classes_in_the_ui() -> set[type]:
    """Every screen and widget class the UI defines or uses (Textual's included; apps
    left out: only our own app's bindings are in force, and the test adds it)."""
    return {obj for module in ui_modules() for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, DOMNode) and not issubclass(obj, App)}


def declaring_class(cls: type, key: str, action: str) -> type | None:
    """The class in `cls`'s tree whose BINDINGS give `key` to `action` (the most derived wins,
    as in Textual's merge)."""
    for base in cls.__mro__:
        for binding in base.__dict__.get("BINDINGS", []):
            if binding.action == action and key in keys_of(binding.key):
                return base
    return None


def footer_line(app) -> str:
    """The bottom line of the screen, where the footer lists the keys."""
    return screen_text(app).rstrip().splitlines()[-1]


def help_text(app) -> str:
    console = Console(width=140, record=True, file=io.StringIO())
    console.print(app.screen._table())
    return console.export_text()


async def test_a_binding_can_be_moved_to_another_key(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap={"pick-model": "f9"}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await pilot.press("ctrl+o", "x")
        # Keys are handled in order: once the x is typed, ctrl+o has had its chance.
        await wait_until(pilot, lambda: app.chat.prompt.text == "x")
        assert not isinstance(app.screen, ModelPickerScreen), "the old key is free now"
        await pilot.press("f9")
        await wait_for_screen(pilot, app, ModelPickerScreen)


async def test_the_send_key_can_be_remapped_and_enter_then_adds_a_line(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap={"send": "f9"}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await pilot.press("h", "i", "enter", "y", "o", "f9")
        await wait_until(pilot, lambda: app.session.conversation.messages
                         and app.session.conversation.messages[0].content == "hi\nyo")


async def test_the_help_screen_shows_the_keys_in_force(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap={"pick-model": "f9"}) as (app, pilot):
        await pilot.press("f1")
        await wait_for_screen(pilot, app, HelpScreen)
        line = next(line for line in help_text(app).splitlines() if "pick-model" in line)
        assert "f9" in line and "^o" not in line


async def test_every_binding_in_force_has_an_id_and_is_on_the_help_screen(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        listed = {(row.owner, row.binding.action, key) for group in help_groups(app)
                  for row in group.rows for key in keys_of(row.binding.key)}
        in_force: list[tuple[type, object]] = []
        for cls in classes_in_the_ui() | {type(app)}:
            for key, bindings in cls._merge_bindings().key_to_bindings.items():
                for binding in bindings:
                    owner = declaring_class(cls, key, binding.action)
                    assert owner is not None, (cls, key, binding.action)
                    in_force.append((owner, binding))
        # Textual adds the command palette's key to the app itself, not to a class.
        for key, bindings in app._bindings.key_to_bindings.items():
            for binding in bindings:
                in_force.append((declaring_class(type(app), key, binding.action) or App, binding))
        assert len(in_force) > 150, "the walk reaches Textual's widgets too"
        ids: dict[str, tuple[type, str]] = {}
        for owner, binding in in_force:
            key = keys_of(binding.key)[0]
            if owner.__module__.startswith("vllm_chat.") or binding.action == "command_palette":
                assert binding.id and KEBAB.fullmatch(binding.id), f"{owner.__name__}: {key} has no id"
                assert ids.setdefault(binding.id, (owner, binding.action)) == (owner, binding.action), \
                    f"the id {binding.id!r} is used twice"
            assert (owner, binding.action, key) in listed, f"{owner.__name__}: {key} ({binding.action}) not in help"
        assert "command-palette" in ids
        in_contexts = {b.id for context in binding_contexts(app) for b in context if isinstance(b, BindingInfo)}
        assert set(ids) <= in_contexts, "the keymap check knows every binding"
        await pilot.press("f1")
        await wait_for_screen(pilot, app, HelpScreen)
        shown = help_text(app)
        for binding_id in ids:
            assert re.search(rf"\s{re.escape(binding_id)}\s*$", shown, re.M), binding_id


async def test_the_help_screen_names_the_palette_and_the_prompt_history_keys(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap={"command-palette": "f12"}) as (app, pilot):
        await pilot.press("f1")
        await wait_for_screen(pilot, app, HelpScreen)
        lines = help_text(app).splitlines()
        palette = next(line for line in lines if line.rstrip().endswith("command-palette"))
        assert palette.startswith("f12 ") and "Command palette" in palette
        prompt = lines[lines.index("Prompt"):]
        assert any(line.startswith("↑ ") and "Earlier prompt" in line for line in prompt[:8])
        await pilot.press("escape")
        await pilot.press("f12")
        await wait_for_screen(pilot, app, CommandPalette)


async def test_a_remap_onto_a_key_the_prompt_uses_itself_is_reported_and_not_applied(sim, make_app) -> None:
    keymap = {"new-conversation": "ctrl+a", "stop": "x", "pick-model": "f9"}
    async with make_app(base_url=sim.base_url, keymap=keymap) as (app, pilot):
        await wait_until(pilot, lambda: "keymap:" in notes(app))
        text = notes(app)
        assert "ctrl+a already means 'cursor line start' in the prompt; give 'new-conversation'" in text
        assert "x types text in the prompt; give 'stop' a key with ctrl or alt" in text
        assert "f9" not in text, "a free key is fine"
        await turn(app, pilot, "echo kept")
        await pilot.press("h", "i", "ctrl+a", "x")
        # ctrl+a still goes to the line start, x still types.
        await wait_until(pilot, lambda: app.chat.prompt.text == "xhi")
        assert len(app.session.conversation.messages) == 2
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: not app.session.conversation.messages), "the default stays"


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
        await wait_until(pilot, lambda: config.exists())
    assert tomllib.loads(config.read_text())["theme"] == "vllm-day"


async def test_the_theme_picker_previews_the_highlighted_theme_and_esc_goes_back(
        sim, make_app, isolated_env: Path) -> None:
    config = isolated_env / "xdg-config" / "vllm-chat" / "config.toml"
    async with make_app(base_url=sim.base_url) as (app, pilot):
        before = app.theme
        app.action_change_theme()
        picker = await wait_for_screen(pilot, app, ThemePicker)
        await wait_until(pilot, lambda: picker.query_one(CommandList).option_count > 3)
        await pilot.press("down")
        await wait_until(pilot, lambda: app.theme != before, message="the highlighted theme is shown")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ThemePicker))
        assert app.theme == before
        # A theme is saved once the choice has settled for a second: wait for that moment.
        await wait_until(pilot, lambda: app._theme_timer is None, message="the theme choice to settle")
        assert not config.exists(), "a preview is not a choice"

        app.action_change_theme()
        picker = await wait_for_screen(pilot, app, ThemePicker)
        await pilot.press(*"vllm-ember")
        await wait_until(pilot, lambda: app.theme == "vllm-ember")
        await pilot.press("enter")
        await wait_until(pilot, lambda: config.exists())
        assert app.theme == "vllm-ember"
    assert tomllib.loads(config.read_text())["theme"] == "vllm-ember"


async def test_the_footer_shows_a_remapped_key(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap={"open-settings": "f9"}) as (app, pilot):
        footer = await wait_until(pilot, lambda: "Settings" in footer_line(app) and footer_line(app))
        assert "f9 Settings" in footer and "^s Settings" not in footer


async def test_the_chat_footer_is_hidden_while_a_dialog_is_up(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: "^n New" in footer_line(app))
        await pilot.press("f1")
        await wait_for_screen(pilot, app, HelpScreen)
        # The chat's keys are not in force under a dialog.
        await wait_for_text(pilot, app, "Keys", absent=["^n New"])
        await pilot.press("escape")
        await wait_until(pilot, lambda: "^n New" in footer_line(app))
