"""VllmChatApp: themes, the main screen, global keys and the command palette.

Kept thin on purpose: behaviour lives in `core.session.ChatSession`, widgets
in `ui/widgets`, screens in `ui/screens`.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from vllm_chat.core.history import PromptHistory
from vllm_chat.core.session import ChatSession
from vllm_chat.ui.screens.chat import ChatScreen
from vllm_chat.ui.theming import ThemeBook


class VllmChatApp(App[int]):
    """The vllm-chat terminal app."""

    TITLE = "vllm-chat"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
        Binding("f1", "help", "Help", id="help"),
        Binding("question_mark", "help", "Help", show=False, id="help-alt"),
    ]

    def __init__(
        self,
        session: ChatSession,
        *,
        demo: bool = False,
        prompt_history: PromptHistory | None = None,
    ) -> None:
        self.themes = ThemeBook(session.settings.theme)
        """Our themes and the user's, validated."""
        super().__init__()
        self.session = session
        """The conversation, server and tools."""
        self.demo = demo
        """Talking to the built-in simulated server."""
        self.prompt_history = prompt_history or PromptHistory(None)
        """Earlier prompts for ↑ recall."""
        self.set_keymap(session.settings.keymap)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return self.themes.app_variables(self)

    def on_mount(self) -> None:
        self.themes.register_all(self)
        self.push_screen(ChatScreen(self.session, demo=self.demo))

    def get_default_screen(self) -> Screen:
        return Screen()

    @property
    def chat(self) -> ChatScreen:
        """The main screen."""
        return next(s for s in self.screen_stack if isinstance(s, ChatScreen))

    def action_help(self) -> None:
        """Show every key binding."""
        from vllm_chat.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Stop any reply, save, and leave."""
        await self.session.aclose()
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        chat = self.chat
        yield SystemCommand("New conversation", "Start over; the current one stays saved",
                            chat.action_new_conversation)
        yield SystemCommand("Pick model", "Choose the model for the next turn", chat.action_pick_model)
        for model in self.session.models:
            yield SystemCommand(f"Use model: {model.id}", "Switch from the next turn on",
                                lambda name=model.id: chat.use_model(name))
        yield SystemCommand("Edit system prompt", "The instructions sent before the conversation",
                            chat.action_edit_system_prompt)
        yield SystemCommand("Retry last turn", "Answer the last prompt again", chat.action_retry)
        yield SystemCommand("Stop reply", "Stop generating now", chat.action_stop)
        yield SystemCommand("Reconnect", "Ask the server for its models again", chat.connect)
        yield SystemCommand("Keys", "Every key binding", self.action_help)
