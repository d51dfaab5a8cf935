"""Keeping Python's garbage collector out of the way of the screen.

A full collection walks every tracked object. After start-up that is
~200,000 long-lived objects (modules, classes, the SDK's types), so each full
collection took 110-160 ms, about twice a second while a reply streamed:
the stutter a user feels when typing during a fast reply. Freezing them
(`gc.freeze()`) once they exist takes them out of every later collection;
what is frozen then lives as long as the process anyway.

Measured and rejected: putting off full collections while a reply streams.
Textual's strips then cached themselves (a cycle; `lean_strips.py` has since
stopped that), so every repaint left cyclic garbage; put off, it piled up into
one collection of ~170,000 objects (280 ms) at the end of a long reply.
"""

from __future__ import annotations

import gc

_settled: set[str] = set()


def settle(moment: str) -> None:
    """Freeze everything alive now, once per `moment` ("start-up", "sdk").

    Each moment freezes at most once per process: what is frozen is never
    collected, so freezing again on every reconnect would keep the message
    views on screen then (and their cycles) for good. The "sdk" moment (the
    SDK is imported only to explain a failure or load an adapter) may catch
    a screenful of message views; that bound is the cost.
    """
    if moment not in _settled:
        _settled.add(moment)
        gc.freeze()
