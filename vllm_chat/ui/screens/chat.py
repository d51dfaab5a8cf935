"""ChatScreen: the conversation, the prompt, and the status line.

Keys become `ChatSession` calls; engine events go to `MessageList.apply`.
The connection to the server is (re)established in the background, so the
screen is usable at once and says when the server is back.
"""

from __future__ import annotations

import asyncio
import time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from vllm_chat.core.conversation import ToolCall
from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.core.events import (
    ContentDelta,
    ReasoningDelta,
    TurnFailed,
    TurnFinished,
    TurnStopped,
    UsageUpdated,
)
from vllm_chat.core.session import ChatSession
from vllm_chat.core.text import inert
from vllm_chat.core.tools.approval import Decision
from vllm_chat.ui.widgets.message_list import MessageList
from vllm_chat.ui.widgets.prompt_input import PromptInput
from vllm_chat.ui.widgets.status_bar import StatusBar

RECONNECT_DELAYS = (0.5, 1.0, 2.0, 3.0, 5.0)
"""Seconds between connection attempts while the server is unreachable."""


def error_actions(error: ChatError) -> str:
    """The keys that help with `error`, as a hint line."""
    if error.kind == "unknown_model":
        return "ctrl+o pick a model · ctrl+r retry"
    if error.kind == "context_length":
        return "ctrl+n new conversation"
    if error.kind == "tools_unsupported":
        return "ctrl+t turns tools off for this conversation, then ctrl+r retries"
    if error.kind == "round_limit":
        return "ctrl+r retry"
    if error.kind in ("auth", "wrong_path"):
        return "restart vllm-chat with the fix above; the conversation is saved"
    if error.retryable or error.kind == "bad_request":
        return "ctrl+r retry"
    return ""


class ChatScreen(Screen[None]):
    """The main screen."""

    CSS_PATH = "chat.tcss"

    BINDINGS = [
        Binding("escape", "stop", "Stop", id="stop"),
        Binding("ctrl+n", "new_conversation", "New chat", id="new-conversation"),
        Binding("ctrl+o", "pick_model", "Model", id="pick-model"),
        Binding("ctrl+r", "retry", "Retry", id="retry"),
        Binding("f2", "edit_system_prompt", "System prompt", id="edit-system-prompt"),
        Binding("ctrl+t", "toggle_tools", "Tools", id="toggle-tools"),
    ]

    def __init__(self, session: ChatSession, *, demo: bool = False) -> None:
        super().__init__()
        self.session = session
        """The conversation, server and tools this screen drives."""
        self.demo = demo
        self._was_disconnected = False
        self._stream_count = 0
        self._stream_started = 0.0

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static("", id="banner", markup=False)
        yield MessageList(show_reasoning=self.session.settings.show_reasoning, id="messages")
        yield PromptInput(history=self.app.prompt_history, id="prompt")  # type: ignore[attr-defined]
        yield Footer()

    @property
    def messages(self) -> MessageList:
        """The conversation view."""
        return self.query_one(MessageList)

    @property
    def prompt(self) -> PromptInput:
        """The prompt box."""
        return self.query_one(PromptInput)

    @property
    def status(self) -> StatusBar:
        """The status line."""
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.session.engine.approver = self.ask_approval
        status = self.status
        status.server = self.session.settings.base_url
        status.model = self.session.conversation.model
        status.demo = self.demo
        status.tools = self.session.tools_enabled
        self.messages.show_conversation(self.session.conversation)
        self.prompt.focus()
        self.connect()
        for problem in self.session.problems:
            self.notify(problem, title="Config", severity="warning", markup=False)

    # -- connection -------------------------------------------------------------------

    def _banner(self, text: str = "") -> None:
        banner = self.query_one("#banner", Static)
        banner.update(inert(text))
        banner.set_class(bool(text), "-visible")

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect(self) -> None:
        """Ask the server for its models; keep trying while it refuses connections."""
        attempt = 0
        status = self.status
        while True:
            try:
                await self.session.connect()
                break
            except ChatErrorException as exc:
                error = exc.error
                if error.kind not in ("connection", "timeout", "busy"):
                    status.state = "error"
                    self._banner(f"{error.message}\n{error.hint}")
                    return
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                attempt += 1
                self._was_disconnected = True
                status.state = "disconnected"
                self._banner(f"{error.message}\n{error.hint}  (trying again every few seconds)")
                await asyncio.sleep(delay)
        self._banner("")
        status.state = "connected"
        status.model = self.session.conversation.model
        status.context_max = self.session.context_window
        if self._was_disconnected:
            self._was_disconnected = False
            self.notify(f"The server at {self.session.settings.base_url} is back.", title="Connected",
                        markup=False)

    # -- turns ------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    def send(self, event: PromptInput.Submitted) -> None:
        """Send the prompt as a new user message and stream the reply."""
        if self.session.running:
            self.prompt.restore(event.text)
            self.notify("A reply is still streaming: esc stops it.", severity="warning")
            return
        message = self.session.add_user_message(event.text)
        self.messages.add_message(message)
        self.run_turn()

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def run_turn(self, continue_last: bool = False) -> None:
        """Run one turn and show its events as they come."""
        messages, status = self.messages, self.status
        status.state = "streaming"
        self._stream_count = 0
        self._stream_started = time.monotonic()
        ticker = self.set_interval(0.5, self._show_speed)
        failure: ChatError | None = None
        try:
            options = self.session.options(continue_last=continue_last)
            async for event in self.session.run(options):
                if isinstance(event, (ContentDelta, ReasoningDelta)):
                    self._stream_count += 1
                    messages.apply(event)
                elif isinstance(event, UsageUpdated):
                    status.context_used = event.usage.prompt_tokens + event.usage.completion_tokens
                elif isinstance(event, TurnFailed):
                    failure = event.error
                    messages.apply(event, error_actions=error_actions(event.error))
                else:
                    messages.apply(event)
                if isinstance(event, (TurnFinished, TurnStopped, TurnFailed)):
                    status.detail = ""
        finally:
            ticker.stop()
            status.state = "connected"
            status.detail = ""
        if failure is not None and failure.kind in ("connection", "truncated", "timeout"):
            self.connect()

    def _show_speed(self) -> None:
        elapsed = time.monotonic() - self._stream_started
        if elapsed > 0 and self._stream_count:
            self.status.detail = f"~{self._stream_count / elapsed:.0f} tok/s"

    # -- actions ----------------------------------------------------------------------

    def action_stop(self) -> None:
        """Stop the reply now; what arrived so far is kept."""
        self.session.stop()

    def action_retry(self) -> None:
        """Answer the last prompt again (the earlier answer is kept as a branch)."""
        if self.session.running:
            return
        if not self.session.rewind_to_last_user():
            self.notify("Nothing to retry yet.", severity="warning")
            return
        self.messages.show_conversation(self.session.conversation)
        self.run_turn()

    def action_new_conversation(self) -> None:
        """Start an empty conversation (the current one stays saved)."""
        self.session.stop()
        self.session.new_conversation()
        self.messages.show_conversation(self.session.conversation)
        self.status.context_used = None
        self.prompt.focus()

    def action_pick_model(self) -> None:
        """Choose the model for the next turn."""
        from vllm_chat.ui.screens.model_picker import ModelPickerScreen

        def picked(name: str | None) -> None:
            if name:
                self.use_model(name)

        self.app.push_screen(ModelPickerScreen(self.session.models, self.session.conversation.model), picked)

    def use_model(self, name: str) -> None:
        """Switch model from the next turn on."""
        self.session.set_model(name)
        self.status.model = name
        self.status.context_max = self.session.context_window
        self.notify(f"Next turns use {name}.", title="Model", markup=False)

    def action_toggle_tools(self) -> None:
        """Offer tools to the model in this conversation, or stop offering them."""
        conv = self.session.conversation
        current = self.session.tools_enabled if conv.tools_enabled is None else conv.tools_enabled
        conv.tools_enabled = not current
        conv.touch()
        self.session.save()
        self.status.tools = conv.tools_enabled
        self.notify("Tools on for this conversation." if conv.tools_enabled
                    else "Tools off for this conversation.", title="Tools")

    async def ask_approval(self, call: ToolCall) -> Decision:
        """Ask the user whether a tool that needs approval may run (the engine waits)."""
        from vllm_chat.ui.screens.approval import ToolApprovalScreen

        tools = self.session.engine.tools
        tool = tools.get(call.name) if tools is not None else None
        screen = ToolApprovalScreen(call, description=tool.description if tool else "",
                                    preview=tools.preview(call) if tools is not None else None)
        decided: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()

        def settle(decision: Decision | None) -> None:
            if not decided.done():
                decided.set_result(decision or Decision.DENY)

        self.app.push_screen(screen, settle)
        try:
            return await decided
        except asyncio.CancelledError:
            if screen.is_attached:
                screen.dismiss(Decision.DENY)  # the turn was stopped: take the question away
            raise

    def action_edit_system_prompt(self) -> None:
        """Edit the system prompt of this conversation."""
        from vllm_chat.ui.screens.system_prompt import SystemPromptScreen

        def edited(text: str | None) -> None:
            if text is not None:
                self.session.conversation.system_prompt = text
                self.session.conversation.touch()
                self.session.save()
                self.notify("System prompt updated." if text else "System prompt removed.")

        self.app.push_screen(SystemPromptScreen(self.session.conversation.system_prompt), edited)
