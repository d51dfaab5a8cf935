"""Sharing the event loop with the front end: long steps give it a turn, and step aside
while the user's input is on its way to the screen.

Keys typed into a front end pass through several queues on the same event loop, and at
each they wait for whatever runs before them. Most of a turn's work comes in small
pieces, but a few steps grow with the conversation: the fingerprint of a request whose
history holds a 5 MB tool call, the body of that request, the save of that history. Run
back to back in one turn of the loop they held keys for 40-50 ms each time; with a turn
between them a key waits for one of them at most, and while the front end says a key is
on its way, the next such step waits for it to be shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

LONG_STEP = 0.008
"""Seconds of work after which the loop gets a turn before the next step."""

WAIT_MOST = 0.1
"""Seconds a step waits for the user's input at most (a key held down must not stop a turn)."""

WAIT_STEP = 0.003
"""Seconds between two looks at whether the input has been shown."""


class LoopShare:
    """What the core's long steps know of the front end: whether its input is on its way."""

    def __init__(self) -> None:
        self.input_waiting: Callable[[], bool] = lambda: False
        """True while something the user typed has not reached the screen yet (the front end
        sets it; nothing waits without one)."""

    def holds(self, since: float) -> bool:
        """Whether a step put off since `since` (`time.monotonic()`) waits on: the user's input is
        on its way and the step has not waited `WAIT_MOST` yet."""
        return self.input_waiting() and time.monotonic() - since < WAIT_MOST

    async def give_way(self) -> None:
        """Wait while the user's input is on its way to the screen (at most `WAIT_MOST`)."""
        since = time.monotonic()
        while self.holds(since):
            await asyncio.sleep(WAIT_STEP)

    async def after_long_step(self, started: float) -> None:
        """After a step that started at `started` (`time.monotonic()`) and took `LONG_STEP` or
        more: give the loop a turn, and way to the user's input. Otherwise return at once (a
        turn per small step would slow a stream that comes a token at a time)."""
        if time.monotonic() - started >= LONG_STEP:
            await asyncio.sleep(0)
            await self.give_way()
