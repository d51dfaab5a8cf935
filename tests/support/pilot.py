"""Helpers for Pilot-driven UI tests: poll instead of sleeping, build the app."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot


async def wait_until(pilot: Pilot, predicate: Callable[[], Any], timeout: float = 15.0,
                     message: str = "") -> Any:
    """Let the app run until `predicate()` is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message or predicate}")
        await pilot.pause(0.02)


async def wait_for_screen(pilot: Pilot, app: Any, screen_type: type, timeout: float = 15.0) -> Any:
    """Wait until a `screen_type` screen is current and drawn (a pushed screen is
    current a moment before its first paint), and return it."""
    def drawn() -> Any:
        return isinstance(app.screen, screen_type) and screen_text(app).strip() and app.screen

    return await wait_until(pilot, drawn, timeout=timeout, message=f"{screen_type.__name__} on screen")


def screen_text(app: Any) -> str:
    """The plain text the app shows now, as a terminal would display it."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def send(app: Any, pilot: Pilot, text: str) -> None:
    """Type `text` into the chat prompt and press Enter (without waiting for a reply)."""
    app.chat.prompt.load_text(text)
    app.chat.prompt.action_submit()
    await pilot.pause()


def reply_over(app: Any) -> bool:
    """Whether no turn runs and the last message is a reply that stopped streaming."""
    messages = app.session.conversation.messages
    return (not app.session.running and bool(messages) and messages[-1].role == "assistant"
            and messages[-1].status != "streaming")


async def wait_for_reply(app: Any, pilot: Pilot, timeout: float = 20.0) -> None:
    """Wait until the turn is over (see `reply_over`), then let the screen settle."""
    await wait_until(pilot, lambda: reply_over(app), timeout=timeout, message="the turn to end")
    await pilot.pause(0.1)


async def turn(app: Any, pilot: Pilot, text: str) -> None:
    """Send `text` and wait for the reply to end."""
    await send(app, pilot, text)
    await wait_for_reply(app, pilot)


async def answer_dialog(pilot: Pilot, key: str) -> None:
    """Answer a dialog that opened by itself (a tool approval, an offer): move to it with
    tab, as a user must, then press `key`."""
    await pilot.press("tab", key)


def cell_style(app: Any, x: int, y: int) -> Any:
    """The Rich style of the cell at (`x`, `y`) as the screen shows it now (dialogs over
    the screens below them, as on a terminal)."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    column = 0
    for strip in update.strips[y]:
        for segment in strip:
            if column <= x < column + segment.cell_length:
                return segment.style
            column += segment.cell_length
    raise IndexError(f"no cell at ({x}, {y})")
