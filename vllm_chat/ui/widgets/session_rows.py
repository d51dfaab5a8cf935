"""The list of the session browser: one line per session, laid out for the width it gets.

Each row is a tiny `Visual` that is always one line high, made only when it
first comes on screen, and `SessionList` draws only the rows on screen (Line
API), so showing or filtering 10,000 sessions costs a list of their ids. Also
here: how the rows say times ("5 min ago").
Text from session files (titles, models, file names, reasons) is made inert
and flat before it is shown.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual import events
from textual.content import Content
from textual.css.styles import RulesMap
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual

from vllm_chat.core.store import SessionSummary, UnreadableSession
from vllm_chat.core.store.searchable import Snippet
from vllm_chat.core.text import inert

# --- words for times ------------------------------------------------------------


def relative_time(ts: float, now: float) -> str:
    """When `ts` was, as the list shows it: "just now", "5 min ago", "2 h ago",
    "yesterday", "Tuesday" (this week), "12 Mar" (this year), "12 Mar 2023"."""
    delta = now - ts
    if -60 <= delta < 60:
        return "just now"
    if 0 < delta < 3600:
        return f"{int(delta // 60)} min ago"
    then, today = datetime.fromtimestamp(ts), datetime.fromtimestamp(now)
    days = (today.date() - then.date()).days
    if 0 < delta and (days == 0 or delta < 6 * 3600):
        return f"{int(delta // 3600)} h ago"
    if days == 1:
        return "yesterday"
    if 1 < days < 7:
        return f"{then:%A}"
    if then.year == today.year:
        return f"{then.day} {then:%b}"
    return f"{then.day} {then:%b %Y}"


def absolute_time(ts: float) -> str:
    """`ts` in full, local time: "Tue 12 Mar 2024, 14:05"."""
    then = datetime.fromtimestamp(ts)
    return f"{then:%a} {then.day} {then:%b %Y, %H:%M}"


def one_line(text: str) -> str:
    """Untrusted text made safe and flat: control characters visible, whitespace runs one space."""
    return " ".join(inert(text).split())


def snippet_text(snippet: Snippet) -> Text:
    """A search hit's snippet (already inert and on one line) with the query's words in bold."""
    text = Text(snippet.text, style="italic")
    for start, end in snippet.marks:
        text.stylize("bold not italic", start, end)
    return text


def messages_label(count: int) -> str:
    """'1 msg', '24 msgs'."""
    return f"{count} msg" if count == 1 else f"{count} msgs"


# --- rows -------------------------------------------------------------------------


class LineVisual(Visual):
    """A row of the list that is always exactly one line, laid out for the width it gets.

    Heights are asked for every row whenever the list changes; answering 1
    without measuring text keeps a list of thousands cheap.
    """

    @abstractmethod
    def line(self, width: int) -> Content:
        """The row at `width` cells."""

    def render_strips(self, width: int, height: int | None, style: Style,
                      options: RenderOptions) -> list[Strip]:
        content = self.line(width).truncate(width, ellipsis=True, pad=True)
        return content.render_strips(width, 1, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return container_width

    def get_height(self, rules: RulesMap, width: int) -> int:
        return 1


class SessionRow(LineVisual):
    """Title, model, message count and a relative date, in columns."""

    WHEN_WIDTH = 11
    """Cells for the date ("30 Dec 2023" is the longest)."""
    COUNT_WIDTH = 9
    """Cells for the message count ("1234 msgs")."""
    GAP = 2
    """Spaces between columns."""

    def __init__(self, summary: SessionSummary, current: bool, now: float) -> None:
        self.summary = summary
        """The session shown."""
        self.current = current
        """It is the conversation open in the app."""
        self.now = now
        """The moment the relative date is counted from."""

    def line(self, width: int) -> Content:
        s = self.summary
        marker = Content.styled("● ", "$accent") if self.current else Content("  ")
        when = relative_time(s.updated_at, self.now).rjust(self.WHEN_WIDTH)
        tail = [Content(when)]
        rest = width - marker.cell_length - self.GAP - self.WHEN_WIDTH
        if rest >= 40:
            tail.insert(0, Content.styled(messages_label(s.message_count).rjust(self.COUNT_WIDTH), "dim"))
            rest -= self.COUNT_WIDTH + self.GAP
        if rest >= 40:
            model_width = min(24, max(12, rest // 4))
            # The organisation part ("Qwen/") is in the detail line; the row keeps the telling part.
            name = one_line(s.model).rsplit("/", 1)[-1] or "?"
            model = Content.styled(name, "dim").truncate(model_width, ellipsis=True, pad=True)
            tail.insert(0, model)
            rest -= model_width + self.GAP
        title = Content.styled(one_line(s.title), "bold").truncate(max(rest, 1), ellipsis=True, pad=True)
        gap = " " * self.GAP
        return Content.assemble(marker, title, *(part for t in tail for part in (gap, t)))


class UnreadableRow(LineVisual):
    """A file that can't be read: its name and why, dimmed."""

    def __init__(self, unreadable: UnreadableSession) -> None:
        self.unreadable = unreadable
        """The file and the reason."""

    def line(self, width: int) -> Content:
        name = Content(one_line(self.unreadable.path.name)).truncate(min(32, width // 3), ellipsis=True)
        return Content.assemble(("⚠ ", "$warning"), (name.plain, "dim"), "  ",
                                (one_line(self.unreadable.reason), "dim italic"))


class SectionRow(LineVisual):
    """A rule with a label, between groups of rows (never highlighted)."""

    def __init__(self, label: str) -> None:
        self.label = label
        """What the group below is."""

    def line(self, width: int) -> Content:
        head = f"── {self.label} "
        return Content.styled(head + "─" * max(0, width - len(head)), "dim")


class SessionList(ScrollView, can_focus=False):
    """The rows of the browser, drawn line by line: only the rows on screen are ever rendered,
    so showing or filtering 10,000 sessions costs a list assignment, not 10,000 widgets or
    options. It never takes the focus, so typing always reaches the filter box; the screen
    moves the highlight (wrapping at either end) and hears `Highlighted` and `Selected`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "session-list--row", "session-list--highlighted", "session-list--rule"}

    DEFAULT_CSS = """
    SessionList {
        height: 1fr;
        overflow-x: hidden;
        background: $surface;
        & > .session-list--row { background: $surface; }
        & > .session-list--highlighted {
            color: $block-cursor-foreground;
            background: $block-cursor-background;
            text-style: $block-cursor-text-style;
        }
        & > .session-list--rule { color: $text-muted; }
    }
    """

    @dataclass
    class Highlighted(Message):
        """The highlight moved to a row (`row_id` None: no row is highlighted)."""

        session_list: SessionList
        row_id: str | None

    @dataclass
    class Selected(Message):
        """A row was clicked."""

        session_list: SessionList
        row_id: str

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ids: list[str | None] = []
        """The row ids, top to bottom (None: a section rule, never highlighted)."""
        self.highlighted: int | None = None
        """Index of the highlighted row."""
        self._make: Callable[[int], LineVisual] = lambda index: SectionRow("")
        self._visuals: dict[int, LineVisual] = {}  # made when a row is first drawn
        self._index: dict[str, int] | None = None  # row id -> index, made when first needed

    @property
    def row_count(self) -> int:
        """How many rows (rules included)."""
        return len(self.ids)

    @property
    def highlighted_id(self) -> str | None:
        """The id of the highlighted row."""
        return self.ids[self.highlighted] if self.highlighted is not None else None

    def set_rows(self, ids: list[str | None], make: Callable[[int], LineVisual],
                 highlight: str | None = None) -> None:
        """Show rows with these ids; `make(index)` draws a row, asked only for rows that come
        on screen. Highlights the row `highlight` if it is there, else the first one."""
        self.ids, self._make, self._visuals, self._index = ids, make, {}, None
        self.virtual_size = Size(0, len(ids))
        self.scroll_to(y=0, animate=False, immediate=True)
        self.highlighted = None
        self.refresh()
        target = self.index_of(highlight) if highlight is not None else None
        self._move_to(target if target is not None else self._next(-1, 1, wrap=False))

    def visual_at(self, index: int) -> LineVisual:
        """The row at `index`, made the first time it is needed."""
        visual = self._visuals.get(index)
        if visual is None:
            visual = self._visuals[index] = self._make(index)
        return visual

    def index_of(self, row_id: str) -> int | None:
        """Where the row `row_id` is, if it is shown."""
        if self._index is None:
            self._index = {row_id: i for i, row_id in enumerate(self.ids) if row_id is not None}
        return self._index.get(row_id)

    def replace_row(self, row_id: str, visual: LineVisual) -> None:
        """Draw the row `row_id` anew (e.g. after a rename)."""
        index = self.index_of(row_id)
        if index is not None:
            self._visuals[index] = visual
            self.refresh_line(index - round(self.scroll_offset.y))

    # -- moving -------------------------------------------------------------------------

    def _next(self, start: int, step: int, *, wrap: bool = True) -> int | None:
        count = len(self.ids)
        for n in range(1, count + 1):
            index = start + n * step
            if wrap:
                index %= count
            elif not 0 <= index < count:
                return None
            if self.ids[index] is not None:
                return index
        return None

    def _move_to(self, index: int | None) -> None:
        if index == self.highlighted:
            return
        old, self.highlighted = self.highlighted, index
        for line in (old, index):
            if line is not None:
                self.refresh_line(line - round(self.scroll_offset.y))
        if index is not None:
            self.scroll_to_region(Region(0, index, 1, 1), animate=False, immediate=True)
        self.post_message(self.Highlighted(self, self.highlighted_id))

    def action_cursor_up(self) -> None:
        """The row above (from the top: the last one)."""
        self._move_to(self._next(self.highlighted if self.highlighted is not None else 0, -1))

    def action_cursor_down(self) -> None:
        """The row below (from the bottom: the first one)."""
        self._move_to(self._next(self.highlighted if self.highlighted is not None else -1, 1))

    def action_page_up(self) -> None:
        """A screenful up."""
        page = max(1, self.scrollable_content_region.height - 1)
        start = max(0, (self.highlighted or 0) - page)
        self._move_to(self._next(start + 1, -1, wrap=False) if start else self._next(-1, 1, wrap=False))

    def action_page_down(self) -> None:
        """A screenful down."""
        page = max(1, self.scrollable_content_region.height - 1)
        end = min(len(self.ids) - 1, (self.highlighted or 0) + page)
        self._move_to(self._next(end - 1, 1, wrap=False) or self._next(len(self.ids), -1, wrap=False))

    def action_first(self) -> None:
        """The first row."""
        self._move_to(self._next(-1, 1, wrap=False))

    def action_last(self) -> None:
        """The last row."""
        self._move_to(self._next(len(self.ids), -1, wrap=False))

    def on_click(self, event: events.Click) -> None:
        index = event.y + round(self.scroll_offset.y)
        row_id = self.ids[index] if 0 <= index < len(self.ids) else None
        if row_id is not None:
            self._move_to(index)
            self.post_message(self.Selected(self, row_id))

    # -- drawing ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = y + round(self.scroll_offset.y)
        width = self.scrollable_content_region.width
        if not 0 <= index < len(self.ids):
            return Strip.blank(width, self.get_visual_style("session-list--row").rich_style)
        parts = ["session-list--row"]
        if self.ids[index] is None:
            parts.append("session-list--rule")
        elif index == self.highlighted:
            parts.append("session-list--highlighted")
        style = self.get_visual_style(*parts)
        strip = Visual.to_strips(self, self.visual_at(index), width, 1, style)[0]
        if index == self.highlighted:
            # The highlighted row in the cursor's one colour: the open conversation's dot, in
            # $accent, all but vanished on the cursor's background (1.3:1 in some themes).
            post = RichStyle(color=style.rich_style.color)
            strip = Strip(list(Segment.apply_style(list(strip), post_style=post)), strip.cell_length)
        return strip.extend_cell_length(width, style.rich_style)
