"""Snapshots of the screens that matter, at a fixed size with blinking off: the main
screen in two themes, a streamed reply with a code fence and a table, a tool panel, the
help screen, the settings panel, and attachments (an inline half-block thumbnail and
pending chips). Update with `pytest --snapshot-update`."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.widgets import Input, TextArea

from tests.support.pilot import send, turn, wait_for_screen, wait_for_stable_screen, wait_for_text, wait_until
from vllm_chat.core.conversation import Timings
from vllm_chat.ui.screens.help import HelpScreen
from vllm_chat.ui.screens.settings import SettingsScreen
from vllm_chat.ui.widgets.image_thumb import ImageThumb
from vllm_chat.ui.widgets.message_views import AssistantMessageView
from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel

SIZE = (100, 34)

REPLY = """echo ## Batching in vLLM

Continuous batching keeps the GPU busy:

```python
for request in queue:
    engine.add_request(request)
```

| Setting | Effect |
|---|---|
| `max_num_seqs` | requests per step |
| `max_model_len` | context window |
"""


@pytest.fixture
def app_snapshot(snapshot) -> Callable[..., bool]:
    """Compare the app's screen now with the stored SVG named `name`."""
    snap = snapshot.use_extension(SVGImageExtension)

    def compare(app, name: str) -> bool:
        return snap(name=name) == app.export_screenshot()

    return compare


async def settle(app, pilot) -> None:
    """Freeze everything that changes between runs: cursors, the port, the timings, and the
    context meter (its exact count arrives a moment after the last change)."""
    await wait_until(pilot, lambda: app.session.status().context_exact, message="the exact context count")
    for widget in app.screen.query("*"):
        if isinstance(widget, (Input, TextArea)):
            widget.cursor_blink = False
    shown_server = urlsplit(app.session.settings.base_url).netloc
    app.session.settings = app.session.settings.model_copy(update={"base_url": "http://gpu-box:8000/v1"})
    for message in app.session.conversation.messages:
        if message.timings is not None:
            message.timings = Timings(started_at=0.0, ttft=0.21, duration=1.21)
    for view in app.chat.messages.query(AssistantMessageView):
        view.refresh_footer()
    for panel in app.chat.messages.query(ToolCallPanel):
        panel._elapsed = 0.02  # how long the tool took varies from run to run
        panel._redraw()
    app.chat.show_status()
    # A screen under a dialog is redrawn with the dialog, a moment later than the dialog
    # itself: wait until the status line, wherever the dialog leaves it in view, no longer
    # names the real server, then for a still screen.
    await wait_for_text(pilot, app, absent=[shown_server])
    await wait_for_stable_screen(pilot, app)


@pytest.mark.parametrize("theme", ["vllm-night", "vllm-day"])
async def test_main_screen_in_two_themes(sim, make_app, app_snapshot, theme: str) -> None:
    async with make_app(base_url=sim.base_url, theme=theme, size=SIZE) as (app, pilot):
        await wait_until(pilot, lambda: app.session.connection == "connected")
        await turn(app, pilot, "echo Hello! How can I help?")
        await settle(app, pilot)
        assert app_snapshot(app, f"main-{theme}")


async def test_a_streamed_reply_with_a_code_fence_and_a_table(sim, make_app, app_snapshot) -> None:
    async with make_app(base_url=sim.base_url, size=SIZE) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, REPLY)
        await settle(app, pilot)
        assert app_snapshot(app, "streamed-reply")


async def test_a_tool_panel(sim, make_app, app_snapshot) -> None:
    async with make_app(base_url=sim.base_url, size=SIZE) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "what is 17*23")
        app.chat.messages.query_one(ToolCallPanel).scroll_visible(animate=False)
        await settle(app, pilot)
        assert app_snapshot(app, "tool-panel")


async def test_the_help_screen(sim, make_app, app_snapshot) -> None:
    async with make_app(base_url=sim.base_url, size=SIZE) as (app, pilot):
        await wait_until(pilot, lambda: app.session.connection == "connected")
        await pilot.press("f1")
        await wait_for_screen(pilot, app, HelpScreen)
        await settle(app, pilot)
        assert app_snapshot(app, "help")


async def test_the_settings_panel(sim, make_app, app_snapshot) -> None:
    async with make_app(base_url=sim.base_url, size=SIZE, system_prompt="Be terse.",
                        sampling={"temperature": 0.6, "top_k": 20}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await pilot.press("ctrl+s")
        await wait_for_screen(pilot, app, SettingsScreen)
        await settle(app, pilot)
        assert app_snapshot(app, "settings")


def landscape(path: Path) -> Path:
    """A small picture with shapes a thumbnail should keep: sky, sun, hills."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 160), (90, 160, 230))
    draw = ImageDraw.Draw(image)
    draw.ellipse((160, 20, 210, 70), fill=(250, 210, 60))
    draw.polygon([(0, 160), (0, 110), (80, 70), (170, 120), (240, 95), (240, 160)], fill=(40, 140, 70))
    image.save(path)
    return path


async def test_an_inline_thumbnail_and_pending_attachment_chips(sim, make_app, app_snapshot, tmp_path,
                                                               monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    landscape(tmp_path / "hills.png")
    from PIL import Image

    Image.new("RGB", (1024, 768), (200, 60, 60)).save(tmp_path / "red.jpg")
    with wave.open(str(tmp_path / "notes.wav"), "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(8000)
        clip.writeframes(bytes(16000))
    async with make_app(base_url=sim.base_url, model="sim-vision", size=SIZE) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "/attach hills.png")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        await turn(app, pilot, "What is in this picture?")
        thumb = app.chat.messages.query_one(ImageThumb)
        await wait_until(pilot, lambda: thumb.picture is not None)
        for name in ("red.jpg", "notes.wav"):
            count = len(app.chat.attachments.chips)
            await send(app, pilot, f"/attach {name}")
            await wait_until(pilot, lambda: len(app.chat.attachments.chips) == count + 1)  # noqa: B023
        app.chat.messages.scroll_home(animate=False)
        await settle(app, pilot)
        assert app_snapshot(app, "attachments")
