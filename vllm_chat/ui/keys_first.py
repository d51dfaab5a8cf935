"""Keys before drawing: while a typed key is on its way to the screen, long drawing waits.

A key passes through five or six queues on the event loop (the app's, the screen's, the
prompt's, the screen's again, the frame timer) and at each waits for whatever else is
ready to run. While a huge reply is drawn, that is a drawing step each time, so a key
waited several steps before it showed. `KeysInFlight` lets work that can wait (a reply
view drawing a backlog) see that a key is on its way and step aside until the frame that
shows the key is out.
"""

from __future__ import annotations

import asyncio
import time


class KeysInFlight:
    """Whether keys typed into the prompt have not reached the screen yet."""

    HOLD_LIMIT = 0.12
    """Seconds work that can wait waits for keys at most, from the last key that reached the
    screen: a key that goes somewhere other than the prompt is never reported as handled, and
    drawing must not stop for it."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._on_way: list[object] = []  # keys not applied yet, in the order they came
        self._applied = False  # a key was applied since the last frame
        self.seen = 0
        """Keys that reached the app so far."""

    def arrived(self, key: object = None) -> None:
        """A key reached the app."""
        if self._since is None:
            self._since = time.monotonic()
        self._on_way.append(key)
        self.seen += 1

    def handled(self, key: object = None) -> None:
        """The prompt applied `key` (the oldest key, if it is not known): the next frame shows
        it. Keys that came before it went elsewhere (a binding such as esc, a dialog): keys are
        dealt with in the order they come, so they are on their way no longer."""
        if not self._on_way:
            return
        at = next((i for i, k in enumerate(self._on_way) if k is key), 0) if key is not None else 0
        del self._on_way[:at + 1]
        self._applied = True

    def painted(self) -> None:
        """A frame went out: the keys handled so far are on the screen now."""
        if not self._applied:
            return
        self._applied = False
        # Keys typed meanwhile are still on their way: they get a hold of their own.
        self._since = time.monotonic() if self._on_way else None

    async def shown(self) -> None:
        """Wait until the keys on their way are on the screen (at most `HOLD_LIMIT`)."""
        until = time.monotonic() + self.HOLD_LIMIT
        while self.waiting and time.monotonic() < until:
            await asyncio.sleep(0.003)

    @property
    def waiting(self) -> bool:
        """True while a key is on its way (and the keys have not waited `HOLD_LIMIT` yet)."""
        since = self._since
        if since is None:
            return False
        if time.monotonic() - since < self.HOLD_LIMIT:
            return True
        self._since = None
        self._on_way.clear()
        self._applied = False
        return False
