"""The attach picker on a real folder: it lists media and folders only, previews the
highlighted image, and returns a prepared (stored) attachment; files that can't be used
keep it open with the reason; paths and URLs can be typed instead."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import pytest
from textual.app import App

from tests.support.pilot import wait_for_text, wait_until
from vllm_chat.core.attachments import PreparedAttachment
from vllm_chat.core.config import AttachmentSettings
from vllm_chat.core.paths import media_dir
from vllm_chat.ui import images
from vllm_chat.ui.screens.attach import AttachScreen, MediaTree

UNSET = object()


@pytest.fixture(autouse=True)
def half_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the renderer so previews look the same on every terminal."""
    monkeypatch.setenv(images.RENDERER_ENV, "halfcell")
    images.prepare_terminal("halfcell")


def png(size: tuple[int, int] = (640, 480), color: tuple[int, int, int] = (20, 120, 220)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def jpeg(size: tuple[int, int] = (320, 200)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (250, 180, 30)).save(out, format="JPEG")
    return out.getvalue()


def mp4() -> bytes:
    body = b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41"
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + struct.pack(">I", 16) + b"mdat" + bytes(8)


def wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    return out.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Pictures, a clip, a sound, things that are not media, a hidden file and a subfolder."""
    root = tmp_path / "pictures"
    (root / "trips").mkdir(parents=True)
    (root / "photo.png").write_bytes(png())
    (root / "big.jpg").write_bytes(jpeg((3000, 2000)))
    (root / "clip.mp4").write_bytes(mp4())
    (root / "bell.wav").write_bytes(wav())
    (root / "notes.txt").write_text("shopping list")
    (root / "fake.png").write_text("I am text pretending to be a picture")
    (root / "broken.jpg").write_bytes(jpeg()[:300])
    (root / ".secret.png").write_bytes(png((8, 8)))
    (root / "trips" / "beach.png").write_bytes(png((200, 100), (240, 220, 150)))
    return root


class Host(App[None]):
    """Opens the picker at once and keeps what it returns."""

    def __init__(self, start: Path, settings: AttachmentSettings | None = None) -> None:
        super().__init__()
        self.start = start
        self.settings = settings or AttachmentSettings()
        self.result: object = UNSET

    def on_mount(self) -> None:
        self.push_screen(AttachScreen(self.start, self.settings), callback=self._done)

    def _done(self, result: PreparedAttachment | None) -> None:
        self.result = result


def names(tree: MediaTree) -> list[str]:
    return [str(node.label) for node in tree.root.children]


async def opened(app: Host, pilot) -> AttachScreen:
    screen = await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen) and app.screen)
    await wait_until(pilot, lambda: screen.tree.root.children, message="the folder listing")
    return screen


async def highlight(screen: AttachScreen, pilot, name: str) -> None:
    node = next(n for n in screen.tree.root.children if str(n.label) == name)
    screen.tree.move_cursor(node)
    await wait_until(pilot, lambda: screen.preview and screen.preview.path.name == name,
                     message=f"the preview of {name}")
    await pilot.pause()


async def test_the_picker_lists_only_media_files_and_folders(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        assert names(screen.tree) == ["trips", "bell.wav", "big.jpg", "broken.jpg", "clip.mp4", "fake.png",
                                      "photo.png"]


async def test_hidden_files_are_listed_after_ctrl_t(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: ".secret.png" in names(screen.tree), message="the hidden file")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: ".secret.png" not in names(screen.tree), message="hidden again")


async def test_the_highlighted_image_is_previewed_with_what_it_is(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        await highlight(screen, pilot, "photo.png")
        picture = await wait_until(pilot, lambda: screen.query(".frame > *"), message="the thumbnail")
        strip = picture.first().render_line(0)
        assert any(seg.text in ("▀", "▄") and seg.style.bgcolor for seg in strip)
        await wait_for_text(pilot, app, "photo.png · image", "640×480")

        await highlight(screen, pilot, "big.jpg")
        await wait_for_text(pilot, app, "3000×2000", "sent downscaled to 2048×1365")


async def test_video_audio_and_non_media_are_described_without_a_picture(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        await highlight(screen, pilot, "clip.mp4")
        await wait_for_text(pilot, app, "clip.mp4 · video")
        assert not screen.query(".frame")
        await highlight(screen, pilot, "fake.png")
        assert screen.preview.note == "not an image, video or audio file: it looks like text"
        await wait_for_text(pilot, app, "fake.png · 36 B", "looks like text")
        await highlight(screen, pilot, "trips")
        await wait_for_text(pilot, app, "trips/ · folder")


async def test_enter_on_a_file_returns_it_prepared_and_stored_in_the_media_folder(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        await highlight(screen, pilot, "photo.png")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.result is not UNSET, message="the picker to close")
        result = app.result
        assert isinstance(result, PreparedAttachment)
        assert result.attachment.name == "photo.png" and result.attachment.kind == "image"
        assert (result.attachment.width, result.attachment.height) == (640, 480)
        assert result.path == media_dir() / result.attachment.ref
        assert result.path.read_bytes() == (folder / "photo.png").read_bytes()


async def test_a_big_photo_is_prepared_in_the_background_and_downscaled(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        await highlight(screen, pilot, "big.jpg")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.result is not UNSET, message="the picker to close")
        assert (app.result.attachment.width, app.result.attachment.height) == (2048, 1365)


@pytest.mark.parametrize(("name", "reason"), [
    ("fake.png", "not an image, video or audio file (it looks like text)"),
    ("broken.jpg", "can't be decoded"),
])
async def test_a_file_that_cant_be_used_shows_why_and_the_picker_stays_open(
    folder: Path, name: str, reason: str
) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        await highlight(screen, pilot, name)
        await pilot.press("enter")
        await wait_until(pilot, lambda: reason in screen.status_text, message="the reason")
        assert screen.status_text.startswith(name)
        await wait_for_text(pilot, app, screen.status_text[:40])  # shown under the path box
        assert app.screen is screen and app.result is UNSET
        await highlight(screen, pilot, "photo.png")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.result is not UNSET, message="another file still works")


async def test_a_relative_path_typed_in_the_box_is_attached(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        await pilot.press("tab")
        assert app.focused is screen.path_input
        await pilot.press(*"trips/beach.png", "enter")
        await wait_until(pilot, lambda: app.result is not UNSET, message="the picker to close")
        assert app.result.attachment.name == "beach.png"
        assert app.result.path.is_file()


async def test_a_pasted_quoted_absolute_path_is_attached(folder: Path) -> None:
    app = Host(folder / "trips")
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        screen.path_input.value = f"'{folder / 'bell.wav'}'"
        screen.path_input.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.result is not UNSET, message="the picker to close")
        assert app.result.attachment.kind == "audio"


async def test_an_http_url_typed_in_the_box_is_attached_as_a_url(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        screen.path_input.focus()
        await pilot.press(*"https://example.com/cats/tabby.jpg", "enter")
        await wait_until(pilot, lambda: app.result is not UNSET, message="the picker to close")
        att = app.result.attachment
        assert (att.kind, att.name, att.url) == ("image", "tabby.jpg", "https://example.com/cats/tabby.jpg")
        assert app.result.path is None


async def test_a_bad_typed_path_shows_why_and_keeps_the_text(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        screen.path_input.focus()
        await pilot.press(*"nope.png", "enter")
        await wait_until(pilot, lambda: screen.status_text and "Preparing" not in screen.status_text)
        assert "nope.png" in screen.status_text
        assert screen.path_input.value == "nope.png" and app.result is UNSET
        await pilot.press("enter")
        assert app.result is UNSET
        screen.path_input.value = ""
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Type a file path" in screen.status_text)


async def test_a_typed_folder_opens_it_and_backspace_goes_back_up(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        screen.path_input.focus()
        await pilot.press(*"trips", "enter")
        await wait_until(pilot, lambda: names(screen.tree) == ["beach.png"], message="the subfolder")
        assert app.focused is screen.tree
        await wait_for_text(pilot, app, str(folder / "trips"))
        await pilot.press("backspace")
        await wait_until(pilot, lambda: "photo.png" in names(screen.tree), message="the parent folder")


async def test_typing_a_slash_in_the_tree_starts_a_path(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        await pilot.press("slash")
        assert app.focused is screen.path_input and screen.path_input.value == "/"


@pytest.mark.paints  # a click reads the frame it lands on: Textual's Tree answers once it has drawn one
async def test_a_first_click_previews_a_file_and_a_second_click_attaches_it(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        node = next(n for n in screen.tree.root.children if str(n.label) == "photo.png")
        offset = (6, node.line - screen.tree.scroll_offset.y + 1)  # +1: the tree's border
        await pilot.click(screen.tree, offset=offset)
        await wait_until(pilot, lambda: screen.preview and screen.preview.path.name == "photo.png")
        assert app.result is UNSET
        await pilot.click(screen.tree, offset=offset)
        await wait_until(pilot, lambda: app.result is not UNSET, message="the picker to close")
        assert app.result.attachment.name == "photo.png"


async def test_escape_closes_the_picker_with_nothing(folder: Path) -> None:
    app = Host(folder)
    async with app.run_test(size=(110, 34)) as pilot:
        await opened(app, pilot)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.result is not UNSET)
        assert app.result is None


async def test_a_start_folder_that_is_gone_opens_its_nearest_parent(folder: Path) -> None:
    app = Host(folder / "vanished" / "deeper")
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await opened(app, pilot)
        assert "photo.png" in names(screen.tree)
