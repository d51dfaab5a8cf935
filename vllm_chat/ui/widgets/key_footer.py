"""KeyFooter: Textual's footer of keys, fitted to the width without losing the essentials.

Textual's footer lays its keys out in a row and lets the ones that don't fit run off
the right edge, and the app's own keys (quit, help) come last, so they are the first
to go. This footer hides the keys that don't fit, the last of them first, but never
the essential ones (`ESSENTIAL_ACTIONS`): whatever the width, the user can see how
to get help and how to leave.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.geometry import Size
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ESSENTIAL_ACTIONS = frozenset({"quit", "help", "app.quit", "app.help"})
"""The actions whose keys stay in the footer at any width."""


class KeyFooter(Footer):
    """The footer: as many keys as fit, the essential ones always."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                # A FooterKey starts compact and is then bound to the footer's style:
                # restyled twice as it mounts, and the footer mounts its keys again at every
                # focus change. Starting it in the footer's style restyles it not at all.
                # (The palette's key is not bound: it keeps its compact start.)
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget
        self.call_after_refresh(self.fit)

    def on_resize(self, event: events.Resize) -> None:
        self.fit()

    def fit(self) -> None:
        """Show the keys that fit in the width, hiding the others from the last one back;
        the essential keys stay."""
        keys = list(self.query_children(FooterKey))
        palette = [key for key in keys if key.has_class("-command-palette")]
        row = [key for key in keys if key not in palette]
        width = self.size.width
        if not width or not row:
            return
        room = width - sum(self._width(key) for key in palette)
        needed = sum(self._width(key) for key in row)
        for key in reversed(row):
            hide = needed > room and key.action not in ESSENTIAL_ACTIONS
            if hide:
                needed -= self._width(key)
            key.display = not hide

    def _width(self, key: FooterKey) -> int:
        """The cells `key` takes: its text, padding, border and margins."""
        viewport = self.app.size
        content = key.get_content_width(Size(viewport.width, 1), viewport)
        return content + key.styles.gutter.width + key.styles.margin.width
