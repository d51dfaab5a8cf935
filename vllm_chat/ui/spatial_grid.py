"""Taller squares for Textual's spatial map, so a very long reply is not a list per 20 lines.

Each layout of a container builds a `SpatialMap` of its children: a grid of 100x20-cell
squares, each holding a list of the widgets over it, to find what is on screen. A
widget is entered in every square it covers, and a reply is one widget however long it
grows: a 50,000-paragraph reply (about half a million lines) made ~27,000 one-item lists
at every layout (one per new line while it streams), which the garbage collector then
walked at every full collection: keys typed meanwhile echoed in up to 120-140 ms (p99
108-118 ms; `bench/bench_hostile_output.py`, paragraphs). With squares 400 lines tall the
same reply makes 20 times fewer, and key echo p99 was 68-92 ms. The cost is a longer list
of candidates per square for a container of many one-line children, which are checked
against the visible region as before (the message list mounts only what is near the
screen anyway).
"""

from __future__ import annotations

from textual._spatial_map import SpatialMap

GRID = (100, 400)
"""Columns and lines of a square (Textual's own: 100 x 20)."""


def use_tall_squares() -> None:
    """Make every spatial map built from now on use `GRID` squares (Textual builds them
    with its defaults, so the defaults are what can be set)."""
    SpatialMap.__init__.__defaults__ = GRID
