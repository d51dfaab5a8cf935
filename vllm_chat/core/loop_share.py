"""Sharing the event loop with the front end: a long step of work gives it a turn after it.

Keys typed into a front end pass through several queues on the same event loop, and at
each they wait for whatever runs before them. Most of a turn's work comes in small
pieces, but a few steps grow with the conversation: the fingerprint of a request whose
history holds a 5 MB tool call, the save of that history. Run back to back in one turn
of the loop they held keys for 40-50 ms each time; with a turn between them, a key waits
for one of them at most.
"""

from __future__ import annotations

import asyncio
import time

LONG_STEP = 0.008
"""Seconds of work after which the loop gets a turn before the next step."""


async def after_long_step(started: float) -> None:
    """Give the event loop a turn if the work since `started` (`time.monotonic()`) took
    `LONG_STEP` or more; otherwise return at once (a turn per small step would slow a
    stream that comes a token at a time)."""
    if time.monotonic() - started >= LONG_STEP:
        await asyncio.sleep(0)
