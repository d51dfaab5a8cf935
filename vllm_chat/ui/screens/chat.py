"""ChatScreen: the conversation, the prompt, and the status line.

Keys become `ChatSession` calls; engine events go to `MessageList.apply`.
The connection to the server is (re)established in the background, so the
screen is usable at once and says when the server is back.
"""

from __future__ import annotations

import asyncio
import gc
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
from vllm_chat.ui.screens.chat_actions import MessageActions
from vllm_chat.ui.widgets.attachment_bar import AttachmentBar
from vllm_chat.ui.widgets.image_thumb import ImageThumb
from vllm_chat.ui.widgets.message_list import MessageList
from vllm_chat.ui.widgets.message_views import MessageView
from vllm_chat.ui.widgets.prompt_input import PromptInput
from vllm_chat.ui.widgets.status_bar import StatusBar

RECONNECT_DELAYS = (0.5, 1.0, 2.0, 3.0, 5.0)
"""Seconds between connection attempts while the server is unreachable."""


def settle_memory() -> None:
    """Move every object alive now out of the garbage collector's sight.

    After start-up ~200,000 long-lived objects (modules, classes, the SDK's
    types) are tracked, and each full collection walks all of them: 110-160 ms,
    about twice a second while a reply streams, which is the stutter a user
    feels. Called at first paint and once the SDK is imported: what is frozen
    then lives as long as the process anyway. (Not after showing a session:
    its widgets are removed later, and frozen cycles would never be freed.)
    """
    gc.freeze()


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


class ChatScreen(MessageActions, Screen[None]):
    """The main screen."""

    CSS_PATH = "chat.tcss"

    BINDINGS = [
        Binding("escape", "stop", "Stop", id="stop"),
        Binding("ctrl+n", "new_conversation", "New", id="new-conversation"),
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
        self._stream_started = 0.0

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
        self.show_conversation()
        self.prompt.focus()
        self.call_after_refresh(settle_memory)
        self.connect()
        for problem in self.session.problems:
            self.notify(problem, title="Config", severity="warning", markup=False)

    def show_conversation(self) -> None:
        """Show the session's conversation from scratch (after a load, edit or delete)."""
        conv = self.session.conversation
        self.messages.show_conversation(conv)
        last = next((m for m in reversed(conv.messages) if m.usage is not None), None)
        self.status.context_used = (last.usage.prompt_tokens + last.usage.completion_tokens) if last else None

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
        settle_memory()  # the SDK is imported now: its many objects are here to stay
        status.model = self.session.conversation.model
        status.context_max = self.session.context_window
        if self._was_disconnected:
            self._was_disconnected = False
            self.notify(f"The server at {self.session.settings.base_url} is back.", title="Connected",
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

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def run_turn(self, continue_last: bool = False, media: str = "all") -> None:
        """Run one turn and show its events as they come."""
        messages, status = self.messages, self.status
        status.state = "streaming"
        self._stream_count = 0
        self._stream_started = time.monotonic()
        ticker = self.set_interval(0.5, self._show_speed)
        failure: ChatError | None = None
        try:
            options = self.session.options(continue_last=continue_last, media=media)
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
        if failure is None and self.session.wants_model_title():
            self.run_worker(self.session.generate_title(), group="title", exit_on_error=False)
        if failure is not None and failure.kind in ("connection", "truncated", "timeout"):
            self.connect()
        elif failure is not None and failure.kind in ("not_multimodal", "too_many_media"):
            self._offer_without_media(failure)
        elif failure is not None and failure.kind == "tools_unsupported":
            self._offer_without_tools(failure)

    def _offer_without_tools(self, error: ChatError) -> None:
        """The server has no tool calling: offer to answer this conversation without tools."""
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        def answered(go: bool | None) -> None:
            if go and self.session.rewind_to_last_user():
                self.session.conversation.tools_enabled = False
                self.status.tools = False
                self.show_conversation()
                self.run_turn()

        self.app.push_screen(ConfirmScreen(
            f"{error.message} Continue without tools?", "Without tools", "Not now",
            detail=error.hint + " (ctrl+t switches tools back on.)", destructive=False), answered)

    def _offer_without_media(self, error: ChatError) -> None:
        """The server refused the images: offer to send the turn without them (or fewer)."""
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        if error.kind == "not_multimodal":
            question, yes, media = f"{error.message} Send without the attachments?", "Send without", "none"
            detail = "Each attachment is replaced by a note naming it; the files stay in the conversation."
        else:
            keep = self.session.settings.attachments.recent_images
            question = f"{error.message} Send only the {keep} most recent image(s)?"
            yes, media = f"Send {keep} recent", "recent"
            detail = "Older images are replaced by a note naming them (attachments.recent_images sets how many)."

        def answered(go: bool | None) -> None:
            if go and self.session.rewind_to_last_user():
                self.show_conversation()
                self.run_turn(media=media)

        self.app.push_screen(ConfirmScreen(question, yes, "Not now", detail=detail, destructive=False), answered)

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
        self.show_conversation()
        self.run_turn()

    def action_new_conversation(self) -> None:
        """Start an empty conversation (the current one stays saved)."""
        self.session.stop()
        self.session.new_conversation()
        self.show_conversation()
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

    def action_browse_sessions(self) -> None:
        """Saved conversations: filter, open, rename, delete."""
        from vllm_chat.ui.screens.sessions import SessionBrowserScreen

        store = self.session.store
        if store is None:
            self.notify("This run does not save sessions.", severity="warning")
            return

        def chosen(choice: tuple[str, str] | None) -> None:
            if choice and choice[0] == "open":
                self.open_session(choice[1])

        self.app.push_screen(SessionBrowserScreen(store, self.session.conversation.id), chosen)

    def open_session(self, session_id: str) -> None:
        """Load a saved conversation and show it (the current one stays saved)."""
        from vllm_chat.core.store import StoreError

        assert self.session.store is not None
        try:
            conv = self.session.store.load(session_id)
        except StoreError as exc:
            self.notify(str(exc), title="Can't open", severity="error", markup=False)
            return
        self.session.stop()
        self.session.open_conversation(conv)
        self.show_conversation()
        self.status.model = self.session.conversation.model
        self.status.context_max = self.session.context_window
        self.status.tools = self.session.tools_on
        self.prompt.focus()

    def on_session_browser_screen_renamed(self, event: object) -> None:
        conv = self.session.conversation
        if getattr(event, "session_id", None) == conv.id:
            conv.title = event.title  # type: ignore[attr-defined]
            self.session.save()  # or the next autosave would bring the old title back

    def action_export(self) -> None:
        """Write this conversation to a Markdown or JSON file."""
        from vllm_chat.ui.screens.export import ExportScreen

        def written(path: object) -> None:
            if path:
                self.notify(f"Exported to {path}", title="Export", markup=False)

        self.app.push_screen(ExportScreen(self.session.conversation), written)

    def action_attach(self) -> None:
        """Pick an image, video or audio file (with a preview) to send with the next prompt."""
        from pathlib import Path

        from vllm_chat.ui.screens.attach import AttachScreen

        def picked(prepared: object) -> None:
            if prepared is not None:
                self._add_attachment(prepared)
            self.prompt.focus()

        self.app.push_screen(AttachScreen(Path.cwd(), self.session.settings.attachments), picked)

    def _add_attachment(self, prepared: object) -> None:
        if not self.attachments.add(prepared):  # type: ignore[arg-type]
            self.notify("That file is already attached.", severity="warning")

    @on(PromptInput.PastedPath)
    def _pasted_path(self, event: PromptInput.PastedPath) -> None:
        self.attach_source(event.text)

    @work(group="attach", exit_on_error=False)
    async def attach_source(self, source: str) -> None:
        """Attach a path or URL (pasted, or given to /attach); bad input is explained."""
        from vllm_chat.core.attachments import AttachmentError, prepare_attachment

        try:
            prepared = await asyncio.to_thread(prepare_attachment, source,
                                               self.session.settings.attachments)
        except AttachmentError as exc:
            self.notify(str(exc), title="Not attached", severity="error", markup=False)
            return
        self._add_attachment(prepared)

    def on_image_thumb_opened(self, event: ImageThumb.Opened) -> None:
        from vllm_chat.ui.screens.image_view import ImageViewScreen

        self.app.push_screen(ImageViewScreen(event.attachment))

    def action_continue_reply(self) -> None:
        """Continue a reply that was stopped or cut at max_tokens (vLLM continue_final_message)."""
        if self.session.running:
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

    def action_open_settings(self) -> None:
        """The settings panel for this conversation: model, system prompt, sampling, tools."""
        from vllm_chat.ui.screens.settings import SettingsScreen

        session = self.session

        def applied(result: object) -> None:
            if result is None:
                return
            session.apply_settings(result)  # type: ignore[arg-type]
            self.status.model = session.conversation.model
            self.status.context_max = session.context_window
            self.status.tools = session.tools_on
            self.notify("Settings apply from the next turn.", title="Settings")

        tools = session.engine.tools
        self.app.push_screen(SettingsScreen(session.conversation, session.models,
                                            tools_available=bool(tools and tools.names()),
                                            tools_default=session.tools_enabled), applied)

    def action_open_editor(self) -> None:
        """Write the prompt in $EDITOR and come back with its text."""
        from vllm_chat.core.editor import EditorError, edit_text, editor_command

        try:
            command = editor_command(self.session.settings.editor)
            text = edit_text(self.prompt.text, command, run=self._run_editor)
        except EditorError as exc:
            self.notify(str(exc), title="Editor", severity="error", markup=False)
            return
        self.prompt.load_text(text.rstrip("\n"))
        self.prompt.move_cursor(self.prompt.document.end)
        self.prompt.focus()

    def _run_editor(self, argv: list[str]) -> int:
        import subprocess

        from textual.app import SuspendNotSupported

        try:
            with self.app.suspend():
                return subprocess.run(argv).returncode
        except SuspendNotSupported:  # headless (tests): nothing to hand the terminal back from
            return subprocess.run(argv, stdin=subprocess.DEVNULL).returncode

    def set_tool_choice(self, choice: str) -> None:
        """Send `tool_choice` = auto, none or required from the next turn on."""
        self.session.tool_choice = choice
        self.status.tool_choice = choice
        self.notify(f"tool_choice is {choice} from the next turn.", title="Tools")

    def action_toggle_tools(self) -> None:
        """Offer tools to the model in this conversation, or stop offering them."""
        conv = self.session.conversation
        conv.tools_enabled = not self.session.tools_on
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
        from vllm_chat.ui.screens.text_edit import TextEditScreen

        def edited(text: str | None) -> None:
            if text is not None:
                text = text.strip()
                self.session.conversation.system_prompt = text
                self.session.conversation.touch()
                self.session.save()
                self.notify("System prompt updated." if text else "System prompt removed.")

        self.app.push_screen(TextEditScreen(
            self.session.conversation.system_prompt, title="System prompt (applies from the next turn)",
            hint="ctrl+s save · esc cancel · empty means no system prompt", area_id="system-prompt-text"),
            edited)
