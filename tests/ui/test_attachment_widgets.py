"""Attachment widgets with real files: the renderer choice, inline thumbnails (half blocks
forced, so the output is the same on every terminal), their text-chip fallbacks, and the
bar of pending attachments above the prompt (chips removable by keyboard and mouse)."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input

from tests.support.pilot import wait_for_text, wait_until
from vllm_chat.core.attachments import PreparedAttachment, prepare_attachment
from vllm_chat.core.config import AttachmentSettings
from vllm_chat.core.conversation import Attachment, Message
from vllm_chat.core.paths import ensure_private_dir, media_dir
from vllm_chat.ui import images
from vllm_chat.ui.widgets.attachment_bar import AttachmentBar, AttachmentChip
from vllm_chat.ui.widgets.image_thumb import ImageThumb, ThumbnailGrid, thumbnails_for

SETTINGS = AttachmentSettings()


@pytest.fixture(autouse=True)
def half_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the renderer, as every UI test must, so output does not depend on the terminal."""
    monkeypatch.setenv(images.RENDERER_ENV, "halfcell")
    images.prepare_terminal("halfcell")


def make_image(path: Path, size: tuple[int, int] = (640, 480), color: tuple[int, int, int] = (200, 40, 60)) -> Path:
    from PIL import Image

    Image.new("RGB", size, color).save(path)
    return path


def make_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 800)
    return path


def prepared(path: Path) -> PreparedAttachment:
    return prepare_attachment(path, SETTINGS)


class ThumbHost(App[None]):
    """Shows the given widgets in a scrolling pane; records what thumbnails asked for."""

    def __init__(self, *widgets) -> None:
        super().__init__()
        self.widgets = widgets
        self.opened: list[Attachment] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield from self.widgets

    def on_image_thumb_opened(self, event: ImageThumb.Opened) -> None:
        self.opened.append(event.attachment)


class BarHost(App[None]):
    """A conversation stand-in, the bar, and a prompt below it (as on the chat screen)."""

    CSS = "#conversation { height: 1fr; }"

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[list[Attachment]] = []

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="conversation")
        yield AttachmentBar()
        yield Input(id="prompt")

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).cursor_blink = False
        self.query_one("#prompt").focus()

    def on_attachment_bar_changed(self, event: AttachmentBar.Changed) -> None:
        self.changes.append(event.attachments)


# -- which renderer -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "detected", "purpose", "expected"),
    [
        ("auto", "tgp", "inline", "tgp"),
        ("auto", "halfcell", "inline", "halfcell"),
        ("auto", "sixel", "inline", "halfcell"),  # Sixel flickers in the scrolling pane
        ("auto", "sixel", "viewer", "sixel"),  # the still modal may use it
        ("tgp", "halfcell", "inline", "tgp"),
        ("sixel", "tgp", "inline", "sixel"),
        ("halfcell", "sixel", "viewer", "halfcell"),
        ("off", "tgp", "viewer", None),
        ("auto", None, "inline", None),  # textual-image could not start: text chips
    ],
)
def test_the_renderer_follows_the_setting_and_what_the_terminal_supports(
    protocol, detected, purpose, expected
) -> None:
    assert images.choose_renderer(protocol, detected, purpose) == expected


def test_the_environment_variable_overrides_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert images.effective_protocol("tgp") == "halfcell"
    monkeypatch.setenv(images.RENDERER_ENV, "off")
    assert images.effective_protocol("auto") == "off"
    assert images.image_widget_class("inline", "tgp") is None
    monkeypatch.setenv(images.RENDERER_ENV, "hologram")
    assert images.effective_protocol("sixel") == "sixel", "an unknown value is ignored"


def test_the_forced_half_block_renderer_is_textual_images_halfcell_widget() -> None:
    from textual_image.widget import HalfcellImage

    assert images.image_widget_class("inline") is HalfcellImage
    assert images.image_widget_class("viewer", "tgp") is HalfcellImage


def test_pictures_are_fitted_into_their_box_keeping_their_shape() -> None:
    cell_w, cell_h = images.cell_size()
    cols, rows = images.fit_cells((640, 480), (24, 8))
    assert cols <= 24 and rows <= 8 and (cols == 24 or rows == 8)
    assert abs((cols * cell_w) / (rows * cell_h) - 640 / 480) < 0.15
    assert images.fit_cells((300, 3000), (24, 8))[1] == 8
    assert images.fit_cells((1, 1), (24, 8)) >= (1, 1)


def test_importing_the_attachment_widgets_loads_neither_pillow_nor_textual_image() -> None:
    code = (
        "import sys\n"
        "import vllm_chat.ui.widgets.image_thumb, vllm_chat.ui.widgets.attachment_bar\n"
        "import vllm_chat.ui.screens.attach, vllm_chat.ui.screens.image_view\n"
        "loaded = [m for m in ('PIL', 'PIL.Image', 'textual_image') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_prepare_terminal_with_pictures_off_imports_nothing() -> None:
    code = (
        "import sys\n"
        "from vllm_chat.ui import images\n"
        "assert images.prepare_terminal('off') is None\n"
        "assert 'textual_image' not in sys.modules and 'PIL' not in sys.modules\n"
        "assert images.prepare_terminal('auto') == 'halfcell'  # no terminal: half blocks\n"
    )
    env = {k: v for k, v in os.environ.items() if k != images.RENDERER_ENV}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env,
                            check=False)
    assert result.returncode == 0, result.stderr


# -- thumbnails ---------------------------------------------------------------------


async def test_an_image_thumbnail_is_drawn_in_coloured_half_blocks(tmp_path: Path) -> None:
    photo = prepared(make_image(tmp_path / "red.png", (640, 480), (200, 40, 60))).attachment
    thumb = ImageThumb(photo)
    app = ThumbHost(thumb)
    async with app.run_test(size=(80, 24)) as pilot:
        picture = await wait_until(pilot, lambda: thumb.picture, message="the picture")
        await pilot.pause()
        assert thumb.shows_picture
        segments = [s for y in range(picture.size.height) for s in picture.render_line(y)]
        blocks = [s for s in segments if s.text in ("▀", "▄")]
        assert blocks, "half-block characters"
        assert blocks[0].style.color.triplet == (200, 40, 60)
        assert blocks[0].style.bgcolor.triplet == (200, 40, 60)
        await wait_for_text(pilot, app, "red.png")  # the caption names the file


async def test_thumbnails_are_small_and_keep_the_images_shape(tmp_path: Path) -> None:
    wide = ImageThumb(prepared(make_image(tmp_path / "wide.png", (640, 480))).attachment)
    tall = ImageThumb(prepared(make_image(tmp_path / "tall.png", (300, 600), (0, 90, 0))).attachment)
    app = ThumbHost(wide, tall)
    async with app.run_test(size=(80, 30)) as pilot:
        await wait_until(pilot, lambda: wide.picture and tall.picture, message="both pictures")
        await pilot.pause()
        assert wide.picture.size.width <= 24 and wide.picture.size.height <= 8
        assert wide.picture.size.width > tall.picture.size.width
        assert tall.picture.size.height == 8


async def test_thumbnails_appear_as_text_chips_when_pictures_are_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(images.RENDERER_ENV)
    photo = prepared(make_image(tmp_path / "cat.png")).attachment
    thumb = ImageThumb(photo, protocol="off")
    app = ThumbHost(thumb)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not thumb.shows_picture and thumb.picture is None
        text = await wait_for_text(pilot, app, "cat.png", "image", "640×480")
        assert "▀" not in text


async def test_a_missing_or_corrupt_stored_image_becomes_a_chip_that_says_so(tmp_path: Path) -> None:
    gone = Attachment(kind="image", name="gone.png", mime="image/png", width=64, height=48,
                      ref="0" * 64 + ".png")
    broken_ref = "1" * 64 + ".png"
    ensure_private_dir(media_dir())  # the first stored attachment would have made it
    (media_dir() / broken_ref).write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    broken = Attachment(kind="image", name="broken.png", mime="image/png", ref=broken_ref)
    missing_thumb, broken_thumb = ImageThumb(gone), ImageThumb(broken)
    app = ThumbHost(missing_thumb, broken_thumb)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: missing_thumb.problem and broken_thumb.problem, message="both fall back")
        await pilot.pause()
        assert "no longer in the media folder" in missing_thumb.problem
        assert "broken.png" in broken_thumb.problem
        await wait_for_text(pilot, app, "gone.png", "64×48", "can't be shown", "broken.png")


async def test_audio_video_and_web_images_show_as_chips(tmp_path: Path) -> None:
    bell = prepared(make_wav(tmp_path / "bell.wav")).attachment
    clip = prepare_attachment("https://example.com/films/clip.mp4", SETTINGS).attachment
    web = prepare_attachment("https://example.com/cat.png", SETTINGS).attachment
    thumbs = [ImageThumb(att) for att in (bell, clip, web)]
    app = ThumbHost(*thumbs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not any(t.shows_picture for t in thumbs)
        await wait_for_text(pilot, app, "bell.wav", "audio · 2 KB", "clip.mp4", "video · URL", "cat.png",
                            "image · URL")


async def test_enter_or_a_click_on_an_image_asks_to_open_it_but_not_on_audio(tmp_path: Path) -> None:
    photo = prepared(make_image(tmp_path / "cat.png")).attachment
    bell = prepared(make_wav(tmp_path / "bell.wav")).attachment
    image_thumb, audio_thumb = ImageThumb(photo), ImageThumb(bell)
    app = ThumbHost(image_thumb, audio_thumb)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: image_thumb.picture, message="the picture")
        image_thumb.focus()
        await pilot.press("enter")
        assert app.opened == [photo]
        await pilot.click(image_thumb)
        assert app.opened == [photo, photo]
        audio_thumb.focus()
        await pilot.press("enter")
        await pilot.click(audio_thumb)
        assert app.opened == [photo, photo]


async def test_a_message_shows_all_its_attachments_in_a_grid(tmp_path: Path) -> None:
    message = Message(role="user", content="look", attachments=[
        prepared(make_image(tmp_path / "a.png")).attachment,
        prepared(make_image(tmp_path / "b.png", color=(0, 0, 200))).attachment,
        prepared(make_wav(tmp_path / "c.wav")).attachment,
    ])
    assert list(thumbnails_for(Message(role="user", content="no media"))) == []
    widgets = list(thumbnails_for(message))
    assert len(widgets) == 1 and isinstance(widgets[0], ThumbnailGrid)
    app = ThumbHost(*widgets)
    async with app.run_test(size=(90, 30)) as pilot:
        thumbs = list(app.query(ImageThumb))
        assert [t.attachment.name for t in thumbs] == ["a.png", "b.png", "c.wav"]
        await wait_until(pilot, lambda: thumbs[0].picture and thumbs[1].picture, message="the pictures")
        await pilot.pause()
        assert thumbs[0].region.y == thumbs[1].region.y == thumbs[2].region.y, "side by side"
        await pilot.resize_terminal(30, 40)
        # One per row when narrow.
        await wait_until(pilot, lambda: thumbs[1].region.y > thumbs[0].region.y)


async def test_thumbnails_of_the_same_image_are_decoded_once(tmp_path: Path) -> None:
    photo = prepared(make_image(tmp_path / "once.png")).attachment
    images.THUMBNAILS.clear()
    first = ImageThumb(photo)
    app = ThumbHost(first)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: first.picture, message="the first picture")
        (media_dir() / photo.ref).unlink()
        second = ImageThumb(photo)
        await app.query_one(VerticalScroll).mount(second)
        await wait_until(pilot, lambda: second.picture or second.problem, message="the second one")
        assert second.picture is not None, "drawn from the cache, not the (now deleted) file"


# -- the bar of pending attachments ---------------------------------------------------


async def test_the_bar_is_hidden_until_something_is_attached_and_shows_a_chip_each(tmp_path: Path) -> None:
    photo = prepared(make_image(tmp_path / "cat.png"))
    bell = prepared(make_wav(tmp_path / "bell.wav"))
    app = BarHost()
    async with app.run_test(size=(100, 12)) as pilot:
        bar = app.query_one(AttachmentBar)
        assert not bar.display
        assert bar.add(photo) and bar.add(bell)
        await pilot.pause()
        assert bar.display
        assert bar.attachments == [photo.attachment, bell.attachment]
        assert [chip.label for chip in bar.chips] == [
            f"cat.png · image · {_size(photo)} · 640×480",
            f"bell.wav · audio · {_size(bell)}",
        ]
        await wait_for_text(pilot, app, "cat.png · image", "640×480", "bell.wav · audio", "✕")
        assert app.changes[-1] == [photo.attachment, bell.attachment]


async def test_adding_attachments_leaves_the_focus_in_the_prompt(tmp_path: Path) -> None:
    app = BarHost()
    async with app.run_test(size=(100, 12)) as pilot:
        bar = app.query_one(AttachmentBar)
        bar.add(prepared(make_image(tmp_path / "cat.png")))
        await pilot.pause()
        assert app.focused is app.query_one("#prompt")
        await pilot.press("h", "i")
        assert app.query_one("#prompt", Input).value == "hi"


async def test_the_same_file_is_not_attached_twice(tmp_path: Path) -> None:
    app = BarHost()
    async with app.run_test(size=(100, 12)) as pilot:
        bar = app.query_one(AttachmentBar)
        assert bar.add(prepared(make_image(tmp_path / "cat.png")))
        assert not bar.add(prepared(make_image(tmp_path / "copy-of-cat.png")))
        await pilot.pause()
        assert len(bar.chips) == 1


async def test_chips_are_removed_with_the_keyboard_and_focus_ends_in_the_prompt(tmp_path: Path) -> None:
    first = prepared(make_image(tmp_path / "one.png", color=(1, 1, 1)))
    second = prepared(make_image(tmp_path / "two.png", color=(2, 2, 2)))
    third = prepared(make_wav(tmp_path / "three.wav"))
    app = BarHost()
    async with app.run_test(size=(120, 12)) as pilot:
        bar = app.query_one(AttachmentBar)
        for item in (first, second, third):
            bar.add(item)
        await pilot.pause()
        await pilot.press("shift+tab")
        assert app.focused is bar.chips[-1], "shift+tab from the prompt reaches the last chip"
        await pilot.press("left")
        assert app.focused is bar.chips[1]
        await pilot.press("delete")
        await pilot.pause()
        assert bar.attachments == [first.attachment, third.attachment]
        assert app.focused is bar.chips[1], "the focus moves to the next chip"
        await pilot.press("backspace")
        await pilot.pause()
        assert bar.attachments == [first.attachment]
        await pilot.press("backspace")
        await pilot.pause()
        assert bar.attachments == [] and not bar.display
        assert app.focused is app.query_one("#prompt")
        assert app.changes[-1] == []


async def test_a_chip_is_removed_by_clicking_its_cross(tmp_path: Path) -> None:
    photo = prepared(make_image(tmp_path / "cat.png"))
    bell = prepared(make_wav(tmp_path / "bell.wav"))
    app = BarHost()
    async with app.run_test(size=(100, 12)) as pilot:
        bar = app.query_one(AttachmentBar)
        bar.add(photo)
        bar.add(bell)
        await pilot.pause()
        await pilot.click(bar.chips[0].query_one(".remove"))
        await pilot.pause()
        assert bar.attachments == [bell.attachment]
        assert app.focused is app.query_one("#prompt"), "clicking the cross does not take the focus"


async def test_clear_and_remove_by_index(tmp_path: Path) -> None:
    app = BarHost()
    async with app.run_test(size=(100, 12)) as pilot:
        bar = app.query_one(AttachmentBar)
        photo = prepared(make_image(tmp_path / "cat.png"))
        bell = prepared(make_wav(tmp_path / "bell.wav"))
        bar.add(photo)
        bar.add(bell)
        bar.remove(5)
        bar.remove(0)
        await wait_for_text(pilot, app, "bell.wav", absent=["cat.png"])
        assert bar.attachments == [bell.attachment] and bar.prepared == [bell]
        bar.clear()
        await pilot.pause()
        assert bar.attachments == [] and bar.chips == [] and not bar.display
        await wait_for_text(pilot, app, absent=["bell.wav"])


def _size(item: PreparedAttachment) -> str:
    from vllm_chat.core.attachments import human_size

    assert item.attachment.size is not None
    return human_size(item.attachment.size)


def test_chip_ids_are_bindings_with_ids() -> None:
    ids = {b.id for b in AttachmentChip.BINDINGS} | {b.id for b in ImageThumb.BINDINGS}
    assert {"remove-attachment", "previous-attachment", "next-attachment", "open-attachment"} <= ids


def test_transparent_parts_are_drawn_in_the_colour_behind_the_thumbnail() -> None:
    from PIL import Image

    clear = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    copy = images.display_copy(clear, (2, 1), background="#102030")
    assert copy.mode == "RGB" and copy.getpixel((0, 0)) == (16, 32, 48)
    assert copy.size[0] <= 2 * images.cell_size()[0]
