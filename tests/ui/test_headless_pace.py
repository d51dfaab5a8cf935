"""The pace the UI tests run Textual at (`tests/support/headless.py`): what a test sees is
what the app shows, while no frame is composited that nobody reads and no key waits
longer than the app needs."""

from __future__ import annotations

from typing import Any

import pytest
from textual._compositor import Compositor
from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from tests.support.pilot import wait_for_text, wait_until


class Typing(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("type here:")
        yield Input(id="box")


def count_composited(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per frame composited: True for a whole screen, False for a partial one."""
    frames: list[bool] = []
    render_update = Compositor.render_update

    def counted(self: Compositor, full: bool = False, **kwargs: Any) -> Any:
        frames.append(full)
        return render_update(self, full, **kwargs)

    monkeypatch.setattr(Compositor, "render_update", counted)
    return frames


async def type_hello(app: Typing, pilot: Any) -> None:
    app.query_one(Input).focus()
    await pilot.press(*"hello")


async def test_each_key_is_applied_by_the_time_the_press_returns() -> None:
    app = Typing()
    async with app.run_test() as pilot:
        box = app.query_one(Input)
        box.focus()
        for n, key in enumerate("pilot", start=1):
            await pilot.press(key)
            assert box.value == "pilot"[:n]


async def test_the_screen_read_shows_what_changed_though_no_frame_was_composited_for_it(monkeypatch) -> None:
    frames = count_composited(monkeypatch)
    app = Typing()
    async with app.run_test() as pilot:
        await type_hello(app, pilot)
        assert frames == [], "nothing composited while nobody looked"
        assert "hello" in await wait_for_text(pilot, app, "hello")
        assert frames and all(frames), "composited whole, by the read"


@pytest.mark.paints
async def test_a_test_of_the_frames_gets_every_frame_composited(monkeypatch) -> None:
    frames = count_composited(monkeypatch)
    app = Typing()
    async with app.run_test() as pilot:
        await type_hello(app, pilot)
        await wait_until(pilot, lambda: frames, message="a frame composited by the app itself")
        assert frames, "the app composited its frames as it does on a terminal"
        assert "hello" in await wait_for_text(pilot, app, "hello")
