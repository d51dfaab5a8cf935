"""ChatScreen: the conversation, the prompt, and the status line.

Keys become `ChatSession` calls; engine events go to `MessageList.apply`;
the header is drawn from `ChatSession.status()` whenever the session says it
changed (and twice a second while a turn runs, for its elapsed time). The
connection to the server is (re)established in the background, so the
screen is usable at once and says when the server is back.
"""

from __future__ import annotations

import sys

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from vllm_chat.core.conversation import Attachment
from vllm_chat.core.errors import ChatError
from vllm_chat.core.events import (
    TURN_ENDS,
    ContentDelta,
    ReasoningDelta,
    ToolCallDelta,
    TurnFailed,
    UsageUpdated,
)
from vllm_chat.core.session import ChatSession
from vllm_chat.core.text import inert
from vllm_chat.ui import memory
from vllm_chat.ui.keys import key_hint, with_keys
from vllm_chat.ui.screens.chat_actions import MessageActions
from vllm_chat.ui.screens.chat_attachments import AttachmentActions
from vllm_chat.ui.screens.chat_candidates import CandidateActions
from vllm_chat.ui.screens.chat_context import ContextActions
from vllm_chat.ui.screens.chat_generation import GenerationActions
from vllm_chat.ui.screens.chat_models import ModelActions
from vllm_chat.ui.screens.chat_sessions import DISK_CHECK_SECONDS, SessionActions
from vllm_chat.ui.screens.chat_settings import SettingsActions
from vllm_chat.ui.screens.chat_workbench import WorkbenchActions
from vllm_chat.ui.widgets import markdown_view
from vllm_chat.ui.widgets.attachment_bar import AttachmentBar
from vllm_chat.ui.widgets.completion_list import CompletionList
from vllm_chat.ui.widgets.key_footer import KeyFooter
from vllm_chat.ui.widgets.message_list import MessageList
from vllm_chat.ui.widgets.prompt_input import PromptInput
from vllm_chat.ui.widgets.queue_view import QueueView
from vllm_chat.ui.widgets.status_bar import StatusBar

APPLIED_AT_ONCE = (ContentDelta, ReasoningDelta, ToolCallDelta, UsageUpdated, *TURN_ENDS)
"""Events a turn's worker never holds back for keys on their way: a streaming reply's (each is
cheap to show, and they come many a second), and the turn's end (a prompt sent right after
must find the turn over, not queue behind it)."""


class ChatScreen(MessageActions, AttachmentActions, SessionActions, CandidateActions, ModelActions, SettingsActions,
                 WorkbenchActions, GenerationActions, ContextActions, Screen[None]):
    """The main screen."""

    CSS_PATH = "chat.tcss"

    BINDINGS = [
        Binding("escape", "stop", "Stop", id="stop"),
        # Priority: run when the key arrives, before keys typed after it reach the prompt
        # (a prompt sent right after ctrl+n belongs to the new conversation).
        Binding("ctrl+n", "new_conversation", "New", priority=True, id="new-conversation"),
        Binding("ctrl+o", "pick_model", "Model", id="pick-model"),
        Binding("alt+o", "pick_server", "Server", show=False, id="pick-server"),
        Binding("ctrl+r", "retry", "Retry", show=False, id="retry"),
        Binding("f2", "edit_system_prompt", "System prompt", show=False, id="edit-system-prompt"),
        Binding("ctrl+t", "toggle_tools", "Tools", show=False, id="toggle-tools"),
        Binding("ctrl+s", "open_settings", "Settings", id="open-settings"),
        Binding("ctrl+g", "open_editor", "Editor", show=False, id="open-editor"),
        Binding("f5", "continue_reply", "Continue", show=False, id="continue-reply"),
        Binding("alt+n", "ask_candidates", "Candidates", show=False, id="ask-candidates"),
        Binding("alt+m", "compare_models", "Compare models", show=False, id="compare-models"),
        Binding("alt+b", "toggle_completion_mode", "Completion mode", show=False, id="completion-mode"),
        Binding("alt+c", "show_context", "Context", show=False, id="show-context"),
        Binding("alt+s", "compact", "Compact", show=False, id="compact"),
        Binding("ctrl+f", "attach", "Attach", show=False, id="attach-file"),
        Binding("ctrl+l", "browse_sessions", "Sessions", id="browse-sessions"),
        Binding("f4", "export", "Export", show=False, id="open-export"),
        Binding("alt+r", "reload_conversation", "Show changes from another window", show=False,
                id="reload-conversation"),
        Binding("f3", "server_panel", "Server", show=False, id="server-panel"),
        Binding("alt+up", "focus_messages", "Messages", show=False, id="focus-messages"),
        Binding("shift+pageup", "scroll_messages(-1)", "Scroll up", show=False, id="scroll-messages-up"),
        Binding("shift+pagedown", "scroll_messages(1)", "Scroll down", show=False, id="scroll-messages-down"),
        Binding("alt+v", "paste_image", "Paste image", show=False, id="paste-image"),
        Binding("alt+down", "edit_queued", "Edit queued", show=False, id="edit-queued"),
    ]

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        """The conversation, server and tools this screen drives."""
        self._turn_pending = False
        self._stop_requested = False
        self._save_banner_shown = ""
        self._notices_shown: set[str] = set()
        self.sent_prompt: tuple[str, list[Attachment]] | None = None
        """What was typed for the prompt being sent (text, attachments), until its turn runs."""

    def on_screen_suspend(self) -> None:
        # A dialog dims this screen but leaves it visible: its footer would name keys
        # that are not in force while the dialog is up.
        self.query_one(Footer).display = False

    def on_screen_resume(self) -> None:
        self.query_one(Footer).display = True

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static("", id="banner", classes="banner-line", markup=False)
        yield Static("", id="save-banner", classes="banner banner-line", markup=False)
        yield MessageList(show_reasoning=self.session.settings.show_reasoning, versions=self.session.versions,
                          demo=self.session.demo, reading_width=self.session.settings.reading_width,
                          id="messages")
        yield QueueView(id="queue")
        yield CompletionList(id="completions")
        # Right before the prompt: focus falls back to it when the last chip is removed.
        yield AttachmentBar(id="attachments")
        history = self.app.prompt_history  # type: ignore[attr-defined]  # VllmChatApp's, typed as App
        yield PromptInput(history=history, id="prompt")
        yield KeyFooter()

    @property
    def messages(self) -> MessageList:
        """The conversation view."""
        return self.query_one(MessageList)

    @property
    def prompt(self) -> PromptInput:
        """The prompt box."""
        return self.query_one(PromptInput)

    @property
    def completions(self) -> CompletionList:
        """Suggestions for the word being typed in the prompt."""
        return self.query_one(CompletionList)

    @property
    def queue_view(self) -> QueueView:
        """The prompts waiting to be sent."""
        return self.query_one(QueueView)

    @property
    def attachments(self) -> AttachmentBar:
        """The pending attachments above the prompt."""
        return self.query_one(AttachmentBar)

    @property
    def status(self) -> StatusBar:
        """The status line."""
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.session.set_approver(self.ask_approval)
        self.session.subscribe(self.show_status)
        self.session.watch_load()
        memory.settle("start-up")  # before any message view exists: views come and go
        self.messages.welcome_note = self.session.file_tools_note()
        self.show_conversation()
        self.prompt.completions = self.completions
        self.prompt.focus()
        self.connect()
        self.set_interval(DISK_CHECK_SECONDS, self.check_disk)  # other windows on this session
        for problem in self.session.problems:
            self.notify(problem, title="Config", severity="warning", markup=False)

    def show_status(self) -> None:
        """Draw the session's status: the header, and the banner while saving fails."""
        if "openai" in sys.modules:  # imported to explain a failure or load an adapter
            memory.settle("sdk")
        status = self.session.status()
        self.status.show(status)
        last = self.session.conversation.messages[-1:]
        self.messages.mark_continuable(last[0].id if last and not self.session.running
                                       and self.session.can_continue() else None)
        self.show_context_notice(status)
        if status.save_problem != self._save_banner_shown:
            self._save_banner_shown = status.save_problem
            banner = self.query_one("#save-banner", Static)
            if status.save_problem:
                banner.update(inert(f"Not saved: {status.save_problem}\nThe conversation is kept in memory "
                                    "and saved as soon as the folder can be written again."))
            banner.set_class(bool(status.save_problem), "-visible")
            self.call_after_refresh(self.place_toasts)

    def show_conversation(self) -> None:
        """Show the session's conversation from scratch (after a load, edit or delete)."""
        self.drop_candidates_panel()  # another conversation, or this one changed: the panel is over
        conv = self.session.conversation
        focused = self.app.focused
        in_messages = focused is None or focused is self.messages or self.messages in focused.ancestors
        self.messages.show_conversation(conv)
        if in_messages:
            self.prompt.focus()  # the focused message view is gone with the old views
        self.show_status()

    # -- connection -------------------------------------------------------------------

    def _banner(self, text: str = "") -> None:
        banner = self.query_one("#banner", Static)
        banner.update(inert(text))
        banner.set_class(bool(text), "-visible")
        self.call_after_refresh(self.place_toasts)

    def place_toasts(self) -> None:
        """Toasts start under the banners (the header's line is kept by their own margin)."""
        banners = sum(b.outer_size.height for b in self.query(".banner-line") if b.display)
        for rack in self.query("#textual-toastrack"):
            rack.styles.margin = (banners, 0, 0, 0)

    def _connection_failed(self, error: ChatError) -> None:
        retrying = "  (trying again every few seconds)" if self.session.connection == "disconnected" else ""
        self._banner(f"{error.message}\n{with_keys(self.app, error.hint)}{retrying}")

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect(self, announce: bool = False) -> None:
        """Ask the server for its models; keep trying while it refuses connections.
        `announce`: say so when it answers (a reconnect the user asked for)."""
        outcome = await self.session.keep_connected(on_attempt=self._connection_failed)
        if outcome.error is not None:
            return
        self._banner("")
        server = self.session.status().server
        if outcome.recovered:
            self.notify(f"The server at {server} is back.", title="Connected", markup=False)
        elif announce:
            count = len(self.session.models)
            self.notify(f"Connected to {server}: {count} model{'s' if count != 1 else ''}.",
                        title="Connected", markup=False)
        # The first reply's first words need the Markdown renderer; the header with the
        # model's name is painted first.
        self.call_after_refresh(markdown_view.warm_up, self.app)

    # -- turns ------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    def send(self, event: PromptInput.Submitted) -> None:
        """Send the prompt as a new user message and stream the reply, or queue it while a
        reply streams (`/attach X` attaches X; `/NAME` uses the saved prompt NAME)."""
        self.completions.offer(None)
        plan = self.take_next_plan()  # taken now: a prompt that isn't sent doesn't keep it for the next
        command, _, argument = event.text.strip().partition(" ")
        if command == "/compact" and not argument.strip():
            self.action_compact()
            return
        if command == "/attach":
            if argument.strip():
                self.attach_source(argument.strip())
            else:
                self.prompt.restore(event.text)
                self.notify(with_keys(self.app, "Usage: /attach PATH-or-URL (or {attach-file} to pick a file)."),
                            severity="warning", markup=False)
            return
        if command.startswith("/") and not argument and command[1:] in self.session.templates().templates:
            self.use_saved_prompt(command[1:])
            return
        self.submit_text(event.text, self.attachments.attachments, plan=plan)

    def run_turn(self, continue_last: bool = False, *, sent: bool = False, picked: bool = False) -> None:
        """Run one turn and show its events as they come (media left out as `media_policy` says).
        A new turn is checked against the context window first (see `make_room`); `sent`: its
        prompt was just sent (`sent_prompt` holds what was typed; it goes back into the
        prompt box if the user keeps it to edit); `picked`: first run the tool calls of the
        reply just picked among candidates."""
        self._turn_pending = True
        self._stop_requested = False
        self._turn_worker(continue_last, sent, picked)

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def _turn_worker(self, continue_last: bool, sent: bool = False, picked: bool = False) -> None:
        go = False
        try:
            go = continue_last or picked or await self.make_room(sent=sent)
        finally:
            if not go:
                self._turn_pending = self._stop_requested = False
                self.show_status()
        if not go:
            return
        messages = self.messages
        ticker = self.set_interval(0.5, self.show_status)  # elapsed seconds and speed move on
        failure: ChatError | None = None
        events = self.session.run_picked() if picked else self.session.run(
            self.session.options(continue_last=continue_last))
        try:
            async for event in events:
                if not isinstance(event, APPLIED_AT_ONCE):
                    # A new view, a panel: restyling and a new layout, which a key typed
                    # meanwhile would wait for. The key is shown first.
                    await self.app.keys_in_flight.shown()
                if self._stop_requested:
                    # Esc came before the engine had started: stop now, as if it came later.
                    self._stop_requested = False
                    self.session.stop()
                messages.apply(event)
                if isinstance(event, TurnFailed):
                    failure = event.error
                if isinstance(event, TURN_ENDS):
                    # The turn is over for the user now; its last save finishes on its own.
                    break
        finally:
            await events.aclose()
            self._turn_pending = self._stop_requested = False
            ticker.stop()
            self.show_status()
        self.send_queued_if_ready()
        if failure is None and self.session.wants_model_title():
            self.run_worker(self.session.generate_title(), group="title", exit_on_error=False)
        if failure is not None and failure.kind in ("connection", "truncated", "timeout"):
            self.connect()
        elif failure is not None and failure.kind in ("not_multimodal", "too_many_media"):
            self._offer_without_media(failure)
        elif failure is not None and failure.kind == "tools_unsupported":
            self._offer_without_tools(failure)
        elif failure is not None and failure.kind == "no_chat_template":
            self._offer_completion_mode(failure)

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
            self.notify("Nothing to retry yet.", severity="warning", markup=False)
            return
        self.show_conversation()
        self.run_turn()

    def action_new_conversation(self) -> None:
        """Start an empty conversation (the current one stays saved)."""
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
            self.notify("Only a stopped or cut-off last reply can be continued.", severity="warning", markup=False)
            return
        self.run_turn(continue_last=True)

    def action_server_panel(self) -> None:
        """What the server says about itself: version, models, load, caches, latencies."""
        from vllm_chat.ui.screens.server_panel import ServerPanelScreen

        if not isinstance(self.app.screen, ServerPanelScreen):
            self.app.push_screen(ServerPanelScreen(self.session))

    def toggle_logprobs(self) -> None:
        """Ask for logprobs from the next turn on, or stop asking."""
        top_n = self.session.toggle_logprobs()
        if top_n is None:
            self.notify("Logprobs off from the next turn.", title="Logprobs", markup=False)
        else:
            self.notify(with_keys(self.app, f"Each token's probability and {top_n} alternatives from the next "
                                            "turn: {show-logprobs} on a reply shows them."),
                        title="Logprobs", markup=False)

    def action_focus_messages(self) -> None:
        """Move to the last message (then ↑/↓ move, enter opens its actions, esc comes back)."""
        self.messages.focus_message(-1)

    def action_scroll_messages(self, direction: int) -> None:
        """Scroll the conversation a page without leaving the prompt."""
        if direction < 0:
            self.messages.scroll_page_up()
        else:
            self.messages.scroll_page_down()

