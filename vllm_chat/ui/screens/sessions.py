"""SessionBrowserScreen: every saved conversation, filtered as you type; open, rename, delete.

Everything comes from the `ChatSession` (`list_saved`, `search_saved`,
`prepare_search`, `rename_saved`, `delete_saved`); the screen only draws. The
list is read in a thread worker after the first frame, and is a `SessionList` of
one-line rows that draws only what is on screen (`widgets/session_rows.py`), so
10,000 sessions open and filter at once. Title matches are filtered on the UI
loop on every keystroke (a substring test over the titles already in memory);
matches inside messages come from the full-text index (brought up to date in
the background once the list is shown) in a thread worker that starts once
typing pauses and is cancelled by the next keystroke. They are listed below the title matches, best first, and the
detail line shows a snippet around the hit. F3 switches whether reasoning
and tool calls and results are searched too.

The focus never leaves the filter box: arrows, PageUp/PageDown and Home/End
move the highlight, Enter opens, F2 renames, F8 deletes (after a
confirmation). Files that can't be read are listed at the bottom, dimmed,
with the reason; nothing here changes them.

The open conversation is marked and can't be deleted here (its next save
would bring it back), so the user starts a new conversation first. Renaming
it works: the session renames the open conversation itself.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from vllm_chat.core.markdown_line import markdown_line
from vllm_chat.core.store import SessionSummary, StoreError, UnreadableSession
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog
from vllm_chat.ui.widgets.session_rows import (
    LineVisual,
    SectionRow,
    SessionList,
    SessionRow,
    UnreadableRow,
    absolute_time,
    one_line,
    relative_time,
    snippet_text,
)

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.store.search import SearchHit

__all__ = ["SessionBrowserScreen", "absolute_time", "relative_time"]

SEARCH_DELAY = 0.15
"""Seconds of no typing before the message text is searched."""

MIN_CONTENT_QUERY = 2
"""Shortest filter that is also looked for inside messages (one letter matches nearly everything)."""

CONTENT_HITS = 50
"""Most sessions listed as "found in messages" for one filter (best first; each hit's snippet
is cut from its file, so this bounds the work of a search)."""

UNREADABLE_PREFIX = "unreadable:"
"""Option ids of unreadable files start with this (a colon can't be in a session id)."""

BrowserResult = tuple[str, str] | None
"""What the browser dismisses with: ("open", session_id), or None (closed, or the open one picked)."""


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
        Binding("f3", "toggle_everywhere", "Search reasoning and tools", id="search-everywhere"),
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
        """The chat session: the saved sessions are reached through it."""
        self.current_id = session.conversation.id
        """The conversation open in the app (marked; can't be deleted here)."""
        self.loaded = False
        """The list has been read and shown."""
        self.summaries: list[SessionSummary] = []
        """Every readable session, newest first (kept up to date by rename and delete)."""
        self.unreadable: list[UnreadableSession] = []
        """Files in the sessions folder that can't be read."""
        self.everywhere = True
        """Search reasoning and tool calls and results too, not only what was said."""
        self.searching = False
        """A search inside messages is pending or running for the current filter."""
        self._titles: list[str] = []  # lower-cased titles, in the order of `summaries`
        self._by_id: dict[str, SessionSummary] = {}
        self._made: dict[str, SessionRow] = {}  # session id -> its row, made when first drawn
        self._content_query = ""
        self._hits: dict[str, SearchHit] = {}  # session id -> hit, best first
        self._search_timer: Timer | None = None

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Conversations", id="sessions-title")
            yield Input(placeholder="Type to filter by title or words anywhere in the messages",
                        id="sessions-filter")
            yield SessionList(id="sessions-list")
            yield Static("", id="sessions-empty", markup=False)
            yield Static("Loading…", id="sessions-detail", markup=False)
            yield Static("", id="sessions-notice", markup=False)
            yield Static(self._hint(), id="sessions-hint", markup=False)

    def _hint(self) -> str:
        switch = "on" if self.everywhere else "off"
        return with_keys(self.app, "{open-session} open · {rename-session} rename · {delete-session} delete · "
                                   f"{{search-everywhere}} reasoning & tools: {switch} · "
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
        # After the first frame: the listing's thread then runs while the loop is idle, rather
        # than taking turns with it (the interpreter lock) while the screen is laid out and drawn.
        self.call_after_refresh(self._load)

    # -- loading and showing --------------------------------------------------------------

    @work(thread=True, exclusive=True, group="session-list", exit_on_error=False)
    def _load(self) -> tuple[list[SessionSummary], list[UnreadableSession], list[str], dict[str, SessionSummary]]:
        # Never on the UI loop: a listing of 10,000 sessions takes a while, and rebuilding a lost
        # index reads every file. What the filter needs is prepared here too.
        summaries, unreadable = self.session.list_saved()
        return summaries, unreadable, [s.title.lower() for s in summaries], {s.id: s for s in summaries}

    @work(thread=True, exclusive=True, group="session-index", exit_on_error=False)
    def _prepare_search(self) -> bool:
        # What other windows saved is indexed while the user looks at the list, not when the first
        # search waits for it. (A failure is the search's to report, if there is one.)
        return self.session.prepare_search()

    @work(thread=True, exclusive=True, group="session-search", exit_on_error=False)
    def _search(self, needle: str, everywhere: bool) -> tuple[str, bool, list[SearchHit]]:
        return needle, everywhere, self.session.search_saved(needle, everywhere=everywhere, limit=CONTENT_HITS)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "session-list":
            if event.state == WorkerState.SUCCESS:
                self.summaries, self.unreadable, self._titles, self._by_id = worker.result
                self._made = {}
                self.loaded = True
                self._refilter()  # the user may have typed while the list was read
                self._prepare_search()
            elif event.state == WorkerState.ERROR:
                self.loaded = True
                self._show()
                self._notice(str(worker.error), error=True)
        elif worker.group == "session-search":
            if event.state == WorkerState.SUCCESS:
                needle, everywhere, hits = worker.result
                if needle == self._needle() and everywhere == self.everywhere:
                    self._content_query = needle
                    self._hits = {h.summary.id: h for h in hits}
                    self.searching = False
                    self._show(keep=self._highlighted_id())
            elif event.state == WorkerState.ERROR:
                self.searching = False
                self._show(keep=self._highlighted_id())
                self._notice(f"Searching inside messages failed: {worker.error}", error=True)

    def _needle(self) -> str:
        return self.filter_box.value.strip().lower()

    def _highlighted_id(self) -> str | None:
        return self.session_list.highlighted_id

    def _session_row(self, summary: SessionSummary) -> SessionRow:
        row = self._made.get(summary.id)
        if row is None:
            row = self._made[summary.id] = SessionRow(summary, summary.id == self.current_id, time.time())
        return row

    def _show(self, keep: str | None = None) -> None:
        """Fill the list for the current filter; keep the highlight on `keep` if it is still there.
        Only ids are listed here: a row is made when it first comes on screen."""
        needle = self._needle()
        items: list[SessionSummary | UnreadableSession | str] = []
        if not needle:
            items += self.summaries
            if self.unreadable:
                items.append("can't be read · left untouched")
                items += self.unreadable
        else:
            titled = [s for s, title in zip(self.summaries, self._titles, strict=True) if needle in title]
            items += titled
            if self._content_query == needle:
                seen = {s.id for s in titled}
                inside = [h.summary for h in self._hits.values() if h.summary.id not in seen]
                if inside:
                    items.append("found in messages · best first")
                    items += inside
        ids = [_row_id(item) for item in items]

        def make(index: int) -> LineVisual:
            item = items[index]
            if isinstance(item, SessionSummary):
                return self._session_row(item)
            return UnreadableRow(item) if isinstance(item, UnreadableSession) else SectionRow(item)

        self.session_list.set_rows(ids, make, highlight=keep)
        self._show_counts(needle, ids)

    def _show_counts(self, needle: str, rows: list[str | None]) -> None:
        title = Text("Conversations", style="bold")
        if self.loaded:
            total = f"{len(self.summaries):,}"
            if needle:
                shown = sum(1 for row_id in rows if row_id and not row_id.startswith(UNREADABLE_PREFIX))
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

    @on(SessionList.Highlighted)
    def _highlight_changed(self, event: SessionList.Highlighted) -> None:
        self._describe(event.row_id)

    def _summary(self, session_id: str | None) -> SessionSummary | None:
        if session_id is None:
            return None
        summary = self._by_id.get(session_id)
        hit = self._hits.get(session_id)
        return summary or (hit.summary if hit is not None else None)

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
            hit = self._hits.get(summary.id) if self._content_query == self._needle() else None
            if hit is not None:
                detail.append(f"{hit.where}: ", style="italic")
                detail.append_text(snippet_text(hit.snippet))
            else:
                detail.append(one_line(markdown_line(summary.preview)) or "(no messages)", style="italic")
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
            everywhere = self.everywhere
            self._search_timer = self.set_timer(SEARCH_DELAY, lambda: self._search(needle, everywhere))
        if self.loaded:
            self._show(keep=self._highlighted_id() if needle == self._content_query else None)

    def action_toggle_everywhere(self) -> None:
        """Search reasoning and tool calls and results too, or only what was said."""
        self.everywhere = not self.everywhere
        self.query_one("#sessions-hint", Static).update(self._hint())
        self._content_query, self._hits = "", {}
        self._refilter()

    # -- actions ------------------------------------------------------------------------

    def action_move(self, where: str) -> None:
        """Move the highlight (cursor_up, cursor_down, page_up, page_down, first, last)."""
        getattr(self.session_list, f"action_{where}")()

    def action_close(self) -> None:
        """Close the browser; nothing changes in the app."""
        self.dismiss(None)

    @on(SessionList.Selected)
    def _clicked(self, event: SessionList.Selected) -> None:
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
            title = " ".join(title.split())
        except StoreError as exc:
            self._notice(f"Can't rename: {exc}", error=True)
            return

        def retitled(s: SessionSummary) -> SessionSummary:
            return dataclasses.replace(s, title=title) if s.id == session_id else s

        self.summaries = [retitled(s) for s in self.summaries]
        self._titles = [s.title.lower() for s in self.summaries]
        self._hits = {i: dataclasses.replace(h, summary=retitled(h.summary)) for i, h in self._hits.items()}
        if session_id in self._by_id:
            self._by_id[session_id] = retitled(self._by_id[session_id])
        self._made.pop(session_id, None)
        summary = self._summary(session_id)
        if summary is not None:
            self.session_list.replace_row(session_id, self._session_row(summary))
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
        ids = list(self.session_list.ids)
        index = ids.index(session_id) if session_id in ids else -1
        try:
            self.session.delete_saved(session_id)
        except StoreError as exc:
            self._notice(f"Can't delete: {exc}", error=True)
            return
        kept = [(s, t) for s, t in zip(self.summaries, self._titles, strict=True) if s.id != session_id]
        self.summaries, self._titles = [s for s, _ in kept], [t for _, t in kept]
        self._hits.pop(session_id, None)
        self._by_id.pop(session_id, None)
        self._made.pop(session_id, None)
        # The highlight goes to the row that took the deleted one's place.
        after = [i for i in ids[index + 1:] if i is not None] if index >= 0 else []
        before = [i for i in ids[:max(index, 0)] if i is not None]
        keep = after[0] if after else (before[-1] if before else None)
        self._show(keep=keep)
        self._notice("")


def _row_id(item: SessionSummary | UnreadableSession | str) -> str | None:
    if isinstance(item, SessionSummary):
        return item.id
    return UNREADABLE_PREFIX + item.path.name if isinstance(item, UnreadableSession) else None
