"""What the chat screen changes about the conversation: model, system prompt, sampling
(the settings panel), tools and their approval, and the prompt's $EDITOR (the model
picker is in `chat_models`).

A mixin of `ChatScreen`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from vllm_chat.core.conversation import ToolCall
from vllm_chat.core.errors import ChatError
from vllm_chat.core.tools.approval import Decision
from vllm_chat.ui.keys import key_hint

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.params_form import SessionSettingsResult
    from vllm_chat.core.session.controls import ToolChoice
    from vllm_chat.ui.screens.chat import ChatScreen


class SettingsActions:
    """Changing how the next turns are sent."""

    def action_open_settings(self: ChatScreen) -> None:
        """The settings panel for this conversation: model, system prompt, sampling, tools."""
        from vllm_chat.ui.screens.settings import SettingsScreen

        session = self.session

        def applied(result: SessionSettingsResult | None) -> None:
            if result is None:
                return
            kind = session.conversation.kind
            session.apply_settings(result)
            if session.conversation.kind != kind:
                self.show_conversation()  # replies are drawn literally in completion mode
            self.notify("Settings apply from the next turn.", title="Settings", markup=False)

        self.app.push_screen(SettingsScreen(session.conversation, session.models,
                                            tools_available=session.tools_available,
                                            tools_default=session.tools_enabled), applied)

    def action_open_editor(self: ChatScreen) -> None:
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

    def _run_editor(self: ChatScreen, argv: list[str]) -> int:
        import subprocess

        from textual.app import SuspendNotSupported

        try:
            with self.app.suspend():
                return subprocess.run(argv).returncode
        except SuspendNotSupported:  # headless (tests): nothing to hand the terminal back from
            return subprocess.run(argv, stdin=subprocess.DEVNULL).returncode

    def set_tool_choice(self: ChatScreen, choice: ToolChoice) -> None:
        """Send `tool_choice` = auto, none or required from the next turn on."""
        self.session.set_tool_choice(choice)
        self.notify(f"tool_choice is {choice} from the next turn.", title="Tools", markup=False)

    def action_toggle_tools(self: ChatScreen) -> None:
        """Offer tools to the model in this conversation, or stop offering them."""
        on = self.session.set_tools(not self.session.tools_on)
        self.notify("Tools on for this conversation." if on else "Tools off for this conversation.", title="Tools",
                    markup=False)

    async def ask_approval(self: ChatScreen, call: ToolCall) -> Decision:
        """Ask the user whether a tool that needs approval may run (the engine waits)."""
        from vllm_chat.ui.screens.approval import ToolApprovalScreen

        info = self.session.tool_info(call)
        screen = ToolApprovalScreen(call, description=info.description, preview=info.preview,
                                    source=info.source)
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

    def action_edit_system_prompt(self: ChatScreen) -> None:
        """Edit the system prompt of this conversation."""
        from vllm_chat.ui.screens.text_edit import TextEditScreen

        def edited(text: str | None) -> None:
            if text is not None:
                self.session.set_system_prompt(text)
                self.notify("System prompt updated." if text.strip() else "System prompt removed.", markup=False)

        self.app.push_screen(TextEditScreen(
            self.session.conversation.system_prompt, title="System prompt (applies from the next turn)",
            hint="{save-text} save · {cancel-text} cancel · empty means no system prompt",
            area_id="system-prompt-text"), edited)
    def _offer_without_tools(self: ChatScreen, error: ChatError) -> None:
        """The server has no tool calling: offer to answer this conversation without tools."""
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        def answered(go: bool | None) -> None:
            if go and self.session.rewind_to_last_user():
                self.session.set_tools(False)
                self.show_conversation()
                self.run_turn()

        self.app.push_screen(ConfirmScreen(
            f"{error.message} Continue without tools?", "Without tools", "Not now",
            detail=f"{error.hint} ({key_hint(self.app, 'toggle-tools')} switches tools back on.)",
            destructive=False, guarded=True), answered)

    def use_model(self: ChatScreen, name: str) -> None:
        """Switch model from the next turn on."""
        self.session.set_model(name)
        self.notify(f"Next turns use {name}.", title="Model", markup=False)
