"""The rows of the session browser: one line per session, laid out for the width it gets.

Each row is a tiny `Visual` that is always one line high, so a list of
10,000 sessions costs one cheap object per session and only the rows on
screen are ever rendered. Also here: how the rows say times ("5 min ago").
Text from session files (titles, models, file names, reasons) is made inert
and flat before it is shown.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime

from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual
from textual.widgets import OptionList

from vllm_chat.core.store import SessionSummary, UnreadableSession
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


class SessionList(OptionList, can_focus=False):
    """The rows of the browser; never takes the focus, so typing always reaches the filter."""

    DEFAULT_CSS = """
    SessionList {
        height: 1fr;
        border: none;
        padding: 0;
        background: $surface;
        & > .option-list--option-highlighted {
            color: $block-cursor-foreground;
            background: $block-cursor-background;
            text-style: $block-cursor-text-style;
        }
        & > .option-list--option-disabled { color: $text-muted; }
    }
    """
