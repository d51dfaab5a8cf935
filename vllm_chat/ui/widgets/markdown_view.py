"""MarkdownView: one widget that shows Markdown (or plain text) and can stream.

Why not Textual's `Markdown`: it mounts a widget per block (and more per
list item and table), and every frame walks every widget on screen, so a
long reply or a long conversation makes each frame slower (see
`reference/textual-notes.md` §1.3). This widget is a single Line-API widget:

- finished blocks are rendered once into strips and never touched again;
- only the open last block (the tail) is re-rendered, at most once per
  `FLUSH_INTERVAL`, however fast tokens arrive;
- only visible lines are ever painted.

So the cost of an update does not grow with the length of the reply.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.style import Style
from rich.theme import Theme as RichTheme
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from vllm_chat.core.markdown_blocks import BlockStream
from vllm_chat.core.text import inert

_NEUTRAL = Style()


class MarkdownView(Widget):
    """Markdown (or, with `plain=True`, literal text) that can grow while it streams."""

    DEFAULT_CSS = """
    MarkdownView {
        height: auto;
        width: 1fr;
    }
    """

    FLUSH_INTERVAL = 1 / 30
    """Seconds between re-renders of the open block while text streams in."""

    def __init__(
        self,
        text: str = "",
        *,
        plain: bool = False,
        streaming: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.plain = plain
        """Show the text literally instead of as Markdown."""
        self._stream = BlockStream()
        self._blocks: list[str] = []
        self._lines: list[Strip] = []
        self._tail_lines: list[Strip] = []
        self._pending: list[str] = []
        self._chars = 0
        self._width = 0
        self._theme_key: object = None
        self._flush_handle: asyncio.Handle | None = None
        self._last_flush = 0.0
        self._streaming = streaming
        if text:
            self._take(inert(text))

    # -- public -------------------------------------------------------------------

    @property
    def source(self) -> str:
        """Everything shown so far (and pending), as text."""
        return "".join(self._blocks) + self._stream.tail + "".join(self._pending)

    @property
    def is_streaming(self) -> bool:
        """True until `finish()` is called on a streaming view."""
        return self._streaming

    def append(self, fragment: str) -> None:
        """Add streamed text; it is shown within `FLUSH_INTERVAL`."""
        if not fragment:
            return
        self._pending.append(fragment)
        if self._flush_handle is None:
            delay = max(0.0, self._last_flush + self.FLUSH_INTERVAL - time.monotonic())
            self._flush_handle = asyncio.get_running_loop().call_later(delay, self._flush)

    def finish(self) -> None:
        """The text is complete: show whatever is pending now."""
        self._streaming = False
        self._flush()

    def set_text(self, text: str) -> None:
        """Replace the whole text."""
        self._cancel_flush()
        self._stream = BlockStream()
        self._blocks, self._lines, self._tail_lines, self._pending = [], [], [], []
        self._chars = 0
        self._take(inert(text))
        self._rerender_all()
        self.refresh(layout=True)

    # -- streaming ------------------------------------------------------------------

    def _cancel_flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None

    def _take(self, text: str) -> list[str]:
        """Feed text to the block splitter; returns newly finished blocks."""
        self._chars += len(text)
        if self.plain:
            self._stream.tail += text
            return []
        finished = self._stream.feed(text)
        self._blocks.extend(finished)
        return finished

    def _flush(self) -> None:
        self._flush_handle = None
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        text = inert("".join(self._pending))
        self._pending.clear()
        old_height = len(self._lines) + len(self._tail_lines)
        first_changed = len(self._lines)
        finished = self._take(text)
        if not self._width:
            self.refresh(layout=True)
            return
        tokens = self._stream.finished_tokens if not self.plain else []
        for i, block in enumerate(finished):
            self._lines.extend(self._render_block(block, tokens[i] if i < len(tokens) else None))
            self._lines.append(self._blank())
        self._tail_lines = self._render_tail(self._stream.tail_tokens)
        new_height = len(self._lines) + len(self._tail_lines)
        # Only lines from the old tail down can have changed: repaint just those.
        changed = Region(0, first_changed, self._width, max(new_height, old_height) - first_changed)
        self.refresh(changed, layout=new_height != old_height)

    def on_unmount(self) -> None:
        self._cancel_flush()

    # -- rendering ------------------------------------------------------------------

    def _theme_state(self) -> tuple[object, ...]:
        app = self.app
        variables = app.theme_variables if hasattr(app, "theme_variables") else {}
        return (app.theme, id(variables))

    def _render_block(self, source: str, tokens: list[Any] | None = None) -> list[Strip]:
        """Strips for one block, with the widget's colours applied once, here, rather
        than on every frame."""
        # Imported here: rich.markdown is not needed until there is something to
        # show, and leaving it out of start-up gets the first paint out sooner.
        from vllm_chat.ui.markdown_render import (
            code_theme,
            render_markdown,
            render_text,
        )

        variables = getattr(self.app, "theme_variables", {}) or {}
        if self.plain:
            return render_text(source, console=self.app.console, width=self._width, base=self._base_style)
        return render_markdown(
            source,
            console=self.app.console,
            width=self._width,
            base=self._base_style,
            rich_theme=_rich_theme_for(variables),
            code_style=code_theme(variables, self.app.current_theme.dark),
            tokens=tokens,
        )

    def _blank(self) -> Strip:
        return Strip.blank(self._width, self._base_style)

    def _render_tail(self, tokens: list[Any] | None = None) -> list[Strip]:
        tail = self._stream.tail
        if not tail.strip():
            return []
        return self._render_block(tail.rstrip("\n") if self.plain else tail, tokens)

    def _rerender_all(self) -> None:
        if not self._width:
            return
        self._theme_key = self._theme_state()
        lines: list[Strip] = []
        for block in self._blocks:
            lines.extend(self._render_block(block))
            lines.append(self._blank())
        self._lines = lines
        self._tail_lines = self._render_tail()

    def _ensure_rendered(self, width: int) -> None:
        base = self.rich_style if self.is_attached else _NEUTRAL
        if width != self._width or self._theme_key != self._theme_state() or base != self._base_style:
            self._width = width
            self._base_style = base
            self._rerender_all()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._ensure_rendered(width)
        return len(self._lines) + len(self._tail_lines)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._ensure_rendered(self.content_region.width or self._width)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        lines = self._lines
        if y < len(lines):
            return lines[y]
        if y - len(lines) < len(self._tail_lines):
            return self._tail_lines[y - len(lines)]
        return self._blank()

    _base_style: Style = _NEUTRAL

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()


_THEME_CACHE: dict[int, RichTheme] = {}


def _rich_theme_for(variables: dict[str, str]) -> RichTheme:
    """The Rich theme for a variables dict, built once per dict (i.e. per theme change)."""
    from vllm_chat.ui.markdown_render import markdown_theme

    key = id(variables)
    theme = _THEME_CACHE.get(key)
    if theme is None:
        _THEME_CACHE.clear()
        theme = _THEME_CACHE[key] = markdown_theme(variables)
    return theme
