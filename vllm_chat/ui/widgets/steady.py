"""Widgets whose size changes lay the screen out once, not twice: `steady_virtual_size`.

Textual's `Widget.virtual_size` is a reactive with `layout=True`: a layout pass sets
it on every widget whose size changed, which asks for another layout (and a repaint)
on the next frame, where nothing changes any more. While a reply streams, each new
line changes the sizes of its MarkdownView, its message view and the message list,
so every line cost two or three full layouts of the screen. The widgets that grow
with a reply declare `virtual_size = steady_virtual_size()`: their size change
repaints them anyway, and a scroll container's scrollbars follow the new virtual
size in the same layout.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.reactive import Reactive


def steady_virtual_size() -> Reactive[Size]:
    """Textual's `virtual_size` reactive without the layout and repaint it asks for."""
    return Reactive(Size(0, 0), layout=False, repaint=False)


class SteadyVerticalScroll(VerticalScroll):
    """A `VerticalScroll` whose new virtual size doesn't ask for another layout."""

    virtual_size = steady_virtual_size()
    """See the module docstring."""
