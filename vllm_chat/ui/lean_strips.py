"""Strips that keep no memos of their own, so that a repaint leaves no cyclic garbage.

Textual gives every `Strip` (one line of a widget's drawing) seven small caches
(`FIFOCache`) of what it derives from itself: its crops, styled copies, divisions,
filtered copies. That is eight objects the garbage collector tracks per strip, and a
strip that stores itself in one (a division or a filter that changes nothing) is a
cycle, freed only by a full collection. Measured with the session browser and 10,000
sessions (`bench/bench_session_browser.py`): strips and their caches were ~45 % of the
objects a full collection walked, such collections took 50-100 ms on the UI thread,
and they were the whole of the browser's longest stalls (median 97-104 ms); with
strips that keep nothing the longest stall was 29-32 ms, its 100-session floor. The
memos rarely pay: over a browser run five of the seven were never looked up, the other
two hit half and three quarters of the time, and the CPU of a reply streamed at
100 tok/s stayed within the spread of runs (19-25 % of a core with them, 22-26 %
without, four runs each, `bench_terminal.py`): perhaps a point or two more.

`use_lean_strips()` makes every strip made from then on share one cache that keeps
nothing. It applies only while `Strip` has exactly the fields it was written for: a
Textual that changes them keeps its own strips (and `tests/ui/test_lean_strips.py`
says so).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.segment import Segment
from textual.strip import Strip

_FIELDS = frozenset({
    "_segments", "_cell_length", "_divide_cache", "_crop_cache", "_style_cache", "_filter_cache",
    "_render_cache", "_line_length_cache", "_crop_extend_cache", "_offsets_cache", "_link_ids",
    "_cell_count",
})
"""`Strip.__slots__` of the Textual this was written for (8.2)."""


class _KeepsNothing:
    """Stands in for a strip's caches: every lookup misses, every store is dropped."""

    __slots__ = ()

    def get(self, key: object, default: Any = None) -> Any:
        """Nothing is kept: always `default`."""
        return default

    def __setitem__(self, key: object, value: object) -> None:
        """Dropped."""


_NOTHING = _KeepsNothing()


def _lean_init(self: Strip, segments: Iterable[Segment], cell_length: int | None = None) -> None:
    # Textual's own __init__, with the shared `_NOTHING` in place of seven new caches.
    self._segments = list(segments)
    self._cell_length = cell_length
    self._divide_cache = self._crop_cache = self._style_cache = self._filter_cache = _NOTHING  # type: ignore[assignment]  # duck-typed: strips only get and set
    self._line_length_cache = self._crop_extend_cache = self._offsets_cache = _NOTHING  # type: ignore[assignment]  # as above
    self._render_cache = None
    self._link_ids = None
    self._cell_count = None


def use_lean_strips() -> bool:
    """Make strips from now on keep no memos; False (and nothing changed) when Textual's
    `Strip` is not the one this was written for."""
    if frozenset(Strip.__slots__) != _FIELDS:
        return False
    Strip.__init__ = _lean_init  # type: ignore[method-assign]  # the point of this module
    return True
