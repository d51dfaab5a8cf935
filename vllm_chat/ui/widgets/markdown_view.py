"""MarkdownView: one widget that shows Markdown (or plain text) and can stream.

Why not Textual's `Markdown`: it mounts a widget per block (and more per
list item and table), and every frame walks every widget on screen, so a
long reply or a long conversation makes each frame slower (see
`reference/textual-notes.md` §1.3). This widget is a single Line-API widget:

- finished blocks are rendered once into strips and never touched again;
- only the open last block (the tail) is re-rendered, and never more than a
  piece of it (`core.markdown_blocks` cuts long blocks into pieces);
- the work per update has a time budget (`WORK_BUDGET`): text that arrives
  faster than it can be drawn (a 10,000-row table, 50,000 paragraphs, a
  session reloaded with a 5 MB reply) is a *backlog*, parsed and drawn in
  short steps with the event loop free in between (`BACKLOG_GAP`), and shown
  a few times a second (`BACKLOG_REPAINT`) rather than at every step, so keys
  keep echoing; the text drawn in the end is the same;
- only visible lines are ever painted;
- drawn lines are kept as plain tuples of (text, style number), made into
  strips only when painted: a `Strip` is about ten objects the garbage
  collector walks on every full collection, and 100,000 kept strips (a
  50,000-paragraph reply) made each collection stall the app for a second.

So the cost of an update does not grow with the length of the reply.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.theme import Theme as RichTheme
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from vllm_chat.core.markdown_blocks import Block, BlockStream, PlainStream
from vllm_chat.core.text import inert
from vllm_chat.ui.widgets.steady import steady_virtual_size

_NEUTRAL = Style()


class MarkdownView(Widget):
    """Markdown (or, with `plain=True`, literal text) that can grow while it streams."""

    DEFAULT_CSS = """
    MarkdownView {
        height: auto;
        width: 1fr;
    }
    """

    FLUSH_INTERVAL = 1 / 10
    """Seconds between updates while text streams in. At 100 tok/s each step is about
    10 tokens, under half a line at 120 columns, so text still arrives a few words at a
    time. Each update costs a frame of the whole conversation pane (it scrolls), and
    frames are most of the CPU a stream costs: 10 a second took about a quarter less
    than 20 a second over a 15 s reply."""
    WORK_BUDGET = 0.005
    """Seconds of parsing and drawing one step may take; the rest waits for the next. A key
    typed meanwhile passes through five or six queues (the app's, the screen's, the prompt's,
    the screen's again, the frame timer) and waits at each for whatever the event loop runs
    before it, so every long step adds to every key's echo: with 20 ms steps a key took
    100-250 ms to show while a 10,000-row table was drawn."""
    BACKLOG_GAP = 0.005
    """Seconds the event loop is left free between two steps of drawing a backlog: the
    drawing takes at most about half of the loop, keys and frames the rest."""
    BACKLOG_REPAINT = 0.25
    """Seconds between repaints while a backlog is drawn (the line standing for the rest
    says how much is left). Each repaint of a reply that grows lays out and redraws the
    screen; between them, frames draw only what else changed (the prompt a key went to)."""
    KEY_WAIT = 0.003
    """Seconds a backlog's step is put off, again and again, while a typed key is on its way to
    the screen (`ui.keys_first`): the key's turns of the event loop then find nothing long
    ahead of them."""
    KEY_WAIT_FROM = 200
    """Lines a view draws before its steps wait for keys: a view just brought on screen (by
    the key itself, say) gets its first screenfuls at once, since the scroll that shows it
    reads its height."""
    KEY_WAIT_MOST = 0.1
    """Seconds a backlog goes without a step at most, however many keys are on their way."""
    FIRST_WORDS = 40
    """Until a reply's first block is finished and while its text is shorter than this
    many characters, each piece is drawn at once: the first words are what a user waits
    for (at 10 updates a second the second token, often the first visible word after a
    heading's `#`, waited up to 100 ms)."""
    FEED_SLICE = 4096
    """Characters handed to the block splitter at a time, between checks of the budget."""
    TALL_LINES = 2000
    """From this height on, a growing view asks for a new layout only now and then."""
    TALL_LAYOUT_EVERY = 1.0
    """Seconds between layouts of a growing view, per 10,000 lines of its height (never under
    half a second). Textual files a widget in its spatial map cell by cell, so a layout costs
    in proportion to the height: a reply of 50,000 paragraphs laid out 30 times a second held
    every key for seconds. Spacing layouts in proportion keeps their cost per second flat."""

    virtual_size = steady_virtual_size()
    """As Textual's, without the second layout it asks for (see `ui.widgets.steady`)."""

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
        self._stream: BlockStream | PlainStream = PlainStream() if plain else BlockStream()
        self._blocks: list[Block] = []
        self._drawn = 0  # blocks [0:_drawn] are in `_lines` at the current width
        self._lines: list[tuple[tuple[str, int], ...]] = []  # see `_keep`
        self._styles: list[Style] = []
        self._style_numbers: dict[Style, int] = {}
        self._tail_lines: list[Strip] = []
        self._pending: deque[str] = deque()
        self._width = 0
        self._theme_key: object = None
        self._flush_handle: asyncio.Handle | None = None
        self._last_flush = 0.0
        self._height_floor = 0  # the height before a redraw at a new width, kept until it is done
        self._stale: _Drawn | None = None  # what was drawn before that redraw, shown until it is done
        self._last_layout = 0.0
        self._layout_handle: asyncio.Handle | None = None
        self._last_repaint = 0.0
        self._unpainted: tuple[int, int] | None = None  # (first changed line, height) at the last repaint
        self._streaming = streaming
        self.work_steps = 0
        """Steps of parsing and drawing so far (each at most `WORK_BUDGET`, plus one block)."""
        self.repaints = 0
        """Repaints asked for so far."""
        if text:
            self._pending.append(text)

    # -- public -------------------------------------------------------------------

    @property
    def source(self) -> str:
        """Everything shown so far (and pending), as text (inert, as it is shown: the
        pending part too, which is made inert only when it is drawn)."""
        return "".join(b.source for b in self._blocks) + self._stream.tail + inert("".join(self._pending))

    @property
    def is_streaming(self) -> bool:
        """True until `finish()` is called on a streaming view."""
        return self._streaming

    @property
    def settled(self) -> bool:
        """True when nothing given so far waits for a later update: it is all drawn, or, in
        a view with no width yet (hidden before its first layout), all parsed, to be drawn
        by the layout that gives it a width."""
        return not self._pending and (self._drawn == len(self._blocks) or not self._width)

    def append(self, fragment: str) -> None:
        """Add streamed text; it is shown within `FLUSH_INTERVAL` (or, when text arrives
        faster than it can be drawn, over the following updates)."""
        if not fragment:
            return
        self._pending.append(fragment)
        self._schedule()

    def finish(self) -> None:
        """The text is complete: show whatever is pending (now, or over the next updates)."""
        self._streaming = False
        self._cancel_flush()
        self._flush()

    def set_text(self, text: str) -> None:
        """Replace the whole text."""
        self._cancel_flush()
        self._stream = PlainStream() if self.plain else BlockStream()
        self._blocks, self._lines, self._tail_lines = [], [], []
        self._pending.clear()
        self._drawn = 0
        self._stale = None
        self._unpainted = None  # the whole view is refreshed below
        if text:
            self._pending.append(text)
        self._flush()
        self.refresh(layout=True)

    # -- the work of an update -------------------------------------------------------

    def _schedule(self, interval: float | None = None) -> None:
        if self._flush_handle is None:
            wait = self.FLUSH_INTERVAL if interval is None else interval
            if interval is None and not self._blocks and len(self._stream.tail) < self.FIRST_WORDS:
                wait = 0.0
            delay = max(0.0, self._last_flush + wait - time.monotonic())
            self._flush_handle = asyncio.get_running_loop().call_later(delay, self._step)

    def _step(self) -> None:
        """A scheduled update; a backlog's step waits while a typed key is on its way (but
        not longer than `KEY_WAIT_MOST` since the last step: a key held down must not stop
        the drawing)."""
        keys = getattr(self.app, "keys_in_flight", None)
        if (keys is not None and keys.waiting and not self.settled and len(self._lines) >= self.KEY_WAIT_FROM
                and time.monotonic() - self._last_flush < self.KEY_WAIT_MOST):
            self._flush_handle = asyncio.get_running_loop().call_later(self.KEY_WAIT, self._step)
            return
        self._flush()

    def _cancel_flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None

    def _take_slice(self) -> None:
        """Hand at most `FEED_SLICE` pending characters to the block splitter (made inert:
        what a model wrote is shown, never obeyed)."""
        parts: list[str] = []
        size = 0
        pending = self._pending
        while pending and size < self.FEED_SLICE:
            part = pending.popleft()
            room = self.FEED_SLICE - size
            if len(part) > room:
                pending.appendleft(part[room:])
                part = part[:room]
            parts.append(part)
            size += len(part)
        self._blocks.extend(self._stream.feed(inert("".join(parts))))

    def _flush(self, *, repaint: bool = True) -> None:
        self._flush_handle = None
        self._last_flush = time.monotonic()
        if not self.is_attached and not self._width:
            return  # nothing to draw into yet: the first layout does it
        if self._unpainted is None:
            self._unpainted = (len(self._lines), self._height())
        self.work_steps += 1
        deadline = time.monotonic() + self.WORK_BUDGET
        while time.monotonic() < deadline:
            if self._width and self._drawn < len(self._blocks):
                self._draw_next()
            elif self._pending:
                self._take_slice()
            else:
                break
        if not self._width:
            # Hidden before its first layout (a reasoning block folded as a fast answer
            # began): the blocks wait for a width, and a step every BACKLOG_GAP until then
            # would spin for as long as the view stays hidden.
            if self._pending:
                self._schedule(self.BACKLOG_GAP)
            return
        settled = self.settled
        self._tail_lines = self._render_tail() if settled else self._backlog_line()
        if settled:
            self._height_floor = 0
            self._stale = None
        if not repaint:
            self._unpainted = None  # drawn for a layout under way: it reads the new height itself
        elif settled or time.monotonic() - self._last_repaint >= self.BACKLOG_REPAINT:
            self._repaint()
        if not settled:
            self._schedule(self.BACKLOG_GAP)

    def _repaint(self) -> None:
        """Ask for a repaint of what changed since the last one (and a layout if the height did)."""
        first_changed, old_height = self._unpainted or (0, 0)
        self._unpainted = None
        self._last_repaint = time.monotonic()
        self.repaints += 1
        new_height = self._height()
        if self._width:
            # Only lines from the old tail down can have changed: repaint just those.
            changed = Region(0, first_changed, self._width, max(new_height, old_height) - first_changed)
            self.refresh(changed, layout=new_height != old_height and self._layout_now(new_height))
        else:
            self.refresh(layout=True)

    def _layout_now(self, height: int) -> bool:
        """Whether to lay out now for a new height, or (a tall view) a little later."""
        now = time.monotonic()
        every = max(0.5, self.TALL_LAYOUT_EVERY * height / 10_000)
        if height < self.TALL_LINES or now - self._last_layout >= every:
            self._last_layout = now
            return True
        if self._layout_handle is None:
            wait = max(0.001, self._last_layout + every - now)
            self._layout_handle = asyncio.get_running_loop().call_later(wait, self._late_layout)
        return False

    def _late_layout(self) -> None:
        self._layout_handle = None
        self._last_layout = time.monotonic()
        self.refresh(layout=True)

    def on_unmount(self) -> None:
        self._cancel_flush()
        if self._layout_handle is not None:
            self._layout_handle.cancel()
            self._layout_handle = None

    # -- rendering ------------------------------------------------------------------

    def _theme_state(self) -> tuple[object, ...]:
        app = self.app
        variables = app.theme_variables if hasattr(app, "theme_variables") else {}
        return (app.theme, id(variables))

    def _render_block(self, block: Block) -> list[Strip]:
        """Strips for one block, with the widget's colours applied once, here, rather
        than on every frame."""
        # Imported here: rich.markdown is not needed until there is something to
        # show, and leaving it out of start-up gets the first paint out sooner.
        from vllm_chat.ui.markdown_render import (
            code_theme,
            render_markdown,
            render_text,
        )

        if block.plain:
            # A piece of literal text ends at a line break (one is dropped); a block too deep
            # for Markdown keeps its blank lines to itself (the gap before the next is drawn).
            if block.continued:
                text = block.source.removesuffix("\n")
            else:
                text = block.source.rstrip("\n")
            return render_text(text, console=self.app.console, width=self._width, base=self._base_style)
        variables = getattr(self.app, "theme_variables", {}) or {}
        return render_markdown(
            block.render_source,
            console=self.app.console,
            width=self._width,
            base=self._base_style,
            rich_theme=_rich_theme_for(variables),
            code_style=code_theme(variables, self.app.current_theme.dark),
            tokens=block.tokens,
        )

    def _blank(self) -> Strip:
        return Strip.blank(self._width, self._base_style)

    def _gap_before(self, block: Block) -> list[Strip]:
        """The blank line between two blocks (none before the first, or inside a cut block)."""
        return [self._blank()] if self._lines and not block.continued else []

    def _draw_next(self) -> None:
        block = self._blocks[self._drawn]
        self._drawn += 1
        strips = self._render_block(block)
        block.tokens = None  # dozens of objects per block; a redraw parses the source again
        if strips:
            self._keep(self._gap_before(block))
            self._keep(strips)

    def _render_tail(self) -> list[Strip]:
        block = self._stream.open_block
        if block is None or not block.source.strip():
            return []
        strips = self._render_block(block)
        return [*self._gap_before(block), *strips] if strips else []

    def _backlog_line(self) -> list[Strip]:
        """What stands for text not drawn yet: one line saying so."""
        waiting = sum(len(p) for p in self._pending) + sum(len(b.source) for b in self._blocks[self._drawn:])
        note = f"… drawing ({waiting:,} more characters)"[: self._width]
        style = self._base_style + Style(dim=True, italic=True)
        return [Strip([Segment(note.ljust(self._width), style)], self._width)] if self._width else []

    def _height(self) -> int:
        return max(len(self._lines) + len(self._tail_lines), self._height_floor)

    def _rerender_all(self) -> None:
        """Draw everything again (a new width or theme), over as many updates as it takes.

        Until that is done the view keeps its old height: a view that shrank while it
        redraws could take the scroll bar away, which changes the width again, and so on.
        Below what is drawn again, the lines drawn before stand (cut or padded to the new
        width): a reply of 20,000 paragraphs takes seconds to draw again, and the end of
        it, where a user mostly is, would be blank all that time."""
        if not self._width:
            return
        self._theme_key = self._theme_state()
        if self._stale is None or len(self._lines) >= len(self._stale.lines):
            self._stale = _Drawn(self._lines, self._styles, self._tail_lines)  # else a redraw was under way
        self._height_floor = max(self._height_floor, len(self._lines) + len(self._tail_lines))
        self._lines, self._tail_lines, self._drawn = [], [], 0
        self._styles, self._style_numbers = [], {}
        self._unpainted = None
        self._cancel_flush()
        self._flush(repaint=False)

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
        return self._height()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._ensure_rendered(self.content_region.width or self._width)
        return super().render_lines(crop)

    def _keep(self, strips: list[Strip]) -> None:
        """Add drawn lines as tuples of (text, style number): tuples of strings and numbers
        are untracked by the garbage collector, so kept lines cost its collections nothing."""
        numbers = self._style_numbers
        for strip in strips:
            line = []
            for segment in strip:
                style = segment.style or _NEUTRAL
                number = numbers.get(style)
                if number is None:
                    number = numbers[style] = len(self._styles)
                    self._styles.append(style)
                line.append((segment.text, number))
            self._lines.append(tuple(line))

    def _strip(self, line: tuple[tuple[str, int], ...]) -> Strip:
        styles = self._styles
        return Strip([Segment(text, styles[number]) for text, number in line], self._width)

    def rendered_lines(self) -> list[Strip]:
        """Every line the view draws now, top to bottom (drawn blocks, then the tail)."""
        return [self._strip(line) for line in self._lines] + list(self._tail_lines)

    def render_line(self, y: int) -> Strip:
        lines = self._lines
        if y < len(lines):
            return self._strip(lines[y])
        if y - len(lines) < len(self._tail_lines):
            return self._tail_lines[y - len(lines)]
        if self._stale is not None:
            return self._stale_line(y)
        return self._blank()

    def _stale_line(self, y: int) -> Strip:
        """Line `y` as it was drawn before the redraw under way, fitted to the width."""
        stale = self._stale
        assert stale is not None
        if y < len(stale.lines):
            styles = stale.styles
            strip = Strip([Segment(text, styles[number]) for text, number in stale.lines[y]])
        elif y - len(stale.lines) < len(stale.tail):
            strip = stale.tail[y - len(stale.lines)]
        else:
            return self._blank()
        return strip.crop_extend(0, self._width, self._base_style)

    _base_style: Style = _NEUTRAL

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()


class _Drawn(NamedTuple):
    """What a view had drawn: its lines (see `MarkdownView._keep`), their styles, its tail."""

    lines: list[tuple[tuple[str, int], ...]]
    styles: list[Style]
    tail: list[Strip]


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


def warm_up(app: Any) -> None:
    """Do now, while nothing waits, what the first reply would otherwise do before its first
    words show: import the Markdown parser and renderer (~40 ms on a quiet machine) and
    build the theme's Rich styles."""
    from vllm_chat.core.markdown_blocks import markdown_parser
    from vllm_chat.ui.markdown_render import code_theme, render_markdown

    variables = getattr(app, "theme_variables", {}) or {}
    render_markdown("A *short* `reply`", console=app.console, width=40, base=_NEUTRAL,
                    rich_theme=_rich_theme_for(variables), code_style=code_theme(variables, app.current_theme.dark),
                    tokens=markdown_parser().parse("A *short* `reply`"))
