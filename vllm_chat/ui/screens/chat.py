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

from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.core.events import (
    ContentDelta,
    ReasoningDelta,
    TurnFailed,
    TurnFinished,
    TurnStopped,
    UsageUpdated,
)
from vllm_chat.core.redact import redact_urls
from vllm_chat.core.session import ChatSession
from vllm_chat.core.text import inert
from vllm_chat.ui import memory
from vllm_chat.ui.keys import key_hint
from vllm_chat.ui.screens.chat_actions import MessageActions
from vllm_chat.ui.screens.chat_attachments import AttachmentActions
from vllm_chat.ui.screens.chat_sessions import SessionActions
from vllm_chat.ui.screens.chat_settings import SettingsActions
from vllm_chat.ui.widgets.attachment_bar import AttachmentBar
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


class ChatScreen(MessageActions, AttachmentActions, SessionActions, SettingsActions, Screen[None]):
    """The main screen."""

    CSS_PATH = "chat.tcss"

    BINDINGS = [
        Binding("escape", "stop", "Stop", id="stop"),
        # Priority: run when the key arrives, before keys typed after it reach the prompt
        # (a prompt sent right after ctrl+n belongs to the new conversation).
        Binding("ctrl+n", "new_conversation", "New", priority=True, id="new-conversation"),
        Binding("ctrl+o", "pick_model", "Model", id="pick-model"),
        Binding("ctrl+r", "retry", "Retry", show=False, id="retry"),
        Binding("f2", "edit_system_prompt", "System prompt", show=False, id="edit-system-prompt"),
        Binding("ctrl+t", "toggle_tools", "Tools", show=False, id="toggle-tools"),
        Binding("ctrl+s", "open_settings", "Settings", id="open-settings"),
        Binding("ctrl+g", "open_editor", "Editor", show=False, id="open-editor"),
        Binding("f5", "continue_reply", "Continue", show=False, id="continue-reply"),
        Binding("ctrl+f", "attach", "Attach", show=False, id="attach-file"),
        Binding("ctrl+l", "browse_sessions", "Sessions", id="browse-sessions"),
        Binding("f4", "export", "Export", show=False, id="open-export"),
        Binding("alt+up", "focus_messages", "Messages", show=False, id="focus-messages"),
        Binding("shift+pageup", "scroll_messages(-1)", "Scroll up", show=False, id="scroll-messages-up"),
        Binding("shift+pagedown", "scroll_messages(1)", "Scroll down", show=False, id="scroll-messages-down"),
    ]

    def __init__(self, session: ChatSession, *, demo: bool = False) -> None:
        super().__init__()
        self.session = session
        """The conversation, server and tools this screen drives."""
        self.demo = demo
        self._was_disconnected = False
        self._stream_count = 0
        self._turn_pending = False
        self._stop_requested = False
        self._stream_started = 0.0

    def on_screen_suspend(self) -> None:
        # A dialog dims this screen but leaves it visible: its footer would name keys
        # that are not in force while the dialog is up.
        self.query_one(Footer).display = False

    def on_screen_resume(self) -> None:
        self.query_one(Footer).display = True

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static("", id="banner", markup=False)
        yield MessageList(show_reasoning=self.session.settings.show_reasoning, id="messages")
        # Right before the prompt: focus falls back to it when the last chip is removed.
        yield AttachmentBar(id="attachments")
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
    def attachments(self) -> AttachmentBar:
        """The pending attachments above the prompt."""
        return self.query_one(AttachmentBar)

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
        status.tools = self.session.tools_on
        status.tool_choice = self.session.tool_choice
        memory.settle("start-up")  # before any message view exists: views come and go
        tools = self.session.engine.tools
        self.messages.welcome_note = (tools.file_tools_note() if tools is not None else None) or ""
        self.show_conversation()
        self.watch(status, "model", self.show_media_hint, init=False)  # a new model: media sent again
        self.prompt.focus()
        self.connect()
        for problem in self.session.problems:
            self.notify(problem, title="Config", severity="warning", markup=False)

    def show_conversation(self) -> None:
        """Show the session's conversation from scratch (after a load, edit or delete)."""
        conv = self.session.conversation
        focused = self.app.focused
        in_messages = focused is None or focused is self.messages or self.messages in focused.ancestors
        self.messages.show_conversation(conv)
        if in_messages:
            self.prompt.focus()  # the focused message view is gone with the old views
        last = next((m for m in reversed(conv.messages) if m.usage is not None), None)
        self.status.context_used = (last.usage.prompt_tokens + last.usage.completion_tokens) if last else None
        self.show_media_hint()

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
        memory.settle("sdk")  # the SDK is imported now: its many objects are here to stay
        status.model = self.session.conversation.model
        status.context_max = self.session.context_window
        if self._was_disconnected:
            self._was_disconnected = False
            self.notify(f"The server at {redact_urls(self.session.settings.base_url)} is back.", title="Connected",
                        markup=False)

    # -- turns ------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    def send(self, event: PromptInput.Submitted) -> None:
        """Send the prompt as a new user message and stream the reply (`/attach X` attaches X)."""
        command, _, argument = event.text.strip().partition(" ")
        if command == "/attach":
            if argument.strip():
                self.attach_source(argument.strip())
            else:
                self.prompt.restore(event.text)
                self.notify("Usage: /attach PATH-or-URL (or ctrl+f to pick a file).", severity="warning")
            return
        if self.session.running:
            self.prompt.restore(event.text)
            self.notify("A reply is still streaming: esc stops it.", severity="warning")
            return
        message = self.session.add_user_message(event.text, self.attachments.attachments)
        self.attachments.clear()
        self.messages.add_message(message)
        self.run_turn()

    def run_turn(self, continue_last: bool = False) -> None:
        """Run one turn and show its events as they come (media left out as `media_policy` says)."""
        self._turn_pending = True
        self._stop_requested = False
        self._turn_worker(continue_last)

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def _turn_worker(self, continue_last: bool) -> None:
        messages, status = self.messages, self.status
        status.state = "streaming"
        self._stream_count = 0
        self._stream_started = time.monotonic()
        ticker = self.set_interval(0.5, self._show_speed)
        failure: ChatError | None = None
        try:
            options = self.session.options(continue_last=continue_last)
            async for event in self.session.run(options):
                if self._stop_requested:
                    # Esc came before the engine had started: stop now, as if it came later.
                    self._stop_requested = False
                    self.session.stop()
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
            self._turn_pending = self._stop_requested = False
            ticker.stop()
            status.state = "connected"
            self.show_media_hint()
        if failure is None and self.session.wants_model_title():
            self.run_worker(self.session.generate_title(), group="title", exit_on_error=False)
        if failure is not None and failure.kind in ("connection", "truncated", "timeout"):
            self.connect()
        elif failure is not None and failure.kind in ("not_multimodal", "too_many_media"):
            self._offer_without_media(failure)
        elif failure is not None and failure.kind == "tools_unsupported":
            self._offer_without_tools(failure)

    def _show_speed(self) -> None:
        elapsed = time.monotonic() - self._stream_started
        if elapsed > 0 and self._stream_count:
            self.status.detail = f"~{self._stream_count / elapsed:.0f} tok/s"

    # -- actions ----------------------------------------------------------------------

    def action_stop(self) -> None:
        """Stop the reply now; what arrived so far is kept."""
        if not self.session.stop() and self._turn_pending:
            self._stop_requested = True  # the turn's worker has not reached the engine yet

    def action_retry(self) -> None:
        """Answer the last prompt again (the earlier answer is kept as a branch)."""
        if self.session.running:
            return
        if not self.session.rewind_to_last_user():
            self.notify("Nothing to retry yet.", severity="warning")
            return
        self.show_conversation()
        self.run_turn()

    def action_new_conversation(self) -> None:
        """Start an empty conversation (the current one stays saved)."""
        self.session.stop()
        self.session.new_conversation()
        self.show_conversation()
        self.prompt.focus()

    def action_continue_reply(self) -> None:
        """Continue a reply that was stopped or cut at max_tokens (vLLM continue_final_message)."""
        if self.session.running:
            return
        if self.session.cut_while_thinking():
            self.notify("This reply ended while the model was still thinking, and vLLM can't continue "
                        f"reasoning it isn't sent back. Retry it ({key_hint(self.app, 'retry')}), perhaps "
                        "with a higher max_tokens in the settings.", severity="warning", markup=False)
            return
        if not self.session.can_continue():
            self.notify("Only a stopped or cut-off last reply can be continued.", severity="warning")
            return
        self.run_turn(continue_last=True)

    def action_focus_messages(self) -> None:
        """Move to the last message (then ↑/↓ move, enter opens its actions, esc comes back)."""
        self.messages.focus_message(-1)

    def action_scroll_messages(self, direction: int) -> None:
        """Scroll the conversation a page without leaving the prompt."""
        if direction < 0:
            self.messages.scroll_page_up()
        else:
            self.messages.scroll_page_down()

