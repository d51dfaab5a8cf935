"""Attachments end to end in the TUI: attach (picker, /attach, paste), chips, send to a
vision model that reports exactly what it received, thumbnails, the image view, reload,
and the offers when the server refuses images."""

from __future__ import annotations

import base64
import io
import struct
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from textual import events

from tests.support.pilot import (
    answer_dialog,
    notes,
    send,
    turn,
    wait_for_reply,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.core.paths import media_dir
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.simserver.app import build_app, error_response
from vllm_chat.simserver.errors import bad_request
from vllm_chat.simserver.metrics import SimStats
from vllm_chat.ui.screens.attach import AttachScreen
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.screens.image_view import ImageViewScreen
from vllm_chat.ui.widgets.image_thumb import ImageThumb


def picture(path: Path, size: tuple[int, int] = (320, 200), color: tuple[int, int, int] = (20, 120, 200)) -> Path:
    from PIL import Image

    Image.new("RGB", size, color).save(path)
    return path


def audio_clip(path: Path, frames: int = 160) -> Path:
    """A real WAV file of silence (`frames` set its size, so two clips differ)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(2 * frames))
    return path


def video_clip(path: Path, padding: int = 8) -> Path:
    """An MP4 as far as sniffing goes: ftyp box, free box, a small mdat."""
    brands = b"isom\x00\x00\x02\x00isomiso2avc1mp41"
    path.write_bytes(struct.pack(">I", 8 + len(brands)) + b"ftyp" + brands + struct.pack(">I", 8) + b"free"
                     + struct.pack(">I", 8 + padding) + b"mdat" + bytes(padding))
    return path


CLIPS = {"audio": (audio_clip, "wav"), "video": (video_clip, "mp4")}


def media_parts(body: dict[str, Any] | None, part_type: str) -> list[dict[str, Any]]:
    """Every content part of `part_type` in a request body."""
    assert body is not None
    return [part for message in body["messages"] if isinstance(message["content"], list)
            for part in message["content"] if part["type"] == part_type]


class LimitedServer:
    """The simulated vLLM behind vLLM's `--limit-mm-per-prompt` check for one kind of media
    (the simulator itself limits images only). Requests it refuses are kept in `refused`."""

    def __init__(self, base_url: str, stats: SimStats) -> None:
        self.base_url = base_url
        """`http://HOST:PORT/v1`."""
        self.stats = stats
        """The simulated server's counters (`last_request_body` is what got through)."""
        self.refused: list[dict[str, Any]] = []
        """Bodies answered with the too-many-media 400."""


@asynccontextmanager
async def limited_server(kind: str, limit: int, *, enforced: int | None = None) -> AsyncIterator[LimitedServer]:
    """A server saying "At most `limit` `kind`(s) may be provided in one prompt." for requests
    with more than `enforced` (default: `limit`) items of `kind`: a lower `enforced` is a server
    whose refusals can't be met by sending what they say, as a misconfigured one would."""
    stats = SimStats()
    app = build_app(SimConfig(models=("sim-vision",)), stats)
    most = limit if enforced is None else enforced

    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "POST" and request.path == "/v1/chat/completions":
            body = await request.json()  # aiohttp keeps the body for the handler
            if len(media_parts(body, f"{kind}_url")) > most:
                server.refused.append(body)
                return error_response(bad_request(
                    f"At most {limit} {kind}(s) may be provided in one prompt. "
                    "Set `--limit-mm-per-prompt` to increase this limit.", kind))
        return await handler(request)

    app.middlewares.append(check)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = LimitedServer(f"http://127.0.0.1:{runner.addresses[0][1]}/v1", stats)
    try:
        yield server
    finally:
        await runner.cleanup()


async def attach(app: Any, pilot: Any, *sources: object) -> None:
    """Attach each of `sources` with /attach and wait for its chip."""
    for source in sources:
        before = len(app.chat.attachments.chips)
        await send(app, pilot, f"/attach {source}")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == before + 1,  # noqa: B023
                         message=f"a chip for {source}")


async def accept_the_offer(app: Any, pilot: Any, prompt: str) -> None:
    """Send `prompt`, answer y to the offer to leave media out, and wait for the reply."""
    await send(app, pilot, prompt)
    await wait_for_screen(pilot, app, ConfirmScreen)
    await answer_dialog(pilot, "y")
    await wait_for_reply(app, pilot)


def notices(app: Any) -> str:
    """Every notification shown so far, one per line (expired toasts included)."""
    return notes(app)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_slash_attach_adds_a_chip_and_the_exact_image_reaches_the_server(sim, make_app, in_tmp) -> None:
    photo = picture(in_tmp / "photo.png")
    async with make_app(base_url=sim.base_url, model="sim-vision") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, f"/attach {photo}")
        await wait_for_text(pilot, app, "photo.png · image", "320×200")
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

        # Other notices may come first (the connection, the model): wait for both of these.
        await wait_until(pilot, lambda: "not an image, video or audio file" in notes(app) and "ftp" in notes(app))
        assert app.chat.attachments.chips == []
        assert app.session.conversation.messages == []


async def test_a_chip_can_be_removed_from_the_keyboard(sim, make_app, in_tmp) -> None:
    picture(in_tmp / "a.png")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await send(app, pilot, "/attach a.png")
        await wait_for_text(pilot, app, "a.png · image")
        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: app.focused is app.chat.attachments.chips[0])
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
        await wait_for_text(pilot, app, "800×600")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat)


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
        thumb = await wait_until(pilot, lambda: (found := app.chat.messages.query(ImageThumb)) and found.first())
        await wait_until(pilot, lambda: thumb.picture is not None)
        await wait_for_text(pilot, app, "moving.png")


async def test_a_text_only_model_is_offered_to_send_without_the_images(sim, make_app, in_tmp) -> None:
    picture(in_tmp / "x.png")
    async with make_app(base_url=sim.base_url, model="sim-chat") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "/attach x.png")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        await send(app, pilot, "describe it")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await wait_for_text(pilot, app, "can't see images")
        await answer_dialog(pilot, "y")
        await wait_for_reply(app, pilot)
        assert app.session.conversation.messages[-1].status == "complete"
        sent = sim.stats.last_request_body["messages"][-1]["content"]
        assert "[image omitted: x.png]" in str(sent) and "image_url" not in str(sent)
        assert app.session.conversation.messages[0].attachments, "the attachment stays in the conversation"


async def test_over_the_image_limit_the_offer_is_the_servers_limit_when_the_setting_is_higher(
        make_app, in_tmp) -> None:
    picture(in_tmp / "one.png"), picture(in_tmp / "two.png", color=(200, 0, 0))
    async with (SimServer(SimConfig(limit_images=1)) as limited,
                make_app(base_url=limited.base_url, model="sim-vision") as (app, pilot)):
        assert app.session.settings.attachments.recent_images == 4
        await wait_until(pilot, lambda: app.session.models)
        await attach(app, pilot, "one.png")
        await turn(app, pilot, "see one")
        await attach(app, pilot, "two.png")
        await send(app, pilot, "see two")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await wait_for_text(pilot, app, "at most 1 image")
        assert app.screen.question.endswith("Send only the 1 most recent image?")
        await answer_dialog(pilot, "y")
        await wait_for_reply(app, pilot)
        assert app.session.conversation.messages[-1].status == "complete"
        assert limited.stats.rejected == 1, "the retry was accepted"
        body = limited.stats.last_request_body
        assert len(media_parts(body, "image_url")) == 1 and "[earlier image not sent: one.png]" in str(body)


async def test_after_sending_only_recent_images_later_turns_send_that_many_without_asking(
        make_app, in_tmp) -> None:
    for i, name in enumerate(("one.png", "two.png", "three.png")):
        picture(in_tmp / name, color=(60 * i, 0, 0))
    async with (SimServer(SimConfig(limit_images=1)) as limited,
                make_app(base_url=limited.base_url, model="sim-vision") as (app, pilot)):
        await wait_until(pilot, lambda: app.session.models)
        await attach(app, pilot, "one.png")
        await turn(app, pilot, "see one")
        await attach(app, pilot, "two.png")
        await accept_the_offer(app, pilot, "see two")
        await wait_until(pilot, lambda: "Requests carry only the newest 1 image" in notices(app))
        await wait_for_text(pilot, app, "older images left out")  # the status line says so

        await attach(app, pilot, "three.png")
        await turn(app, pilot, "and this one?")
        assert not isinstance(app.screen, ConfirmScreen)
        assert limited.stats.rejected == 1, "no request after the choice was refused"
        body = limited.stats.last_request_body
        assert len(media_parts(body, "image_url")) == 1
        three = app.session.conversation.messages[-2].attachments[0]
        assert f"I received 1 image: image/png, {three.size} bytes" in app.session.conversation.messages[-1].content
        assert "[earlier image not sent: one.png]" in str(body) and "[earlier image not sent: two.png]" in str(body)

        await pilot.press("ctrl+r")  # a retry follows the choice too
        await wait_for_reply(app, pilot)
        assert limited.stats.rejected == 1 and app.session.conversation.messages[-1].status == "complete"
        assert len(media_parts(limited.stats.last_request_body, "image_url")) == 1


@pytest.mark.parametrize("kind", ["audio", "video"])
async def test_a_limit_on_audio_or_video_offers_the_most_recent_of_that_kind_and_leaves_images_alone(
        make_app, in_tmp, kind: str) -> None:
    make, ext = CLIPS[kind]
    make(in_tmp / f"first.{ext}"), make(in_tmp / f"second.{ext}", 400)
    picture(in_tmp / "a.png"), picture(in_tmp / "b.png", color=(0, 200, 0))
    async with (limited_server(kind, 1) as limited,
                make_app(base_url=limited.base_url, model="sim-vision") as (app, pilot)):
        await wait_until(pilot, lambda: app.session.models)
        await attach(app, pilot, f"first.{ext}", "a.png")
        await turn(app, pilot, "first")
        await attach(app, pilot, f"second.{ext}", "b.png")
        await send(app, pilot, "second")
        await wait_for_screen(pilot, app, ConfirmScreen)
        noun = "audio clip" if kind == "audio" else "video"
        assert app.screen.question.endswith(f"Send only the 1 most recent {noun}?")
        await answer_dialog(pilot, "y")
        await wait_for_reply(app, pilot)
        assert len(limited.refused) == 1
        body = limited.stats.last_request_body
        assert len(media_parts(body, f"{kind}_url")) == 1, f"only the newest {kind} is sent"
        assert f"[earlier {kind} not sent: first.{ext}]" in str(body)
        assert len(media_parts(body, "image_url")) == 2, "images are not what the server limits"


async def test_when_the_accepted_offer_is_refused_too_the_user_is_told_plainly_and_not_asked_again(
        make_app, in_tmp) -> None:
    picture(in_tmp / "a.png"), picture(in_tmp / "b.png", color=(0, 200, 0))
    async with (limited_server("image", 1, enforced=0) as broken,
                make_app(base_url=broken.base_url, model="sim-vision") as (app, pilot)):
        await wait_until(pilot, lambda: app.session.models)
        await attach(app, pilot, "a.png", "b.png")
        await send(app, pilot, "two at once")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await answer_dialog(pilot, "y")
        await wait_until(pilot, lambda: len(broken.refused) == 2 and not app.session.running)
        await wait_until(pilot, lambda: "did not help" in notices(app))
        assert not isinstance(app.screen, ConfirmScreen)
        assert len(media_parts(broken.refused[-1], "image_url")) == 1, "the retry carried the offer"
        assert app.session.conversation.messages[-1].status == "failed"


async def test_after_sending_without_images_later_turns_and_retries_reach_a_text_only_model_without_asking(
        sim, make_app, in_tmp) -> None:
    picture(in_tmp / "x.png")
    async with make_app(base_url=sim.base_url, model="sim-chat") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await attach(app, pilot, "x.png")
        await accept_the_offer(app, pilot, "describe it")
        await wait_until(pilot, lambda: "Attachments are left out of every request" in notices(app))
        await wait_for_text(pilot, app, "attachments left out")  # the status line says so
        rejected = sim.stats.rejected

        await turn(app, pilot, "echo still there")
        assert not isinstance(app.screen, ConfirmScreen)
        assert sim.stats.rejected == rejected and app.session.conversation.messages[-1].content == "still there"
        body = sim.stats.last_request_body
        assert "[image omitted: x.png]" in str(body) and media_parts(body, "image_url") == []

        await pilot.press("ctrl+r")
        await wait_for_reply(app, pilot)
        assert sim.stats.rejected == rejected and app.session.conversation.messages[-1].status == "complete"


async def test_switching_to_another_model_sends_the_images_again(sim, make_app, in_tmp) -> None:
    picture(in_tmp / "x.png")
    async with make_app(base_url=sim.base_url, model="sim-chat") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await attach(app, pilot, "x.png")
        await accept_the_offer(app, pilot, "describe it")
        app.chat.use_model("sim-vision")
        await wait_for_text(pilot, app, absent=["attachments left out"])
        await turn(app, pilot, "now look")
        assert len(media_parts(sim.stats.last_request_body, "image_url")) == 1
        app.chat.use_model("sim-chat")
        await send(app, pilot, "and you?")
        await wait_for_screen(pilot, app, ConfirmScreen)  # the earlier choice is not brought back


async def test_a_new_conversation_forgets_the_choice(sim, make_app, in_tmp) -> None:
    picture(in_tmp / "x.png")
    async with make_app(base_url=sim.base_url, model="sim-chat") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await attach(app, pilot, "x.png")
        await accept_the_offer(app, pilot, "describe it")
        await pilot.press("ctrl+n")
        await wait_for_text(pilot, app, absent=["attachments left out"])
        await attach(app, pilot, "x.png")
        await send(app, pilot, "again")
        await wait_for_screen(pilot, app, ConfirmScreen)


async def test_two_attachments_in_one_message_both_reach_the_server(sim, make_app, in_tmp) -> None:
    picture(in_tmp / "left.png"), picture(in_tmp / "right.jpg", (200, 320), (250, 200, 0))
    async with make_app(base_url=sim.base_url, model="sim-vision") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await attach(app, pilot, "left.png", "right.jpg")
        await turn(app, pilot, "compare")
        left, right = app.session.conversation.messages[0].attachments
        assert (f"I received 2 images: image/png, {left.size} bytes; image/jpeg, {right.size} bytes."
                in app.session.conversation.messages[-1].content)
        urls = [p["image_url"]["url"] for p in media_parts(sim.stats.last_request_body, "image_url")]
        assert [u.split(";")[0] for u in urls] == ["data:image/png", "data:image/jpeg"]


async def test_a_pasted_web_image_address_becomes_a_chip(sim, make_app, in_tmp) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        app.post_message(events.Paste("https://example.com/pics/cat.png"))
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        assert app.chat.prompt.text == ""
        [att] = app.chat.attachments.attachments
        assert (att.kind, att.name, att.url) == ("image", "cat.png", "https://example.com/pics/cat.png")
        # The chip is in the bar a moment before it is drawn: wait for the screen.
        await wait_for_text(pilot, app, "cat.png · image · URL")


async def test_a_data_url_is_stored_as_a_file_and_the_session_keeps_a_reference(sim, make_app, in_tmp) -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (3000, 1500), (10, 200, 90)).save(out, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()
    async with make_app(base_url=sim.base_url, model="sim-vision") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        app.post_message(events.Paste(url))
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        await wait_for_text(pilot, app, "pasted-image.png · image")
        [pending] = app.chat.attachments.attachments
        assert (pending.width, pending.height) == (2048, 1024), "downscaled like a local file"
        await turn(app, pilot, "what is this?")
        [att] = app.session.conversation.messages[0].attachments
        assert att.url is None and (media_dir() / att.ref).is_file()
        conv_id = app.session.conversation.id
    saved = SessionStore().path_for(conv_id).read_text()
    assert "base64" not in saved and att.ref in saved
    async with make_app(base_url=sim.base_url, conversation=SessionStore().load(conv_id)) as (app, pilot):
        thumb = await wait_until(pilot, lambda: (found := app.chat.messages.query(ImageThumb)) and found.first())
        await wait_until(pilot, lambda: thumb.picture is not None)
