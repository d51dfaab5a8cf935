"""The terminal shows exactly the app's screen after every frame, while only what changed is
written: a reply streaming and scrolling, a notification over it, scrolling back through the
conversation, a dialog, a resize.

A headless app writes nothing, so terminal emulators (pyte) stand where the terminal would
be: every frame the app hands to Textual's display goes, as the bytes it writes, into one
emulated terminal, and as the bytes Textual's own update of that frame would write into
another. After every frame the two must agree cell for cell (character, colours,
attributes), and the first must have been sent far fewer bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pyte
import pytest
from rich.console import Console
from textual.app import App
from textual.screen import Screen

from tests.support.pilot import reply_over, send, wait_until
from vllm_chat.ui.screens.confirm import ConfirmScreen

pytestmark = pytest.mark.paints  # every frame, as the terminal gets it


class Terminals:
    """What the app's output shows, next to what a full repaint of each frame shows."""

    def __init__(self) -> None:
        self.frames = 0
        self.written = 0
        """Bytes the app wrote."""
        self.full = 0
        """Bytes Textual's own update of the same frames would have written."""
        self.mismatch: str = ""
        """The first frame whose output showed something else than the frame, described."""
        self.console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor")
        """Renders every frame as a truecolor terminal would get it. (A strip keeps its first
        rendering, and the screen readers in `tests.support.pilot` render in truecolor: with
        the headless app's own 16-colour console the two sides would differ in colours.)"""
        self._screen: pyte.Screen | None = None
        self._stream: pyte.ByteStream | None = None
        self._reference: pyte.Screen | None = None
        self._reference_stream: pyte.ByteStream | None = None

    def display(self, app: App[Any], screen: Screen[Any], renderable: Any) -> None:
        if renderable is None or not hasattr(renderable, "render_segments"):
            return
        width, height = app.size
        if self._screen is None or (self._screen.columns, self._screen.lines) != (width, height):
            self._screen, self._reference = pyte.Screen(width, height), pyte.Screen(width, height)
            self._stream, self._reference_stream = pyte.ByteStream(self._screen), pyte.ByteStream(self._reference)
        assert self._stream is not None and self._reference_stream is not None
        out = renderable.render_segments(self.console).encode()
        plain = getattr(renderable, "update", renderable)  # Textual's own update, unwrapped
        textual = plain.render_segments(self.console).encode()
        self.frames += 1
        self.written += len(out)
        self.full += len(textual)
        self._stream.feed(out)
        self._reference_stream.feed(textual)
        if not self.mismatch:
            self.mismatch = self._compare(width, height)

    def _compare(self, width: int, height: int) -> str:
        assert self._screen is not None and self._reference is not None
        for y in range(height):
            got, want = self._screen.buffer[y], self._reference.buffer[y]
            for x in range(width):
                if got[x] != want[x]:
                    return (f"frame {self.frames}, row {y}, column {x}: the app's output shows {got[x]}, "
                            f"Textual's {want[x]}\napp's:     {self._screen.display[y]!r}\n"
                            f"Textual's: {self._reference.display[y]!r}")
        return ""


@pytest.fixture
def terminals(monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminals]:
    """Every frame of headless apps goes to emulated terminals (see `Terminals`)."""
    seen = Terminals()
    display = App._display

    def _display(app: App[Any], screen: Screen[Any], renderable: Any) -> None:
        display(app, screen, renderable)
        if not app._batch_count:
            seen.display(app, screen, renderable)

    monkeypatch.setattr(App, "_display", _display)
    yield seen


async def test_a_streamed_reply_that_scrolls_shows_every_frame_exactly_with_a_fraction_of_the_bytes(
        paced_sim: Any, make_app: Any, terminals: Terminals) -> None:
    async with make_app(base_url=paced_sim.base_url, size=(100, 30)) as (app, pilot):
        await send(app, pilot, "long 600")
        await wait_until(pilot, lambda: reply_over(app), timeout=30)
        await pilot.pause(0.2)
        assert not terminals.mismatch, terminals.mismatch
        assert app.terminal_copy.scrolls >= 3  # the conversation moved by the terminal's own scrolling
        assert terminals.written * 2 < terminals.full


async def test_a_notification_over_a_streaming_reply_stays_whole_and_goes_away_cleanly(
        paced_sim: Any, make_app: Any, terminals: Terminals) -> None:
    async with make_app(base_url=paced_sim.base_url, size=(90, 26)) as (app, pilot):
        await send(app, pilot, "long 700")
        await wait_until(pilot, lambda: len(app.session.conversation.messages[-1].content) > 300)
        app.notify("A toast that sits over the conversation while it scrolls.", timeout=1.5)
        await wait_until(pilot, lambda: app.screen.query("Toast"))
        scrolls = app.terminal_copy.scrolls
        await wait_until(pilot, lambda: app.terminal_copy.scrolls > scrolls)  # moved under the toast
        assert app.screen.query("Toast")
        await wait_until(pilot, lambda: reply_over(app) and not app.screen.query("Toast"), timeout=30)
        await pilot.pause(0.2)
        assert not terminals.mismatch, terminals.mismatch


async def test_scrolling_back_through_the_conversation_shows_every_frame_exactly(
        sim: Any, make_app: Any, terminals: Terminals) -> None:
    async with make_app(base_url=sim.base_url, size=(100, 30)) as (app, pilot):
        await send(app, pilot, "long 400")
        await wait_until(pilot, lambda: reply_over(app), timeout=30)
        scrolls = app.terminal_copy.scrolls
        for _ in range(12):
            app.chat.messages.scroll_relative(y=-2, animate=False)
            await pilot.pause(0.05)
        for _ in range(5):
            app.chat.messages.scroll_relative(y=3, animate=False)
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        assert not terminals.mismatch, terminals.mismatch
        assert app.terminal_copy.scrolls > scrolls  # down and back up, by the terminal


async def test_a_dialog_and_a_resize_leave_the_terminal_showing_the_app_exactly(
        sim: Any, make_app: Any, terminals: Terminals) -> None:
    async with make_app(base_url=sim.base_url, size=(100, 30)) as (app, pilot):
        await send(app, pilot, "long 300")
        await wait_until(pilot, lambda: reply_over(app), timeout=30)
        app.push_screen(ConfirmScreen("Really?", "Yes", "No"))
        await pilot.pause(0.2)
        app.pop_screen()
        await pilot.pause(0.2)
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        await send(app, pilot, "long 200")
        await wait_until(pilot, lambda: reply_over(app), timeout=30)
        await pilot.pause(0.2)
        assert terminals.frames > 20
        assert not terminals.mismatch, terminals.mismatch
