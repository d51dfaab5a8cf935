"""MessageList: the scrolling conversation, built from the conversation model.

It turns engine events into widget updates (`apply`) and can rebuild
itself from a `Conversation` at any time (`show_conversation`). While the
user is at the bottom it follows new text; once they scroll up it stays put.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
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
from vllm_chat.ui.widgets.message_views import AssistantMessageView, MessageView, UserMessageView

WELCOME = (
    "Ask anything.\n\n"
    "enter  send        ctrl+j  new line       esc  stop\n"
    "ctrl+o  model      ctrl+n  new chat       ctrl+p  commands\n"
    "f1  every key"
)


class MessageList(VerticalScroll):
    """All messages of the conversation, oldest at the top."""

    DEFAULT_CSS = """
    MessageList {
        height: 1fr;
        padding: 0 1 1 1;
        scrollbar-size-vertical: 1;
        & > .welcome {
            width: 1fr;
            height: auto;
            margin: 2 2;
            padding: 1 2;
            color: $text-muted;
            border: round $panel;
            content-align: center middle;
        }
    }
    """

    def __init__(self, *, show_reasoning: bool = True, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.show_reasoning = show_reasoning
        """Show reasoning blocks in replies."""
        self.current: AssistantMessageView | None = None
        """The reply being streamed, if any."""

    def on_mount(self) -> None:
        self.anchor()

    # -- building ------------------------------------------------------------------

    def _view_for(self, message: Message, tool_results: dict[str, Message] | None = None) -> MessageView | None:
        if message.role == "user":
            return UserMessageView(message)
        if message.role == "assistant":
            return AssistantMessageView(message, show_reasoning=self.show_reasoning, tool_results=tool_results)
        return None  # tool results are shown in the panels of the calls they answer

    def show_conversation(self, conv: Conversation) -> None:
        """Replace everything with the messages of `conv`."""
        self.current = None
        self.remove_children()
        results = {m.tool_call_id: m for m in conv.messages if m.role == "tool" and m.tool_call_id}
        views = [v for v in (self._view_for(m, results) for m in conv.messages) if v is not None]
        if views:
            self.mount_all(views)
        else:
            self.mount(Static(WELCOME, classes="welcome", markup=False))
        self.anchor()

    def add_message(self, message: Message) -> MessageView | None:
        """Append a view for a message that was just added to the conversation."""
        for welcome in self.query(".welcome"):
            welcome.remove()
        view = self._view_for(message)
        if view is not None:
            self.mount(view)
            self.anchor()
        return view

    def views(self) -> list[MessageView]:
        """The message views, in order."""
        return list(self.query(MessageView))

    def view_for(self, message_id: str) -> MessageView | None:
        """The view showing the message with this id."""
        return next((v for v in self.views() if v.message.id == message_id), None)

    # -- events ------------------------------------------------------------------

    def apply(self, event: Event, *, error_actions: str = "") -> None:
        """Show one engine event."""
        if isinstance(event, TurnStarted):
            if self.current is not None:
                self.current.finish()  # the previous round of a tool loop
            existing = self.view_for(event.message.id)
            if isinstance(existing, AssistantMessageView):
                existing.remove()  # continuing a reply: rebuild it as a streaming view
            view = AssistantMessageView(event.message, streaming=True, show_reasoning=self.show_reasoning)
            self.current = view
            self.mount(view)
        elif isinstance(event, ContentDelta):
            if self.current is not None:
                self.current.append_content(event.text)
        elif isinstance(event, ReasoningDelta):
            if self.current is not None:
                self.current.append_reasoning(event.text)
        elif isinstance(event, ToolCallDelta):
            if self.current is not None:
                self.current.tool_delta(event)
        elif isinstance(event, (ToolCallReady, ToolApprovalNeeded, ToolRunning, ToolResult)):
            self._tool_event(event)
        elif isinstance(event, (TurnFinished, TurnStopped)):
            self._finish(None)
        elif isinstance(event, TurnFailed):
            self._finish(event.error, error_actions)

    def _tool_event(self, event: ToolCallReady | ToolApprovalNeeded | ToolRunning | ToolResult) -> None:
        panel = self.current.panel_for(event.call.id) if self.current is not None else None
        if panel is None:
            return
        if isinstance(event, ToolCallReady):
            panel.set_ready(event.call)
        elif isinstance(event, ToolApprovalNeeded):
            panel.set_state("approval")
        elif isinstance(event, ToolRunning):
            panel.set_state("running")
        else:
            panel.set_result(event.message)

    def _finish(self, error: ChatError | None, actions: str = "") -> None:
        if self.current is not None:
            self.current.finish(error, actions)
        elif error is not None:
            from vllm_chat.ui.widgets.message_views import ErrorNotice

            self.mount(ErrorNotice(error, actions=actions))
        self.current = None
