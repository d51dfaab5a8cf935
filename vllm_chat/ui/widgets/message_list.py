"""MessageList: the scrolling conversation, built from the conversation model.

It is *virtual*: only the messages near the viewport (plus the reply being
streamed and the focused message) exist as widgets; the rest are stood in
for by spacers of the right height. Every frame walks every widget on the
screen, so this keeps the cost of a frame the same with 10 or 2,000 earlier
messages, and opening a long session mounts a screenful, not everything.
Views are rebuilt from the conversation (the source of truth) whenever they
scroll back into range.

It turns engine events into widget updates (`apply`). While the user is at
the bottom it follows new text; once they scroll up it stays put.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.widgets import Static

from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.errors import ChatError
from vllm_chat.core.events import (
    ContentDelta,
    Event,
    ReasoningDelta,
    ToolApprovalNeeded,
    ToolCallDelta,
    ToolCallReady,
    ToolResult,
    ToolRunning,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnStopped,
)
from vllm_chat.ui.widgets.message_views import (
    AssistantMessageView,
    ErrorNotice,
    MessageView,
    UserMessageView,
)
from vllm_chat.ui.widgets.steady import SteadyVerticalScroll
from vllm_chat.ui.widgets.virtual import Spacer, estimate_height
from vllm_chat.ui.widgets.welcome_note import WelcomeNote

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.context.compaction import CompactionStarted
    from vllm_chat.ui.widgets.compaction_views import CompactionPanel

OVERSCAN = 0.25
"""Screens of messages kept mounted above and below the viewport."""


class MessageList(SteadyVerticalScroll):
    """All messages of the conversation, oldest at the top."""

    welcome_note = ""
    """A line under the welcome text of an empty conversation (where the file tools reach)."""

    DEFAULT_CSS = """
    MessageList {
        height: 1fr;
        padding: 0 1 1 1;
        scrollbar-size-vertical: 1;
        & > .welcome { width: 1fr; height: auto; margin: 2 2; padding: 1 2; color: $text-muted;
                       border: round $panel; content-align: center middle; }
        & > .welcome-note { width: 1fr; height: auto; margin: 0 4; color: $text-muted; }
    }
    """

    def __init__(self, *, show_reasoning: bool = True,
                 versions: Callable[[], dict[str, tuple[int, int]]] | None = None, demo: bool = False,
                 reading_width: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.show_reasoning = show_reasoning
        """Show reasoning blocks in replies."""
        self.demo = demo
        """The server is the built-in simulated one (the welcome note says what to type)."""
        self.reading_width = reading_width
        """Widest a message is drawn, in columns (0: the whole width)."""
        self.versions = versions
        """Gives (k, n) for each shown message with other versions (`ChatSession.versions`),
        asked whenever views are built; None: no `‹ k/n ›` marks."""
        self.current: AssistantMessageView | None = None
        """The reply being streamed, if any."""
        self._conv: Conversation | None = None
        self._entries: list[Message] = []
        self._ids: dict[str, int] = {}
        self._mounted: dict[int, MessageView] = {}
        self._heights: dict[str, int] = {}
        self._heights_width = 0
        self._estimates: dict[str, int] = {}
        self._reconcile_pending = False
        self._focus_pending: str | None = None
        self._seen_upto = 0
        self._continuable: str | None = None

    def on_mount(self) -> None:
        self.anchor()

    # -- the entries (user and assistant messages, in order) ------------------------------

    def _sync_entries(self) -> None:
        """Pick up messages appended to the conversation since the last look."""
        if self._conv is None:
            return
        for message in self._conv.messages[self._seen_upto:]:
            if message.role in ("user", "assistant") and message.id not in self._ids:
                self._ids[message.id] = len(self._entries)
                self._entries.append(message)
        self._seen_upto = len(self._conv.messages)

    def _tool_results(self) -> dict[str, Message]:
        if self._conv is None:
            return {}
        return {m.tool_call_id: m for m in self._conv.messages if m.role == "tool" and m.tool_call_id}

    @property
    def _plain_replies(self) -> bool:
        # A completion is a document's continuation (code, prose as written): shown literally,
        # since Markdown would eat its indentation and its stars.
        return self._conv is not None and self._conv.kind == "completion"

    def _versions(self) -> dict[str, tuple[int, int]]:
        return self.versions() if self.versions is not None else {}

    def _make_view(self, index: int, tool_results: dict[str, Message],
                   versions: dict[str, tuple[int, int]]) -> MessageView:
        message = self._entries[index]
        if message.compaction_id is not None:
            from vllm_chat.ui.widgets.compaction_views import SummaryMessageView

            record = self._conv.compaction(message.compaction_id) if self._conv is not None else None
            return self._measured(SummaryMessageView(message, record))
        version = versions.get(message.id)
        if message.role == "user":
            return self._measured(UserMessageView(message, version=version))
        view = AssistantMessageView(message, show_reasoning=self.show_reasoning, tool_results=tool_results,
                                    version=version, plain=self._plain_replies)
        view.continuable = message.id == self._continuable
        return self._measured(view)

    def _measured(self, view: MessageView) -> MessageView:
        """`view`, no wider than the reading width: lines of prose 200 columns long are hard
        to follow from one end to the next."""
        if self.reading_width:
            view.styles.max_width = self.reading_width
        return view

    def mark_continuable(self, message_id: str | None) -> None:
        """Let the reply `message_id` say that it can be continued (None: no reply can)."""
        if message_id == self._continuable:
            return
        for shown, value in ((self._continuable, False), (message_id, True)):
            view = self.view_for(shown) if shown is not None else None
            if isinstance(view, AssistantMessageView):
                view.continuable = value
                view.refresh_footer()
        self._continuable = message_id

    # -- showing -----------------------------------------------------------------------

    def show_conversation(self, conv: Conversation) -> None:
        """Replace everything with the messages of `conv` (the newest on screen)."""
        self.current = None
        self._conv = conv
        self._entries, self._ids, self._mounted = [], {}, {}
        self._focus_pending = None
        self._seen_upto = 0
        self._heights.clear()
        self._estimates.clear()
        self.remove_children()
        self._sync_entries()
        if not self._entries:
            self.mount(WelcomeNote(demo=self.demo, classes="welcome"))
            if self.welcome_note:
                self.mount(Static(self.welcome_note, classes="welcome-note", markup=False))
        else:
            self._reconcile(self._tail_window())
        self.anchor()

    def add_message(self, message: Message) -> MessageView | None:
        """Show a message that was just added to the conversation (the user's prompt)."""
        for welcome in self.query(".welcome, .welcome-note"):
            welcome.remove()
        self._sync_entries()
        self.anchor()
        self._reconcile(self._desired() | {len(self._entries) - 1})
        return self._mounted.get(self._ids.get(message.id, -1))

    def start_compaction(self, started: CompactionStarted) -> CompactionPanel:
        """Show a compaction streaming its summary, below the conversation."""
        from vllm_chat.ui.widgets.compaction_views import CompactionPanel

        for welcome in self.query(".welcome, .welcome-note"):
            welcome.remove()
        panel = CompactionPanel(started)
        if self.reading_width:
            panel.styles.max_width = self.reading_width
        self.mount(panel)
        self.anchor()
        return panel

    def views(self) -> list[MessageView]:
        """The mounted message views, in order."""
        return [self._mounted[i] for i in sorted(self._mounted)]

    def view_for(self, message_id: str) -> MessageView | None:
        """The view showing the message with this id, if it is mounted."""
        index = self._ids.get(message_id)
        return self._mounted.get(index) if index is not None else None

    @property
    def following(self) -> bool:
        """True while the view sticks to the bottom as text arrives."""
        return self._anchored and not self._anchor_released

    # -- virtualisation -------------------------------------------------------------------

    def _height(self, index: int, width: int) -> int:
        view = self._mounted.get(index)
        if view is not None and view.outer_size.height:
            return view.outer_size.height + view.styles.margin.top
        message = self._entries[index]
        known = self._heights.get(message.id) or self._estimates.get(message.id)
        if known is None:
            known = self._estimates[message.id] = estimate_height(message, width)
        return known

    def _heights_now(self) -> list[int]:
        width = self.scrollable_content_region.width or self.size.width or 80
        if width != self._heights_width:
            self._heights.clear()
            self._estimates.clear()
            self._heights_width = width
        return [self._height(i, width) for i in range(len(self._entries))]

    def _tail_window(self) -> set[int]:
        """The last messages, enough to fill the screen and the overscan above it."""
        heights = self._heights_now()
        budget = (self.size.height or 40) * (1 + OVERSCAN)
        window: set[int] = set()
        for index in range(len(heights) - 1, -1, -1):
            window.add(index)
            budget -= heights[index]
            if budget <= 0:
                break
        return window

    def _desired(self) -> set[int]:
        """Messages that should be mounted for the current scroll position."""
        if not self._entries:
            return set()
        if self.following:
            window = self._tail_window()
        else:
            heights = self._heights_now()
            view_height = self.size.height or 40
            top = self.scroll_y - view_height * OVERSCAN
            bottom = self.scroll_y + view_height * (1 + OVERSCAN)
            window, y = set(), 0
            for index, height in enumerate(heights):
                if y + height >= top and y <= bottom:
                    window.add(index)
                y += height
        pinned = {self._ids[v.message.id] for v in (self.current, self._focused_view()) if v is not None
                  and v.message.id in self._ids}
        if self._focus_pending in self._ids:
            # Being focused after the next refresh: unmounting it now would hand focus
            # to a detached widget, and keys would go nowhere.
            pinned.add(self._ids[self._focus_pending])
        return window | pinned

    def _focused_view(self) -> MessageView | None:
        node = self.app.focused if self.is_attached else None
        while node is not None and node is not self:
            if isinstance(node, MessageView):
                return node
            node = node.parent  # type: ignore[assignment]  # a widget's parent is a widget or the screen
        return None

    def _reconcile(self, desired: set[int]) -> None:
        """Mount exactly the messages in `desired`, with spacers for the gaps between."""
        width = self._heights_width or self.scrollable_content_region.width
        for index, view in list(self._mounted.items()):
            if index not in desired:
                if view.outer_size.height:
                    self._heights[view.message.id] = view.outer_size.height + view.styles.margin.top
                    self._heights_width = width or self._heights_width
                view.remove()
                del self._mounted[index]
        for spacer in self.query_children(Spacer):
            spacer.remove()
        heights = self._heights_now()
        previous = None
        gap = 0
        tool_results: dict[str, Message] | None = None
        versions: dict[str, tuple[int, int]] | None = None
        for index in range(len(self._entries)):
            if index not in desired:
                gap += heights[index]
                continue
            if gap:
                spacer = Spacer(gap)
                self._mount_after(spacer, previous)
                previous, gap = spacer, 0
            view = self._mounted.get(index)
            if view is None:
                if tool_results is None or versions is None:  # one scan per reconcile, not per view
                    tool_results, versions = self._tool_results(), self._versions()
                view = self._mounted[index] = self._make_view(index, tool_results, versions)
            self._mount_after(view, previous)  # nothing to do if it is mounted already
            previous = view
        if gap:
            self._mount_after(Spacer(gap), previous)

    def _mount_after(self, widget: MessageView | Spacer, previous: MessageView | Spacer | None) -> None:
        if widget.parent is self:
            return
        if previous is None:
            if self.children:
                self.mount(widget, before=0)
            else:
                self.mount(widget)
        else:
            self.mount(widget, after=previous)

    def _schedule_reconcile(self) -> None:
        if not self._reconcile_pending:
            self._reconcile_pending = True
            self.call_after_refresh(self._reconcile_now)

    def _reconcile_now(self) -> None:
        self._reconcile_pending = False
        if not self._entries:
            return
        desired = self._desired()
        if desired != set(self._mounted):
            anchor = None if self.following else self._anchor_point()
            self._reconcile(desired)
            if anchor is not None:
                self.call_after_refresh(self._restore_anchor, *anchor)

    def _anchor_point(self) -> tuple[str, float] | None:
        """The first message on screen and how far the view is scrolled into it."""
        for index in sorted(self._mounted):
            view = self._mounted[index]
            region = view.virtual_region
            if region.height and region.bottom > self.scroll_y:
                return view.message.id, self.scroll_y - region.y
        return None

    def _restore_anchor(self, message_id: str, offset: float) -> None:
        """Keep what the user was reading in place after heights above it changed."""
        view = self.view_for(message_id)
        if view is None or self.following:
            return
        target = view.virtual_region.y + offset
        if abs(target - self.scroll_y) >= 1:
            self.scroll_to(y=target, animate=False, immediate=True)

    def scroll_end(self, *args: Any, **kwargs: Any) -> None:
        """Scroll to the bottom and follow new text again, with the last messages mounted."""
        super().scroll_end(*args, **kwargs)
        # Following again: a layout before the (deferred) scroll pins the view to the bottom
        # itself, without `watch_scroll_y`, and the scroll then has nothing left to move. The
        # tail would stay unmounted (a blank screen) if the list waited for a scroll event.
        self._schedule_reconcile()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value) and self._entries:
            self._schedule_reconcile()

    def on_resize(self) -> None:
        if self._entries:
            self._schedule_reconcile()

    # -- focus moving between messages ----------------------------------------------------------

    def on_descendant_focus(self) -> None:
        # Following the bottom would pull a focused message back out of view; reaching
        # the bottom again (or sending a prompt) resumes following.
        self._focus_pending = None
        if self.following:
            self.release_anchor()

    def focus_message(self, index: int) -> None:
        """Focus the message at `index` (negative counts from the end), mounting it first."""
        if not self._entries:
            return
        index = index % len(self._entries)
        if index not in self._mounted:
            if self.following:
                self.release_anchor()
            self._reconcile(set(self._mounted) | {index})
        self._focus_pending = self._entries[index].id
        self.call_after_refresh(self._focus_now, self._focus_pending)

    def _focus_now(self, message_id: str) -> None:
        """Focus the view of `message_id` as mounted now (a reconcile may have replaced it).
        It stays pinned until the focus lands (`Widget.focus` takes effect a little later)."""
        index = self._ids.get(message_id)
        if index is None:
            return
        if index not in self._mounted:
            self._reconcile(set(self._mounted) | {index})
        view = self._mounted[index]
        if view.is_attached:
            # Scrolled to once the spacers just mounted around it have their heights:
            # `focus()`'s own scroll would use the layout from before they came.
            view.focus(scroll_visible=False)
            self.call_after_refresh(self._scroll_to_view, message_id)
        else:
            self.call_after_refresh(self._focus_now, message_id)

    def _scroll_to_view(self, message_id: str) -> None:
        view = self.view_for(message_id)
        if view is not None and view.is_attached:
            self.scroll_to_widget(view, animate=False, immediate=True)

    def focus_message_id(self, message_id: str) -> bool:
        """Focus the view of the message with this id; False when it is not shown."""
        index = self._ids.get(message_id)
        if index is None:
            return False
        self.focus_message(index)
        return True

    def focus_step(self, view: MessageView, step: int) -> bool:
        """Focus the message `step` places from `view`; False when there is none.
        Counts from a message still being focused, so quick presses all count."""
        index = self._ids.get(self._focus_pending or view.message.id)
        if index is None or not 0 <= index + step < len(self._entries):
            return False
        self.focus_message(index + step)
        return True

    # -- events -------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Show one engine event."""
        view = self.current
        match event:
            case TurnStarted(message=message, content=content, reasoning=reasoning):
                self._turn_started(message, (content, reasoning))
            case ContentDelta(text=text) if view is not None:
                view.append_content(text)
            case ReasoningDelta(text=text) if view is not None:
                view.append_reasoning(text)
            case ToolCallDelta() if view is not None:
                view.tool_delta(event)
            case ToolCallReady() | ToolApprovalNeeded() | ToolRunning() | ToolResult():
                self._tool_event(event)
            case TurnFinished() | TurnStopped():
                self._finish(None)
            case TurnFailed(error=error):
                self._finish(error)

    def _turn_started(self, message: Message, start: tuple[str, str]) -> None:
        if self.current is not None:
            self.current.finish()  # the previous round of a tool loop
        for welcome in self.query(".welcome, .welcome-note"):
            welcome.remove()
        self._sync_entries()
        index = self._ids[message.id]
        existing = self._mounted.pop(index, None)
        if existing is not None:
            existing.remove()  # continuing a reply: it is rebuilt as a streaming view
        view = AssistantMessageView(message, streaming=True, show_reasoning=self.show_reasoning,
                                    tool_results=self._tool_results(), version=self._versions().get(message.id),
                                    plain=self._plain_replies, start=start)
        self._measured(view)
        self.current = view
        self._mounted[index] = view
        self._reconcile(self._desired() | {index})

    def _tool_event(self, event: ToolCallReady | ToolApprovalNeeded | ToolRunning | ToolResult) -> None:
        panel = self.current.panel_for(event.call.id) if self.current is not None else None
        if panel is None:
            return
        match event:
            case ToolCallReady(call=call):
                panel.set_ready(call)
            case ToolApprovalNeeded():
                panel.set_state("approval")
            case ToolRunning():
                panel.set_state("running")
            case ToolResult(message=message):
                panel.set_result(message)

    def _finish(self, error: ChatError | None) -> None:
        if self.current is not None:
            self.current.finish(error)
        elif error is not None:
            self.mount(ErrorNotice(error))
        self.current = None
        self._schedule_reconcile()
