"""CandidatesPanel: several replies to one turn, streamed side by side (or as tabs when the
terminal is too narrow), each with its own footer; the user picks the one to continue with.

It only draws: the replies come from the session's events (`apply`), the figures of each
footer (tokens, TTFT, tok/s) from `SessionStatus.candidates` (`show_figures`). Keys:
←/→ choose a reply, enter picks it (`Picked`); esc stops the replies while they stream (the
chat screen's own "stop": the panel lets the key through) and closes the panel after
(`Closed`: the first reply stays shown, the others as versions).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from vllm_chat.core import format as fmt
from vllm_chat.core.candidates import CandidateStatus
from vllm_chat.core.conversation import Message as ChatMessage
from vllm_chat.core.events import (
    CandidateEvent,
    ContentDelta,
    Event,
    ReasoningDelta,
    ToolCallDelta,
    TurnFailed,
    TurnFinished,
    TurnStopped,
)
from vllm_chat.core.text import inert
from vllm_chat.ui.widgets.markdown_view import MarkdownView
from vllm_chat.ui.widgets.message_views import AssistantMessageView

MIN_COLUMN = 28
"""Narrowest column worth reading side by side; below it the replies become tabs."""


class CandidateReply(AssistantMessageView, inherit_bindings=False):
    """One reply inside a column: drawn as a reply is in the conversation, but neither
    focusable nor answering a message's keys (the panel has the keys)."""

    can_focus = False

    DEFAULT_CSS = """
    CandidateReply {
        margin: 0;
        border-left: none;
        padding: 0;
        & > .footer { display: none; }
    }
    """


class CandidateColumn(Vertical):
    """One reply: a title line, the reply (scrolling), and a footer with its figures."""

    DEFAULT_CSS = """
    CandidateColumn {
        width: 1fr;
        height: 1fr;
        border: round $panel;
        padding: 0 1;
        & > .head { height: 1; text-style: bold; }
        & > VerticalScroll { height: 1fr; scrollbar-size-vertical: 1; }
        & > .foot { height: auto; color: $text-muted; }
        &.-selected { border: round $accent; }
        &.-selected > .head { color: $accent; }
    }
    """

    def __init__(self, index: int, label: str, message: ChatMessage, *, flush_interval: float | None = None) -> None:
        """`flush_interval`: seconds between re-renders of the streaming text (the panel
        spreads one reply's budget over its columns)."""
        super().__init__()
        self.index = index
        """Its place among the replies (0-based)."""
        self.label = label
        """Its title ("#2", "beam 1", or the model's name)."""
        # From the start (a new reply holds nothing), not from `message`: it may have taken in
        # text whose deltas are still to come here.
        self.reply = CandidateReply(message, streaming=True, start=("", ""))
        """The reply as it streams."""
        if flush_interval is not None:
            self.reply.body.FLUSH_INTERVAL = flush_interval
        self.figure: CandidateStatus | None = None
        """Its figures, as the session last gave them."""
        self._head = Static(self._head_text(), classes="head", markup=False)
        self._foot = Static("waiting for the first token…", classes="foot", markup=False)
        self._follow_pending = False

    def compose(self) -> ComposeResult:
        yield self._head
        with VerticalScroll():
            yield self.reply
        yield self._foot

    @property
    def scroller(self) -> VerticalScroll:
        """The scrolling part (for page up / page down)."""
        return self.query_one(VerticalScroll)

    def apply(self, event: Event) -> None:
        """One event of this reply."""
        match event:
            case ContentDelta(text=text):
                self.reply.append_content(text)
            case ReasoningDelta(text=text):
                self.reply.append_reasoning(text)
            case ToolCallDelta():
                self.reply.tool_delta(event)
            case TurnFinished() | TurnStopped():
                self.reply.finish(None)
            case TurnFailed(error=error):
                self.reply.finish(error)
        if isinstance(event, (ContentDelta, ReasoningDelta, ToolCallDelta)) and not self._follow_pending:
            # Once per refresh, not per token: three streams send hundreds of pieces a second.
            self._follow_pending = True
            self.call_after_refresh(self._follow)

    def _follow(self) -> None:
        """Keep the newest text in view while the reader is at the bottom of this reply."""
        self._follow_pending = False
        if not self.is_mounted:
            return
        scroller = self.scroller
        if scroller.scroll_y >= scroller.max_scroll_y - 3:
            scroller.scroll_end(animate=False, immediate=False)

    def show_figure(self, figure: CandidateStatus) -> None:
        """Redraw the title and footer from the session's figures for this reply."""
        self.figure = figure
        self._head.update(self._head_text())
        self._foot.update(footer_text(figure, self.reply.message))

    def _head_text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{self.index + 1} ", style="dim")
        text.append(inert(self.label))
        state = self.figure.state if self.figure is not None else "waiting"
        if state in ("failed", "stopped"):
            text.append(f"  {state}", style="italic")
        return text


def footer_text(figure: CandidateStatus, message: ChatMessage) -> str:
    """'20 tokens · TTFT 0.46 s · 41.3 tok/s · cut off at max_tokens' for one reply."""
    if figure.state == "waiting":
        return "waiting for the first token…"
    parts = [f"{fmt.count(figure.tokens)} tokens"] if figure.tokens or figure.state != "failed" else []
    if figure.ttft is not None:
        parts.append(f"TTFT {fmt.seconds(figure.ttft)}")
    if figure.tokens_per_second is not None:
        parts.append(f"{figure.tokens_per_second:.1f} tok/s")
    if figure.state == "failed":
        parts.append("failed")
    elif figure.state == "stopped":
        parts.append("stopped")
    elif figure.state == "done":
        note = fmt.finish_note(message)
        if note:
            parts.append(note)
    if figure.tool_calls:
        parts.append(f"{figure.tool_calls} tool call{'s' if figure.tool_calls > 1 else ''} (run if picked)")
    return " · ".join(parts)


class CandidatesPanel(Vertical):
    """The replies of one N-candidates or comparison run, and picking one."""

    can_focus = True

    DEFAULT_CSS = """
    CandidatesPanel {
        height: 1fr;
        padding: 0 1;
        & > .title { height: auto; color: $text-muted; }
        & > .tabs { height: 1; display: none; }
        &.-tabs > .tabs { display: block; }
        & > Horizontal { height: 1fr; }
        &.-tabs CandidateColumn { display: none; }
        &.-tabs CandidateColumn.-selected { display: block; }
        & > .hint { height: auto; color: $text-muted; }
        &:focus > .hint { color: $text; }
    }
    """

    BINDINGS = [
        Binding("left,h", "select(-1)", "Previous reply", show=False, id="candidate-previous"),
        Binding("right,l", "select(1)", "Next reply", show=False, id="candidate-next"),
        Binding("enter", "pick", "Pick", id="pick-candidate"),
        Binding("escape", "close", "Close", id="close-candidates"),
        Binding("pageup", "scroll_reply(-1)", "Scroll up", show=False, id="candidate-scroll-up"),
        Binding("pagedown", "scroll_reply(1)", "Scroll down", show=False, id="candidate-scroll-down"),
    ]

    @dataclass
    class Picked(Message):
        """The user picked a reply to continue with."""

        message_id: str

    @dataclass
    class Closed(Message):
        """The user closed the panel (esc) once the replies had ended."""

    def __init__(self, title: str, labels: tuple[str, ...], messages: tuple[ChatMessage, ...], *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.title_text = title
        """What the replies answer (the line above them)."""
        # As many re-renders a second for all the columns together as one streaming reply gets.
        interval = MarkdownView.FLUSH_INTERVAL * len(labels)
        self.columns = [CandidateColumn(k, label, m, flush_interval=interval)
                        for k, (label, m) in enumerate(zip(labels, messages, strict=True))]
        """One per reply, in order."""
        self.selected = 0
        """The reply ←/→ have chosen (enter picks it)."""
        self.streaming = True
        """Whether the replies are still arriving."""
        self._tabs = Static("", classes="tabs", markup=False)
        self._hint = Static("", classes="hint", markup=False)

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, classes="title", markup=False)
        yield self._tabs
        with Horizontal():
            yield from self.columns
        yield self._hint

    def on_mount(self) -> None:
        self._select(0)
        self._layout()
        self._show_hint()

    def on_resize(self) -> None:
        self._layout()

    @property
    def as_tabs(self) -> bool:
        """Whether the replies show one at a time (the terminal is too narrow for columns)."""
        return self.has_class("-tabs")

    def _layout(self) -> None:
        width = self.size.width or self.app.size.width
        self.set_class(width < MIN_COLUMN * len(self.columns) + 2, "-tabs")
        self._show_tabs()

    def _show_tabs(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        for column in self.columns:
            name = f" {column.index + 1} {inert(column.label)} "
            text.append(name, style="reverse bold" if column.index == self.selected else "")
            text.append(" ")
        self._tabs.update(text)

    def _show_hint(self) -> None:
        from vllm_chat.ui.keys import key_hint

        def key(binding_id: str) -> str:
            return key_hint(self.app, binding_id, first_only=True)

        choose = f"{key('candidate-previous')} {key('candidate-next')} choose"
        if self.streaming:
            words = f"{choose} · {key('close-candidates')} stop all"
        else:
            words = (f"{choose} · {key('pick-candidate')} continue with it · {key('close-candidates')} close "
                     "(the first stays shown, the others as versions)")
        self._hint.update(words)

    def _select(self, index: int) -> None:
        self.selected = index % len(self.columns)
        for column in self.columns:
            column.set_class(column.index == self.selected, "-selected")
        self._show_tabs()

    # -- what the session says -------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """One event of the run (the replies' own events go to their columns)."""
        if isinstance(event, CandidateEvent) and 0 <= event.slot < len(self.columns):
            self.columns[event.slot].apply(event.event)

    def show_figures(self, figures: tuple[CandidateStatus, ...]) -> None:
        """Redraw every footer from the session's figures."""
        for column, figure in zip(self.columns, figures, strict=False):
            column.show_figure(figure)

    def finished(self) -> None:
        """Every reply has ended: now one can be picked."""
        self.streaming = False
        self._show_hint()
        self.refresh_bindings()

    # -- keys --------------------------------------------------------------------------------------

    def action_select(self, step: int) -> None:
        """Choose the previous or next reply."""
        self._select(self.selected + step)

    def action_pick(self) -> None:
        """Continue with the chosen reply (once they have all ended)."""
        if self.streaming:
            self.app.notify("The replies are still arriving: pick one once they end (esc stops them).",
                            severity="warning", markup=False)
            return
        self.post_message(self.Picked(self.columns[self.selected].reply.message.id))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While the replies stream, esc falls through to the chat screen's own "stop", at
        # once: a message from here to the screen would wait behind the streams' work.
        return not (action == "close" and self.streaming)

    def action_close(self) -> None:
        """Close the panel once the replies have ended (while they stream, esc stops them)."""
        self.post_message(self.Closed())

    def action_scroll_reply(self, direction: int) -> None:
        """Scroll the chosen reply a page."""
        scroller = self.columns[self.selected].scroller
        if direction < 0:
            scroller.scroll_page_up()
        else:
            scroller.scroll_page_down()
