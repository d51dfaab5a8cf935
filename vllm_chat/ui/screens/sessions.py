"""SessionBrowserScreen: every saved conversation, filtered as you type; open, rename, delete.

The list is one `OptionList` whose rows are tiny `Visual`s laid out for the
width they are drawn at, so 2,000 sessions cost one cheap object each and
only the rows on screen are ever rendered. Title matches are filtered on the
UI loop on every keystroke (a substring test over the summaries already in
memory); matches inside messages need every file read (~250 ms for 2,000
sessions), so they come from `ChatSession.search_saved` in a thread worker that
starts once typing pauses and is cancelled by the next keystroke.

The focus never leaves the filter box: arrows, PageUp/PageDown and Home/End
move the highlight, Enter opens, F2 renames, F8 deletes (after a
confirmation). Files that can't be read are listed at the bottom, dimmed,
with the reason; nothing here changes them.

The open conversation (`current_id`) is marked and can't be deleted here: its
autosave would write it back at once, so the user starts a new conversation
first. Renaming goes through the session, which renames the open
conversation itself (so its next autosave keeps the new title).
"""

from __future__ import annotations

import dataclasses
import time
from abc import abstractmethod
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.timer import Timer
from textual.visual import RenderOptions, Visual
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import (
    SessionSummary,
    StoreError,
    UnreadableSession,
)
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog

SEARCH_DELAY = 0.15
"""Seconds of no typing before the message text is searched."""

MIN_CONTENT_QUERY = 2
"""Shortest filter that is also looked for inside messages (one letter matches nearly everything)."""

UNREADABLE_PREFIX = "unreadable:"
"""Option ids of unreadable files start with this (a colon can't be in a session id)."""

BrowserResult = tuple[str, str] | None
"""What the browser dismisses with: ("open", session_id), or None (closed, or the open one picked)."""


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


# --- the screen -------------------------------------------------------------------


class SessionBrowserScreen(Dialog[BrowserResult]):
    """Saved conversations, newest first; type to filter, Enter opens, F2 renames, F8 deletes.

    Dismisses with ("open", session_id) for Enter on a session, or None for
    Esc (and for Enter on the conversation that is already open).
    """

    DEFAULT_CSS = """
    SessionBrowserScreen {
        & > Vertical {
            width: 110;
            height: 85%;
        }
        & #sessions-title { text-style: bold; color: $primary; }
        & #sessions-filter { margin: 0 0 1 0; }
        & #sessions-empty { height: 1fr; color: $text-muted; content-align: center middle; display: none; }
        &.-empty #sessions-empty { display: block; }
        &.-empty SessionList { display: none; }
        & #sessions-detail {
            height: 3;
            color: $text-muted;
            border-top: solid $panel;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        & #sessions-notice { display: none; color: $warning; }
        & #sessions-notice.-visible { display: block; }
        & #sessions-notice.-error { color: $error-foreground; background: $error-background; }
        & #sessions-hint { color: $text-muted; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="close-sessions"),
        Binding("enter", "open", "Open", priority=True, id="open-session"),
        Binding("f2", "rename", "Rename", id="rename-session"),
        Binding("f8", "delete", "Delete", id="delete-session"),
        Binding("up", "move('cursor_up')", "Up", show=False, id="sessions-up"),
        Binding("down", "move('cursor_down')", "Down", show=False, id="sessions-down"),
        Binding("pageup", "move('page_up')", "Page up", show=False, id="sessions-page-up"),
        Binding("pagedown", "move('page_down')", "Page down", show=False, id="sessions-page-down"),
        # Priority: the filter box would otherwise take Home/End for its cursor (ctrl+a/e still do that).
        Binding("home", "move('first')", "First", show=False, priority=True, id="sessions-first"),
        Binding("end", "move('last')", "Last", show=False, priority=True, id="sessions-last"),
    ]

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        """The app's session: its saved conversations are listed, its own one is marked."""
        self.current_id = session.conversation.id
        """The conversation open in the app (marked; can't be deleted here)."""
        self.loaded = False
        """The list has been read from the store and shown."""
        self.summaries: list[SessionSummary] = []
        """Every readable session, newest first (kept up to date by rename and delete)."""
        self.unreadable: list[UnreadableSession] = []
        """Files in the sessions folder that can't be read."""
        self._content_query = ""
        self._content_hits: list[SessionSummary] = []
        self._search_timer: Timer | None = None
        self.searching = False
        """A search inside messages is pending or running for the current filter."""

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Conversations", id="sessions-title")
            yield Input(placeholder="Type to filter by title or message text", id="sessions-filter")
            yield SessionList(id="sessions-list")
            yield Static("", id="sessions-empty", markup=False)
            yield Static("Loading…", id="sessions-detail", markup=False)
            yield Static("", id="sessions-notice", markup=False)
            yield Static(self._hint(), id="sessions-hint", markup=False)

    def _hint(self) -> str:
        return with_keys(self.app, "{open-session} open · {rename-session} rename · {delete-session} delete · "
                                   "{sessions-up} {sessions-down} {sessions-page-up} {sessions-page-down} "
                                   "{sessions-first} {sessions-last} move · {close-sessions} close")

    @property
    def filter_box(self) -> Input:
        """The filter input at the top."""
        return self.query_one("#sessions-filter", Input)

    @property
    def session_list(self) -> SessionList:
        """The rows."""
        return self.query_one(SessionList)

    def on_mount(self) -> None:
        box = self.filter_box
        if self.app.is_headless:
            box.cursor_blink = False
        box.focus()
        self._load()

    # -- loading and showing --------------------------------------------------------------

    @work(thread=True, exclusive=True, group="session-list", exit_on_error=False)
    def _load(self) -> tuple[list[SessionSummary], list[UnreadableSession]]:
        # A listing is ~20 ms, but rebuilding a lost index reads every file: never on the UI loop.
        return self.session.list_saved()

    @work(thread=True, exclusive=True, group="session-search", exit_on_error=False)
    def _search(self, needle: str) -> tuple[str, list[SessionSummary]]:
        return needle, self.session.search_saved(needle)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "session-list":
            if event.state == WorkerState.SUCCESS:
                self.summaries, self.unreadable = worker.result
                self.loaded = True
                self._refilter()  # the user may have typed while the list was read
            elif event.state == WorkerState.ERROR:
                self.loaded = True
                self._show()
                self._notice(str(worker.error), error=True)
        elif worker.group == "session-search":
            if event.state == WorkerState.SUCCESS:
                needle, hits = worker.result
                if needle == self._needle():
                    self._content_query, self._content_hits = needle, hits
                    self.searching = False
                    self._show(keep=self._highlighted_id())
            elif event.state == WorkerState.ERROR:
                self.searching = False
                self._show(keep=self._highlighted_id())
                self._notice(f"Searching inside messages failed: {worker.error}", error=True)

    def _needle(self) -> str:
        return self.filter_box.value.strip().lower()

    def _highlighted_id(self) -> str | None:
        option = self.session_list.highlighted_option
        return option.id if option is not None else None

    def _show(self, keep: str | None = None) -> None:
        """Fill the list for the current filter; keep the highlight on `keep` if it is still there."""
        needle = self._needle()
        now = time.time()
        rows: list[Option] = []
        if not needle:
            rows += [Option(SessionRow(s, s.id == self.current_id, now), id=s.id) for s in self.summaries]
            if self.unreadable:
                rows.append(Option(SectionRow("can't be read · left untouched"), disabled=True))
                rows += [Option(UnreadableRow(u), id=UNREADABLE_PREFIX + u.path.name) for u in self.unreadable]
        else:
            titled = [s for s in self.summaries if needle in s.title.lower()]
            rows += [Option(SessionRow(s, s.id == self.current_id, now), id=s.id) for s in titled]
            if self._content_query == needle:
                seen = {s.id for s in titled}
                inside = [s for s in self._content_hits if s.id not in seen]
                if inside:
                    rows.append(Option(SectionRow("found in messages"), disabled=True))
                    rows += [Option(SessionRow(s, s.id == self.current_id, now), id=s.id) for s in inside]
        option_list = self.session_list
        option_list.set_options(rows)
        ids = [o.id for o in rows]
        if keep is not None and keep in ids:
            option_list.highlighted = ids.index(keep)
        else:
            option_list.action_first()
        self._show_counts(needle, rows)

    def _show_counts(self, needle: str, rows: list[Option]) -> None:
        title = Text("Conversations", style="bold")
        if self.loaded:
            total = f"{len(self.summaries):,}"
            if needle:
                shown = sum(1 for row in rows if row.id and not row.id.startswith(UNREADABLE_PREFIX))
                title.append(f"   {shown:,} of {total}", style="not bold dim")
            else:
                title.append(f"   {total} saved", style="not bold dim")
            if self.searching:
                title.append(" · searching inside messages…", style="not bold dim italic")
        self.query_one("#sessions-title", Static).update(title)
        empty = not rows
        self.set_class(empty, "-empty")
        if not empty:
            if not self._highlighted_id():
                self._describe(None)
            return
        if not self.loaded:
            message = "Loading…"
        elif needle:
            message = f"Nothing matches “{one_line(self.filter_box.value.strip())}”"
            if self.searching:
                message += " in titles; searching inside messages…"
        else:
            message = "No saved conversations yet.\nEvery conversation is saved here as you chat."
        self.query_one("#sessions-empty", Static).update(message)
        self._describe(None)

    # -- the detail line ----------------------------------------------------------------

    @on(OptionList.OptionHighlighted)
    def _highlight_changed(self, event: OptionList.OptionHighlighted) -> None:
        self._describe(event.option_id)

    def _summary(self, session_id: str | None) -> SessionSummary | None:
        if session_id is None:
            return None
        for s in self.summaries:
            if s.id == session_id:
                return s
        return next((s for s in self._content_hits if s.id == session_id), None)

    def _unreadable(self, option_id: str | None) -> UnreadableSession | None:
        if option_id is None or not option_id.startswith(UNREADABLE_PREFIX):
            return None
        name = option_id[len(UNREADABLE_PREFIX):]
        return next((u for u in self.unreadable if u.path.name == name), None)

    def _describe(self, option_id: str | None) -> None:
        detail = Text()
        summary = self._summary(option_id)
        unreadable = self._unreadable(option_id)
        if summary is not None:
            detail.append(f"Updated {absolute_time(summary.updated_at)}")
            started = datetime.fromtimestamp(summary.created_at)
            same_day = started.date() == datetime.fromtimestamp(summary.updated_at).date()
            detail.append(f" · started {started:%H:%M}" if same_day
                          else f" · started {absolute_time(summary.created_at)}")
            detail.append(f" · {one_line(summary.model) or 'no model'}")
            detail.append(f" · {summary.message_count} message{'s' if summary.message_count != 1 else ''}")
            if summary.id == self.current_id:
                detail.append(" · open now", style="bold")
            detail.append("\n")
            detail.append(one_line(summary.preview) or "(no messages)", style="italic")
        elif unreadable is not None:
            detail.append(one_line(f"{unreadable.path.name} in {unreadable.path.parent}"))
            detail.append("\n")
            detail.append(one_line(unreadable.reason), style="italic")
        self.query_one("#sessions-detail", Static).update(detail)

    def _notice(self, text: str, *, error: bool = False) -> None:
        notice = self.query_one("#sessions-notice", Static)
        notice.update(Text(inert(text)))
        notice.set_class(bool(text), "-visible")
        notice.set_class(error, "-error")

    # -- typing -------------------------------------------------------------------------

    @on(Input.Changed, "#sessions-filter")
    def _refilter(self) -> None:
        """Show the title matches of the filter now; search inside messages once typing pauses."""
        self._notice("")
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        self.workers.cancel_group(self, "session-search")
        needle = self._needle()
        self.searching = self.loaded and len(needle) >= MIN_CONTENT_QUERY
        if self.searching:
            self._search_timer = self.set_timer(SEARCH_DELAY, lambda: self._search(needle))
        if self.loaded:
            self._show()

    # -- actions ------------------------------------------------------------------------

    def action_move(self, where: str) -> None:
        """Move the highlight (cursor_up, cursor_down, page_up, page_down, first, last)."""
        getattr(self.session_list, f"action_{where}")()

    def action_close(self) -> None:
        """Close the browser; nothing changes in the app."""
        self.dismiss(None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        """Open the highlighted conversation."""
        option_id = self._highlighted_id()
        if self._refused(option_id, "opened"):
            return
        if option_id is not None:
            self.dismiss(None if option_id == self.current_id else ("open", option_id))

    def _refused(self, option_id: str | None, what: str) -> bool:
        """Say why the highlighted row can't be `what` (opened, renamed, deleted), if it can't."""
        unreadable = self._unreadable(option_id)
        if unreadable is not None:
            self._notice(f"{unreadable.path.name} can't be read ({unreadable.reason}), so it can't be "
                         f"{what} here; vllm-chat never changes it. Fix or remove it in the folder "
                         f"{unreadable.path.parent}.")
            return True
        return False

    def action_rename(self) -> None:
        """Give the highlighted conversation a new title."""
        from vllm_chat.ui.screens.rename import RenameScreen

        option_id = self._highlighted_id()
        summary = self._summary(option_id)
        if self._refused(option_id, "renamed") or summary is None:
            return

        def renamed(title: str | None) -> None:
            if title:
                self._rename(summary.id, title)

        self.app.push_screen(RenameScreen(summary.title), renamed)

    def _rename(self, session_id: str, title: str) -> None:
        try:
            self.session.rename_saved(session_id, title)
        except StoreError as exc:
            self._notice(f"Can't rename: {exc}", error=True)
            return

        def retitled(s: SessionSummary) -> SessionSummary:
            return dataclasses.replace(s, title=title) if s.id == session_id else s

        self.summaries = [retitled(s) for s in self.summaries]
        self._content_hits = [retitled(s) for s in self._content_hits]
        summary = self._summary(session_id)
        option_list = self.session_list
        if summary is not None and session_id in {o.id for o in option_list.options}:
            option_list.replace_option_prompt(
                session_id, SessionRow(summary, session_id == self.current_id, time.time()))
        self._describe(self._highlighted_id())
        self._notice("")

    def action_delete(self) -> None:
        """Delete the highlighted conversation's file, after a confirmation."""
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        option_id = self._highlighted_id()
        summary = self._summary(option_id)
        if self._refused(option_id, "deleted") or summary is None:
            return
        if summary.id == self.current_id:
            self._notice("This is the open conversation: start a new one first, then delete it here.")
            return
        count = summary.message_count

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(summary.id)

        self.app.push_screen(ConfirmScreen(
            f"Delete “{one_line(summary.title)}”?", "Delete", "Keep",
            detail=f"{count} message{'s' if count != 1 else ''}; the file {summary.path.name} is "
                   "removed for good.", destructive=True), answered)

    def _delete(self, session_id: str) -> None:
        option_list = self.session_list
        ids = [o.id for o in option_list.options]
        index = ids.index(session_id) if session_id in ids else -1
        try:
            self.session.delete_saved(session_id)
        except StoreError as exc:
            self._notice(f"Can't delete: {exc}", error=True)
            return
        self.summaries = [s for s in self.summaries if s.id != session_id]
        self._content_hits = [s for s in self._content_hits if s.id != session_id]
        # The highlight goes to the row that took the deleted one's place.
        after = [i for i in ids[index + 1:] if i is not None] if index >= 0 else []
        before = [i for i in ids[:max(index, 0)] if i is not None]
        keep = after[0] if after else (before[-1] if before else None)
        self._show(keep=keep)
        self._notice("")
