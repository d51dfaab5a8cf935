"""Every key name the user reads comes from the keymap: with send, new line, attach,
stop, help, model, new chat and the command palette moved, the prompt's placeholder,
the empty conversation's key list, the notices, the model list's hint, a folded tool
result and the keymap's own messages name the new keys, never the old ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.pilot import (
    notes,
    screen_text,
    send,
    wait_for_reply,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.ui.screens.model_picker import ModelPickerScreen
from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel

MOVED = {"send": "f9", "newline": "f10", "attach-file": "f11", "stop": "f12", "help": "f14",
         "pick-model": "f13", "new-conversation": "f15", "command-palette": "alt+p", "edit-queued": "f16"}
OLD_NAMES = ("enter", "ctrl+j", "ctrl+f", "esc", "ctrl+o", "ctrl+n", "ctrl+p", "f1")


def names(text: str, key: str) -> bool:
    """Whether `text` names `key` (f1 is not named by f14)."""
    return re.search(rf"(?<![\w+]){re.escape(key)}(?![\w+])", text) is not None


def welcome_text(app) -> str:
    return "\n".join(str(w.render()) for w in app.chat.messages.query(".welcome"))


async def test_the_placeholder_and_the_welcome_name_the_remapped_keys(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap=MOVED) as (app, pilot):
        await wait_until(pilot, lambda: "f9 sends" in screen_text(app))
        placeholder = str(app.chat.prompt.placeholder)
        assert placeholder == "Message — f9 sends · f10 new line · ↑ earlier prompts · f11 attach a file"
        await wait_until(pilot, lambda: "f9  send" in screen_text(app))
        welcome = welcome_text(app)
        for new in ("f9  send", "f10  new line", "f12  stop", "f13  model", "f15  new chat",
                    "alt+p  commands", "f14  every key"):
            assert new in welcome, new
        for old in OLD_NAMES:
            assert not names(welcome, old) and not names(placeholder, old), old
        assert "keymap:" not in notes(app), "the moved keys are all free"


async def test_the_default_welcome_lines_up_the_keys_in_columns(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: "every key" in screen_text(app))
        assert welcome_text(app) == (
            "Ask anything.\n\n"
            "enter  send        ctrl+j  new line      esc  stop\n"
            "ctrl+o  model      ctrl+n  new chat      ctrl+p  commands\n"
            "f1  every key")
        assert str(app.chat.prompt.placeholder) == \
            "Message — enter sends · ctrl+j new line · ↑ earlier prompts · ctrl+f attach a file"


async def test_on_a_narrow_screen_the_welcome_keys_fold_into_fewer_columns(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(60, 20)) as (app, pilot):
        note = app.chat.messages.query_one(".welcome")
        await wait_until(pilot, lambda: "esc  stop" in welcome_text(app))
        lines = welcome_text(app).splitlines()
        assert max(len(line) for line in lines) <= note.content_size.width
        assert "enter  send" in lines[2] and "ctrl+j  new line" in lines[2], "two to a line, in reading order"


async def test_the_notices_and_the_queue_name_the_remapped_keys(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap=MOVED) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "/attach")
        await wait_until(pilot, lambda: "Usage: /attach" in notes(app))
        assert "(or f11 to pick a file)" in notes(app) and not names(notes(app), "ctrl+f")
        await send(app, pilot, "long 100000")  # it never ends on its own: the test stops it
        await wait_until(pilot, lambda: app.session.running)
        await send(app, pilot, "a second prompt")
        shown = await wait_for_text(pilot, app, "⏳ next: a second prompt", "f16 takes the last one back")
        assert not names(shown, "alt+down")
        await pilot.press("f12")
        await wait_until(pilot, lambda: "queued prompt wait" in notes(app), message="the queue held after a stop")
        assert "f9 on an empty prompt sends it" in notes(app) and not names(notes(app), "enter")


async def test_an_unknown_keymap_id_points_at_the_remapped_help_key(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap={"help": "f14", "zzzzzz": "f7"}) as (app, pilot):
        await wait_until(pilot, lambda: "keymap:" in notes(app))
        assert "'zzzzzz' is not a binding id (f14 lists every id)" in notes(app)
        assert not names(notes(app).lower(), "f1")


async def test_the_model_list_and_a_folded_tool_result_name_their_remapped_keys(
        sim, make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(40):
        (tmp_path / f"file{i:02}.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    keymap = {"cancel-pick": "f15", "toggle-tool-result": "f16,space", "pick-model": "f13"}
    async with make_app(base_url=sim.base_url, keymap=keymap) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await pilot.press("f13")
        await wait_for_screen(pilot, app, ModelPickerScreen)
        await wait_until(pilot, lambda: "enter pick · f15 cancel" in screen_text(app))
        await pilot.press("f15")
        await wait_until(pilot, lambda: not isinstance(app.screen, ModelPickerScreen))
        await send(app, pilot, "list directory .")
        await wait_for_reply(app, pilot)
        app.chat.messages.focus_message(1)
        panel = await wait_until(pilot, lambda: next(iter(app.chat.messages.query(ToolCallPanel)), None))
        panel.focus()
        await wait_until(pilot, lambda: "more lines (f16 shows all)" in screen_text(app))
