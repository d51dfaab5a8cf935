"""The large image view: opened from a thumbnail, fitted to the screen with the image's
shape, described, refitted on resize, closed with Esc, Enter or q; images that can't be
drawn are explained instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from tests.support.pilot import wait_for_stable_screen, wait_for_text, wait_until
from vllm_chat.core.attachments import prepare_attachment
from vllm_chat.core.config import AttachmentSettings
from vllm_chat.core.conversation import Attachment
from vllm_chat.ui import images
from vllm_chat.ui.screens.image_view import ImageViewScreen
from vllm_chat.ui.widgets.image_thumb import ImageThumb


@pytest.fixture(autouse=True)
def half_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the renderer so the view looks the same on every terminal."""
    monkeypatch.setenv(images.RENDERER_ENV, "halfcell")
    images.prepare_terminal("halfcell")


def photo(tmp_path: Path, size: tuple[int, int] = (1200, 600)) -> Attachment:
    from PIL import Image

    path = tmp_path / "sunset.png"
    Image.new("RGB", size, (230, 120, 40)).save(path)
    return prepare_attachment(path, AttachmentSettings()).attachment


class Host(App[None]):
    """A thumbnail that opens the viewer, as the chat screen does."""

    def __init__(self, attachment: Attachment) -> None:
        super().__init__()
        self.attachment = attachment
        self.closed = 0

    def compose(self) -> ComposeResult:
        yield ImageThumb(self.attachment)

    def on_image_thumb_opened(self, event: ImageThumb.Opened) -> None:
        self.push_screen(ImageViewScreen(event.attachment), callback=lambda _: self.count_close())

    def count_close(self) -> None:
        self.closed += 1


async def open_view(app: Host, pilot) -> ImageViewScreen:
    thumb = app.query_one(ImageThumb)
    thumb.focus()
    await pilot.press("enter")
    return await wait_until(pilot, lambda: isinstance(app.screen, ImageViewScreen) and app.screen,
                            message="the image view")


@pytest.mark.parametrize("key", ["escape", "enter", "q"])
async def test_a_thumbnail_opens_the_view_and_the_key_closes_it(tmp_path: Path, key: str) -> None:
    app = Host(photo(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_view(app, pilot)
        await wait_until(pilot, lambda: view.picture, message="the large picture")
        await pilot.press(key)
        await wait_until(pilot, lambda: app.closed == 1, message="the view to close")
        assert not isinstance(app.screen, ImageViewScreen)
        await wait_until(pilot, lambda: app.focused is app.query_one(ImageThumb), message="back on the thumbnail")


async def test_the_image_fills_the_screen_keeping_its_shape(tmp_path: Path) -> None:
    app = Host(photo(tmp_path, (1200, 600)))
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_view(app, pilot)
        await wait_until(pilot, lambda: view.picture, message="the large picture")
        await wait_for_text(pilot, app, "sunset.png · image", "1200×600", "esc / enter / q close")
        await wait_for_stable_screen(pilot, app)  # laid out: the canvas has its final size
        picture = view.picture
        canvas = view.query_one("#image-canvas").content_size
        width, height = picture.size
        assert width <= canvas.width and height <= canvas.height
        assert width == canvas.width or height == canvas.height, "as large as fits"
        assert width > 2 * 24, "much larger than the thumbnail"
        cell_w, cell_h = images.cell_size()
        assert abs(width * cell_w / (height * cell_h) - 2.0) < 0.2
        segments = [s for y in range(height) for s in picture.render_line(y)]
        assert any(s.text == "▀" and s.style.color.triplet == (230, 120, 40) for s in segments)

        await pilot.resize_terminal(60, 20)
        await wait_until(pilot, lambda: picture.size.width < width, message="the refit after a resize")
        canvas = view.query_one("#image-canvas").content_size
        assert picture.size.width <= canvas.width and picture.size.height <= canvas.height


async def test_a_missing_image_is_explained_and_the_view_still_closes(tmp_path: Path) -> None:
    gone = Attachment(kind="image", name="gone.png", mime="image/png", width=10, height=10,
                      ref="a" * 64 + ".png")
    app = Host(gone)
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_view(app, pilot)
        await wait_until(pilot, lambda: view.problem, message="the explanation")
        assert "no longer in the media folder" in view.problem
        assert view.picture is None
        await wait_for_text(pilot, app, "gone.png")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.closed == 1)


async def test_with_pictures_off_the_view_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(images.RENDERER_ENV, "off")
    app = Host(photo(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_view(app, pilot)
        await wait_for_text(pilot, app, 'Pictures are switched off (attachments.image_protocol = "off").')
        assert view.picture is None


async def test_a_web_image_is_not_downloaded(tmp_path: Path) -> None:
    web = Attachment(kind="image", name="cat.png", url="https://example.com/cat.png")
    app = Host(web)
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(ImageViewScreen(web))
        await wait_for_text(pilot, app, "not downloaded", "https://example.com/cat.png")
