"""Helpers for Pilot-driven UI tests: poll instead of sleeping, build the app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from textual.pilot import Pilot

WAIT = 60.0
"""Seconds one wait may take before the test fails. Generous: on a loaded machine the
suite runs several times slower, and a wait that is met returns at once anyway."""

_FIRST_POLL = 0.01
_LAST_POLL = 0.1


async def wait_until(pilot: Pilot, predicate: Callable[[], Any], timeout: float = WAIT,
                     message: str = "") -> Any:
    """Let the app run until `predicate()` is truthy, and return its value; fail after
    `timeout` seconds, or at once if the app stops.

    Polls often at first, then every tenth of a second, and only sleeps in between (the
    app runs meanwhile and redraws on its own timer): `pilot.pause()` would post a
    message to every widget on the screen each time, which costs the CPU the tests
    running in parallel need, and times out on a screen kept busy by a fast stream."""
    deadline = time.monotonic() + timeout
    interval = _FIRST_POLL
    while True:
        value = predicate()
        if value:
            return value
        if not pilot.app.is_running:
            raise AssertionError(f"the app stopped while waiting for {message or predicate}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message or predicate}")
        await asyncio.sleep(interval)
        interval = min(_LAST_POLL, interval * 1.5)


async def wait_for_screen(pilot: Pilot, app: Any, screen_type: type, timeout: float = WAIT) -> Any:
    """Wait until a `screen_type` screen is current and drawn (a pushed screen is
    current a moment before its first paint), and return it."""
    def drawn() -> Any:
        return isinstance(app.screen, screen_type) and screen_text(app).strip() and app.screen

    return await wait_until(pilot, drawn, timeout=timeout, message=f"{screen_type.__name__} on screen")


async def wait_for_text(pilot: Pilot, app: Any, *texts: str, absent: Sequence[str] = (),
                        timeout: float = WAIT) -> str:
    """Wait until the screen shows every one of `texts` and none of `absent`, and return
    the text of that screen (to check more on the very same frame). On a timeout the
    error shows the last screen.

    A screen assertion always waits like this: the screen is drawn a moment after the
    model changes, later still under load, so reading it once is a race."""
    seen = ""

    def shown() -> bool:
        nonlocal seen
        seen = screen_text(app)
        return all(text in seen for text in texts) and not any(text in seen for text in absent)

    try:
        await wait_until(pilot, shown, timeout=timeout)
    except AssertionError:
        wanted = [repr(t) for t in texts] + [f"no {t!r}" for t in absent]
        raise AssertionError(f"timed out waiting for {', '.join(wanted)} on screen; it shows:\n{seen}") from None
    return seen


async def wait_for_stable_screen(pilot: Pilot, app: Any, timeout: float = WAIT) -> str:
    """Wait until nothing on the screen waits to be redrawn and the text has stayed the
    same for three reads and a fifth of a second, and return it: for snapshots and
    layout checks, which look at a whole screen at once. (A screen under a dialog is
    redrawn with the dialog: wait for what it should show first, with `wait_for_text`.)"""
    reads: list[str] = []
    since = time.monotonic()

    def settled() -> bool:
        nonlocal since
        screen = app.screen
        pending = (screen._layout_required or screen._repaint_required or screen._scroll_required
                   or screen._dirty_widgets)
        text = screen_text(app)
        if not reads or text != reads[-1] or pending:
            reads.clear()
            since = time.monotonic()
        reads.append(text)
        return len(reads) >= 3 and time.monotonic() - since >= 0.2

    await wait_until(pilot, settled, timeout=timeout, message="the screen to stop changing")
    return reads[-1]


def screen_text(app: Any) -> str:
    """The plain text the app shows now, as a terminal would display it: the screen and
    the screens under a dialog, one line per row (read from the compositor's cells, not
    printed through a Rich console, which did the same at twice the cost, on every poll)."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return "\n".join("".join(segment.text for chop in row for segment in chop if not segment.control)
                     for row in update.strips)


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


async def wait_for_reply(app: Any, pilot: Pilot, timeout: float = WAIT) -> None:
    """Wait until the turn is over (see `reply_over`) and the app has handled what is
    queued. The screen may still be a frame behind: check it with `wait_for_text`."""
    await wait_until(pilot, lambda: reply_over(app), timeout=timeout, message="the turn to end")
    await pilot.pause()


async def focus_last_message(app: Any, pilot: Pilot) -> None:
    """Press alt+up (the default key of `focus-messages`) and wait until the last message
    has the focus. The focus lands a refresh later: a key pressed before that would still
    go to the prompt."""
    from vllm_chat.ui.widgets.message_views import MessageView

    last = app.session.conversation.messages[-1]
    await pilot.press("alt+up")
    await wait_until(pilot, lambda: isinstance(app.focused, MessageView) and app.focused.message is last,
                     message="the last message to have the focus")


async def turn(app: Any, pilot: Pilot, text: str) -> None:
    """Send `text` and wait for the reply to end."""
    await send(app, pilot, text)
    await wait_for_reply(app, pilot)


async def run_command(app: Any, pilot: Pilot, name: str) -> None:
    """Run the command `name` from the command palette (ctrl+p, the default key of
    `command-palette`), as a user would: type it, wait until the palette highlights it,
    press enter. (Enter pressed before the search answered would run nothing.)"""
    from textual.command import CommandList, CommandPalette
    from textual.widgets import Input

    await pilot.press("ctrl+p")
    palette = await wait_for_screen(pilot, app, CommandPalette)
    await wait_until(pilot, lambda: isinstance(app.focused, Input), message="the palette's input focused")
    await pilot.press(*("space" if ch == " " else ch for ch in name))
    commands = palette.query_one(CommandList)

    def highlighted() -> bool:
        index = commands.highlighted
        return index is not None and name in str(commands.get_option_at_index(index).prompt)

    await wait_until(pilot, highlighted, message=f"{name!r} highlighted in the command palette")
    await pilot.press("enter")


def record_notifications(app: Any) -> None:
    """Keep the text of every notification `app` shows, for `notes(app)`. Call it before
    the app runs. (A toast leaves `app._notifications` once it expires, a few seconds after
    it came: on a loaded machine a test may look later than that.)"""
    seen: list[str] = []
    show = app.notify

    def notify(message: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(str(message))
        show(message, *args, **kwargs)

    app.notify = notify
    app.notes_seen = seen


def notes(app: Any) -> str:
    """Every notification the app has shown (see `record_notifications`), one per line."""
    return "\n".join(app.notes_seen)


async def answer_dialog(pilot: Pilot, key: str) -> None:
    """Answer a dialog that opened by itself (a tool approval, an offer): move to it with
    tab, as a user must, then press `key` once the dialog takes it (pressed before, it
    would go on into the prompt underneath)."""
    await pilot.press("tab")
    await wait_until(pilot, lambda: getattr(pilot.app.screen, "armed", True), message="the dialog armed by tab")
    await pilot.press(key)


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
