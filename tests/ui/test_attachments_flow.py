"""Attachments end to end in the TUI: attach (picker, /attach, paste), chips, send to a
vision model that reports exactly what it received, thumbnails, the image view, reload,
and the offers when the server refuses images."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events

from tests.support.pilot import (
    screen_text,
    send,
    wait_for_reply,
    wait_for_screen,
    wait_until,
)
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.attach import AttachScreen
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.screens.image_view import ImageViewScreen
from vllm_chat.ui.widgets.image_thumb import ImageThumb


def picture(path: Path, size: tuple[int, int] = (320, 200), color: tuple[int, int, int] = (20, 120, 200)) -> Path:
    from PIL import Image

    Image.new("RGB", size, color).save(path)
    return path






@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_slash_attach_adds_a_chip_and_the_exact_image_reaches_the_server(sim, make_app, in_tmp) -> None:
    photo = picture(in_tmp / "photo.png")
    async with make_app(base_url=sim.base_url, model="sim-vision") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, f"/attach {photo}")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        assert "photo.png · image" in screen_text(app) and "320×200" in screen_text(app)
        await send(app, pilot, "what is in this picture?")
        await wait_for_reply(app, pilot)
        [att] = app.session.conversation.messages[0].attachments
        size = att.size
        assert f"I received 1 image: image/png, {size} bytes" in app.session.conversation.messages[-1].content
        parts = sim.stats.last_request_body["messages"][-1]["content"]
        assert parts[0] == {"type": "text", "text": "what is in this picture?"}
        assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
        assert app.chat.attachments.chips == [], "sent attachments leave the bar"
        assert app.chat.messages.query(ImageThumb), "the picture shows in the message"


async def test_the_picker_attaches_a_file_typed_into_its_path_box(sim, make_app, in_tmp) -> None:
    picture(in_tmp / "cat.jpg")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await pilot.press("ctrl+f")
        await wait_for_screen(pilot, app, AttachScreen)
        box = app.screen.query_one("Input")
        box.value = "cat.jpg"
        box.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, AttachScreen))
        assert [a.name for a in app.chat.attachments.attachments] == ["cat.jpg"]


async def test_a_pasted_image_path_is_attached_not_typed(sim, make_app, in_tmp) -> None:
    photo = picture(in_tmp / "pasted.png")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        app.post_message(events.Paste(str(photo)))
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        assert app.chat.prompt.text == ""


async def test_bad_input_is_explained_and_nothing_is_attached(sim, make_app, in_tmp) -> None:
    (in_tmp / "notes.png").write_text("just text")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await send(app, pilot, "/attach notes.png")
        await send(app, pilot, "/attach ftp://example.com/x.png")
        await wait_until(pilot, lambda: len(app._notifications) >= 2)
        messages = "\n".join(str(n.message) for n in app._notifications)
        assert "not an image, video or audio file" in messages and "ftp" in messages
        assert app.chat.attachments.chips == []
        assert app.session.conversation.messages == []


async def test_a_chip_can_be_removed_from_the_keyboard(sim, make_app, in_tmp) -> None:
    picture(in_tmp / "a.png")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await send(app, pilot, "/attach a.png")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        await pilot.press("shift+tab")
        assert app.focused is app.chat.attachments.chips[0]
        await pilot.press("delete")
        await wait_until(pilot, lambda: app.chat.attachments.chips == [])


async def test_enter_on_a_thumbnail_opens_the_image_large(sim, make_app, in_tmp) -> None:
    picture(in_tmp / "big.png", (800, 600))
    async with make_app(base_url=sim.base_url, model="sim-vision") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "/attach big.png")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        await send(app, pilot, "look")
        await wait_for_reply(app, pilot)
        thumb = app.chat.messages.query_one(ImageThumb)
        thumb.focus()
        await pilot.press("enter")
        await wait_for_screen(pilot, app, ImageViewScreen)
        assert "800×600" in screen_text(app)
        await pilot.press("escape")


async def test_a_reloaded_session_shows_the_same_thumbnails_after_the_original_moved(sim, make_app, in_tmp) -> None:
    photo = picture(in_tmp / "moving.png")
    async with make_app(base_url=sim.base_url, model="sim-vision") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "/attach moving.png")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        await send(app, pilot, "keep this")
        await wait_for_reply(app, pilot)
        conv_id = app.session.conversation.id
    photo.unlink()
    conv = SessionStore().load(conv_id)
    async with make_app(base_url=sim.base_url, conversation=conv) as (app, pilot):
        thumb = await wait_until(pilot, lambda: app.chat.messages.query(ImageThumb).first(None))
        await wait_until(pilot, lambda: thumb.picture is not None)
        await wait_until(pilot, lambda: "moving.png" in screen_text(app))


async def test_a_text_only_model_is_offered_to_send_without_the_images(sim, make_app, in_tmp) -> None:
    picture(in_tmp / "x.png")
    async with make_app(base_url=sim.base_url, model="sim-chat") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "/attach x.png")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        await send(app, pilot, "describe it")
        await wait_for_screen(pilot, app, ConfirmScreen)
        assert "can't see images" in screen_text(app)
        await pilot.press("y")
        await wait_for_reply(app, pilot)
        assert app.session.conversation.messages[-1].status == "complete"
        sent = sim.stats.last_request_body["messages"][-1]["content"]
        assert "[image omitted: x.png]" in str(sent) and "image_url" not in str(sent)
        assert app.session.conversation.messages[0].attachments, "the attachment stays in the conversation"


async def test_over_the_image_limit_only_the_most_recent_images_are_offered(make_app, in_tmp) -> None:
    picture(in_tmp / "one.png"), picture(in_tmp / "two.png", color=(200, 0, 0))
    async with SimServer(SimConfig(limit_images=1)) as limited:
        async with make_app(base_url=limited.base_url, model="sim-vision",
                            attachments={"recent_images": 1}) as (app, pilot):
            await wait_until(pilot, lambda: app.session.models)
            for name in ("one.png", "two.png"):
                await send(app, pilot, f"/attach {name}")
                await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
                await send(app, pilot, f"see {name}")
                if name == "one.png":
                    await wait_for_reply(app, pilot)
            await wait_for_screen(pilot, app, ConfirmScreen)
            assert "at most 1 image" in screen_text(app)
            await pilot.press("y")
            await wait_for_reply(app, pilot)
            body = str(limited.stats.last_request_body["messages"])
            assert body.count("'type': 'image_url'") == 1 and "[earlier image not sent: one.png]" in body
