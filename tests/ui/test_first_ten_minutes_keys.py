"""The first ten minutes, keys (issue 12): a key does what the screen says it does. Esc
that leaves the messages only leaves them, the message menu's letters act, a stopped or
cut reply names the key that continues it, the help says how to close it, the palette's
Reconnect answers, and attaching the same file twice says which one it is."""

from __future__ import annotations

from pathlib import Path

from tests.support.pilot import (
    focus_last_message,
    notes,
    run_command,
    screen_text,
    send,
    turn,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.screens.help import HelpScreen
from vllm_chat.ui.screens.pick_list import PickListScreen
from vllm_chat.ui.widgets.message_views import AssistantMessageView, MessageView


def last_reply_view(app) -> AssistantMessageView:
    return app.chat.messages.query(AssistantMessageView).last()


def footer_of(app) -> str:
    return str(last_reply_view(app)._footer.render())


def notices(app) -> str:
    """Every notification shown so far (expired toasts included)."""
    return notes(app)


async def test_esc_that_leaves_the_messages_leaves_a_streaming_reply_streaming(paced_sim, make_app) -> None:
    # Paced (200 tokens/s) and far longer than the test: the reply streams all the while it
    # moves in and out of the messages, and must go on growing after esc.
    async with make_app(base_url=paced_sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo an earlier reply")
        await send(app, pilot, "long 100000")
        await wait_until(pilot, lambda: app.session.running and app.session.conversation.messages[-1].content)
        await pilot.press("alt+up")
        await wait_until(pilot, lambda: isinstance(app.focused, MessageView))
        assert app.session.running, "the reply streams on while the messages have the focus"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is app.chat.prompt, message="back in the prompt")
        streamed = len(app.session.conversation.messages[-1].content)
        # A second of tokens more: a reply that esc had stopped would not grow by that much.
        await wait_until(pilot, lambda: len(app.session.conversation.messages[-1].content) > streamed + 1000,
                         message="the reply growing on after esc")
        assert app.session.running and app.session.conversation.messages[-1].status == "streaming"


async def test_a_letter_the_message_menu_shows_acts_in_the_menu(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, copy_command=["true"]) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo copy me")
        await focus_last_message(app, pilot)
        await pilot.press("enter")
        await wait_for_screen(pilot, app, PickListScreen)
        await wait_for_text(pilot, app, "c  Copy the text")
        await pilot.press("c")
        await wait_until(pilot, lambda: app.clipboard == "copy me", message="c copied from the menu")
        assert not isinstance(app.screen, PickListScreen)


async def test_the_menu_shows_and_answers_the_keys_of_the_keymap(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, keymap={"delete-message": "x", "show-request": "w"}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo delete me")
        await focus_last_message(app, pilot)
        await pilot.press("enter")
        await wait_for_screen(pilot, app, PickListScreen)
        await wait_for_text(pilot, app, "x  Delete (kept in the session file)")
        await pilot.press("x")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await wait_for_text(pilot, app, "Delete this reply?")


async def test_a_stopped_reply_names_the_key_that_continues_it_until_it_is_no_longer_the_last(
        paced_sim, make_app) -> None:
    async with make_app(base_url=paced_sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "long 100000")  # it never ends on its own: the test stops it
        await wait_until(pilot, lambda: app.session.conversation.messages[-1].content)
        await pilot.press("escape")
        await wait_until(pilot, lambda: "stopped  ·  f5 continues it" in screen_text(app), message="the hint")
        await turn(app, pilot, "echo next")
        first = app.chat.messages.view_for(app.session.conversation.messages[1].id)
        await wait_until(pilot, lambda: "f5 continues it" not in str(first._footer.render()),
                         message="an earlier reply can't be continued, so it says nothing of it")


async def test_a_reply_cut_at_max_tokens_names_the_continue_key_of_the_keymap(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, sampling={"max_tokens": 12},
                        keymap={"continue-reply": "f9"}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "long 300")
        await wait_until(pilot, lambda: "cut off at max_tokens  ·  f9 continues it" in screen_text(app),
                         message="the hint, with the key of the keymap")
        app.session.set_params(app.session.conversation.params.model_copy(update={"max_tokens": 2000}))
        await pilot.press("f9")
        await wait_until(pilot, lambda: app.session.conversation.messages[-1].finish_reason == "stop",
                         message="the reply continued to its end")
        await wait_until(pilot, lambda: "continues it" not in footer_of(app), message="a whole reply says no more")


async def test_the_help_says_how_to_close_it_at_any_size(sim, make_app) -> None:
    for size in [(120, 40), (60, 20)]:
        async with make_app(base_url=sim.base_url, size=size) as (app, pilot):
            await pilot.press("f1")
            await wait_for_screen(pilot, app, HelpScreen)
            await wait_until(pilot, lambda: "esc / f1 / q close" in screen_text(app), message=f"at {size}")
    async with make_app(base_url=sim.base_url, keymap={"close-help": "ctrl+w"}) as (app, pilot):
        await pilot.press("f1")
        await wait_for_screen(pilot, app, HelpScreen)
        await wait_until(pilot, lambda: "ctrl+w close" in screen_text(app))
        await pilot.press("ctrl+w")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_reconnect_from_the_palette_says_it_is_connected(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.connection == "connected")
        await run_command(app, pilot, "Reconnect")
        await wait_until(pilot, lambda: f"Connected to {sim.base_url}: 2 models." in notices(app))
        await wait_until(pilot, lambda: "Connected to " in screen_text(app), message="the toast on screen")


def make_image(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 40, 60)).save(path)
    return path


async def test_the_same_image_under_another_name_says_which_attachment_it_repeats(
        sim, make_app, tmp_path: Path) -> None:
    cat = make_image(tmp_path / "cat.png")
    twin = tmp_path / "copy-of-cat.png"
    twin.write_bytes(cat.read_bytes())
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await send(app, pilot, f"/attach {cat}")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        await send(app, pilot, f"/attach {twin}")
        await wait_until(pilot, lambda: "copy-of-cat.png has the same content as cat.png" in notices(app))
        assert len(app.chat.attachments.chips) == 1


async def test_three_long_named_chips_each_keep_their_cross_at_120_columns(sim, make_app, tmp_path: Path) -> None:
    from PIL import Image

    async with make_app(base_url=sim.base_url, size=(120, 40)) as (app, pilot):
        for i in range(3):
            path = tmp_path / f"holiday-photo-from-the-beach-number-{i}.png"
            Image.new("RGB", (64, 48), (i, 40, 60)).save(path)
            await send(app, pilot, f"/attach {path}")
            await wait_until(pilot, lambda i=i: len(app.chat.attachments.chips) == i + 1)

        def chips_line() -> str:
            return next((line for line in screen_text(app).splitlines() if "holiday-photo" in line), "")

        await wait_until(pilot, lambda: chips_line().count("✕") == 3, message=f"three crosses: {chips_line()!r}")
