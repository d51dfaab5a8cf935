"""Conversation controls from the keyboard: move between messages, copy text and code,
edit and resend, regenerate, continue, delete, $EDITOR and the settings panel."""

from __future__ import annotations

import sys
from pathlib import Path

from textual import events

from tests.support.pilot import (
    focus_last_message,
    notes,
    turn,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.screens.pick_list import PickListScreen
from vllm_chat.ui.screens.settings import SettingsScreen
from vllm_chat.ui.screens.text_edit import TextEditScreen
from vllm_chat.ui.widgets.message_views import AssistantMessageView, MessageView

CODE_REPLY = "echo Two snippets:\n\n```python\nprint('one')\n```\n\nand\n\n```sh\necho two\n```\n"


def focused_message(app):
    return app.focused.message if isinstance(app.focused, MessageView) else None


async def test_messages_are_reachable_and_walkable_from_the_keyboard(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo first")
        await turn(app, pilot, "echo second")
        msgs = app.session.conversation.messages
        await focus_last_message(app, pilot)
        assert focused_message(app) is msgs[3]
        await pilot.press("up", "up")
        await wait_until(pilot, lambda: focused_message(app) is msgs[1])
        await pilot.press("k")
        await wait_until(pilot, lambda: focused_message(app) is msgs[0])
        await pilot.press("end")
        await wait_until(pilot, lambda: focused_message(app) is msgs[3])
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is app.chat.prompt)


async def test_enter_on_a_message_lists_what_can_be_done_with_it(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, CODE_REPLY)
        await focus_last_message(app, pilot)
        await pilot.press("enter")
        await wait_for_screen(pilot, app, PickListScreen)
        text = await wait_for_text(pilot, app, "Copy the text", "Copy a code block", "Regenerate this reply", "Delete")
        assert "Edit and send again" not in text, "replies can't be edited, only prompts"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat)


async def test_copy_sends_osc52_and_uses_the_configured_program(sim, make_app, tmp_path: Path) -> None:
    target = tmp_path / "clip.txt"
    copy = [sys.executable, "-c", f"import sys; open({str(target)!r}, 'w').write(sys.stdin.read())"]
    async with make_app(base_url=sim.base_url, copy_command=copy) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo copy me")
        await focus_last_message(app, pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: app.clipboard == "copy me")

        def notices() -> str:
            return notes(app)

        await wait_until(pilot, lambda: "OSC 52" in notices() and "Copied the message (7 characters)" in notices())
        assert target.read_text() == "copy me"


async def test_copy_code_asks_which_block_when_there_are_several(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, copy_command=["true"]) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, CODE_REPLY)
        await focus_last_message(app, pilot)
        await pilot.press("b")
        await wait_for_screen(pilot, app, PickListScreen)
        await wait_for_text(pilot, app, "python · 1 line · print('one')")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.clipboard == "echo two\n")


async def test_editing_an_earlier_prompt_resends_from_there_and_keeps_the_old_branch(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo alpha")
        await turn(app, pilot, "echo beta")
        await focus_last_message(app, pilot)
        await pilot.press("up", "e")
        await wait_for_screen(pilot, app, TextEditScreen)
        app.screen.query_one("#edit-message-text").load_text("echo gamma")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not app.session.running and
                         app.session.conversation.messages[-1].content == "gamma")
        conv = app.session.conversation
        assert [m.content for m in conv.messages] == ["echo alpha", "alpha", "echo gamma", "gamma"]
        saved = SessionStore().load(conv.id)
        assert [m.content for m in saved.aside] == ["echo beta", "beta"], "kept as version 1 of that prompt"
        await wait_until(pilot, lambda: app.focused is app.chat.prompt, message="the prompt has the focus back")
        await pilot.press("o", "k")
        assert app.chat.prompt.text == "ok"


async def test_regenerate_replaces_the_last_reply_and_keeps_the_old_one(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo again")
        first = app.session.conversation.messages[-1]
        await focus_last_message(app, pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: not app.session.running and
                         app.session.conversation.messages[-1] is not first and
                         app.session.conversation.messages[-1].status == "complete")
        assert len(app.session.conversation.messages) == 2
        assert app.session.conversation.aside == [first], "kept as version 1"
        assert sim.stats.requests == 2
        await wait_until(pilot, lambda: app.focused is app.chat.prompt, message="the prompt has the focus back")


async def test_a_prompt_typed_right_after_ctrl_n_goes_to_the_new_conversation(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo first")
        old = app.session.conversation
        # One burst, as a fast typist or a paste sends it: no waiting between the keys.
        app.post_message(events.Key("ctrl+n", None))
        for character in "echo zzz":
            app.post_message(events.Key("space" if character == " " else character, character))
        app.post_message(events.Key("enter", "\r"))
        await wait_until(pilot, lambda: app.session.conversation is not old and not app.session.running
                         and [m.content for m in app.session.conversation.messages] == ["echo zzz", "zzz"])
        assert [m.content for m in SessionStore().load(old.id).messages] == ["echo first", "first"]


async def test_a_stopped_reply_can_be_continued_in_place(make_app) -> None:
    async with SimServer(SimConfig(tps=60.0)) as slow:
        async with make_app(base_url=slow.base_url) as (app, pilot):
            await wait_until(pilot, lambda: app.session.models)
            app.chat.prompt.load_text("long 100000")  # it never ends on its own: the test stops it
            app.chat.prompt.action_submit()
            await wait_until(pilot, lambda: any(len(v.body.source) > 30
                                                for v in app.chat.messages.query(AssistantMessageView)))
            await pilot.press("escape")
            await wait_until(pilot, lambda: not app.session.running)
            reply = app.session.conversation.messages[-1]
            partial = reply.content
            assert reply.status == "stopped"
            await pilot.press("f5")
            await wait_until(pilot, lambda: app.session.running)
            body = slow.stats.last_request_body
            assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
            assert body["messages"][-1] == {"role": "assistant", "content": partial}
            app.session.stop()
            await wait_until(pilot, lambda: not app.session.running)
            assert app.session.conversation.messages[-1] is reply, "the same message grew"
            assert reply.content.startswith(partial) and len(reply.content) >= len(partial)


async def test_deleting_a_message_asks_first_and_keeps_a_copy_in_the_file(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo keep")
        await turn(app, pilot, "echo drop")
        await focus_last_message(app, pilot)
        await pilot.press("d")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is app.chat)
        assert len(app.session.conversation.messages) == 4
        await focus_last_message(app, pilot)
        await pilot.press("d")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: len(app.session.conversation.messages) == 3)
        saved = SessionStore().load(app.session.conversation.id)
        assert saved.removed[-1].content == "drop"
        assert "drop" not in [m.content for m in saved.messages]


async def test_the_prompt_round_trips_through_the_editor(sim, make_app, tmp_path: Path, monkeypatch) -> None:
    script = tmp_path / "fake-editor.py"
    script.write_text("import sys\np = sys.argv[1]\ntext = open(p).read()\n"
                      "open(p, 'w').write(text.upper() + ' FROM THE EDITOR\\n')\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        app.chat.prompt.load_text("draft text")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: app.chat.prompt.text == "DRAFT TEXT FROM THE EDITOR")


async def test_a_failing_editor_is_reported_and_the_draft_kept(sim, make_app, monkeypatch) -> None:
    monkeypatch.setenv("EDITOR", "/nonexistent/editor")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        app.chat.prompt.load_text("my draft")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: "Could not start" in notes(app))
        assert app.chat.prompt.text == "my draft"


async def test_the_settings_panel_changes_apply_to_the_next_turn_and_are_saved(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo before")
        await pilot.press("ctrl+s")
        await wait_for_screen(pilot, app, SettingsScreen)
        app.screen.query_one("#param-temperature").value = "0.25"
        app.screen.query_one("#param-top_k").value = "12"
        await pilot.pause()  # the fields check what they were given
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen))
        await turn(app, pilot, "echo after")
        body = sim.stats.last_request_body
        assert (body["temperature"], body["top_k"]) == (0.25, 12)
        saved = SessionStore().load(app.session.conversation.id)
        assert (saved.params.temperature, saved.params.top_k) == (0.25, 12)
