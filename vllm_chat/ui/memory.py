"""Keeping Python's garbage collector out of the way of the screen.

A full collection walks every tracked object. After start-up that is
~200,000 long-lived objects (modules, classes, the SDK's types), so each full
collection took 110-160 ms, about twice a second while a reply streamed:
the stutter a user feels when typing during a fast reply. Freezing them
(`gc.freeze()`) once they exist takes them out of every later collection;
what is frozen then lives as long as the process anyway.

Measured and rejected: putting off full collections while a reply streams.
Textual's strips cache themselves (a cycle), so every repaint leaves cyclic
garbage; put off, it piled up into one collection of ~170,000 objects
(280 ms) at the end of a long reply.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Freeze everything alive now: call after start-up and once the SDK is imported
    (never after showing a session: its widgets are removed later, and frozen cycles
    would never be freed)."""
    gc.freeze()
