"""VllmChatApp: themes, the main screen, global keys and the command palette.

Kept thin on purpose: behaviour lives in `core.session.ChatSession`, widgets
in `ui/widgets`, screens in `ui/screens`.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.geometry import Size
from textual.markup import escape
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer

from vllm_chat.core.history import PromptHistory
from vllm_chat.core.session import ChatSession
from vllm_chat.core.text import message_text
from vllm_chat.ui.keys import name_palette_binding
from vllm_chat.ui.keys_first import KeysInFlight
from vllm_chat.ui.lean_strips import use_lean_strips
from vllm_chat.ui.screens.chat import ChatScreen
from vllm_chat.ui.screens.chat_generation import generation_commands
from vllm_chat.ui.screens.help import HelpScreen
from vllm_chat.ui.spatial_grid import use_tall_squares
from vllm_chat.ui.terminal_copy import TerminalCopy
from vllm_chat.ui.theming import ThemeBook, ThemePicker


class VllmChatApp(App[int]):
    """The vllm-chat terminal app."""

    TITLE = "vllm-chat"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
        Binding("f1", "help", "Help", id="help"),
        Binding("question_mark", "help", "Help", show=False, id="help-alt"),
        Binding("f8", "tool_servers", "Tool servers", show=False, id="open-tool-servers"),
    ]

    def __init__(
        self,
        session: ChatSession,
        *,
        prompt_history: PromptHistory | None = None,
    ) -> None:
        use_tall_squares()
        use_lean_strips()
        self.themes = ThemeBook(session.settings.theme)
        """Our themes and the user's, validated."""
        super().__init__()
        self.session = session
        """The conversation, server and tools."""
        self.prompt_history = prompt_history or PromptHistory(None)
        """Earlier prompts for ↑ recall."""
        self._theme_timer: Timer | None = None
        self.keymap_problems: list[str] = []
        """What was wrong with the config's [keymap] (those entries were not applied)."""
        if session.settings.keymap:
            # Checking a keymap needs every screen's bindings, and `key_places` imports every
            # screen (~60 ms at start): loaded only when there is a keymap, or for help.
            from vllm_chat.ui.key_places import apply_keymap

            self.keymap_problems = apply_keymap(self, session.settings.keymap)
        else:
            name_palette_binding(self)
        self.terminal_copy = TerminalCopy()
        """What the terminal shows: each frame writes only what differs from it."""
        self.keys_in_flight = KeysInFlight()
        """Whether a typed key is still on its way to the screen (long drawing waits for it)."""
        session.let_input_first(lambda: self.keys_in_flight.waiting)
        self._copied_size = Size(0, 0)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Textual's notification, with control characters made visible in the message and
        the title: notifications quote model ids, file names and server text, and a toast
        passes an escape character straight to the terminal."""
        super().notify(message_text(message), title=message_text(title), severity=severity, timeout=timeout,
                       markup=markup)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return self.themes.app_variables(self)

    def on_mount(self) -> None:
        # Another program may draw on the terminal while the app is suspended (ctrl+g's editor).
        self.app_suspend_signal.subscribe(self, lambda _: self.terminal_copy.forget())
        self.app_resume_signal.subscribe(self, lambda _: self.terminal_copy.forget())
        self.themes.register_all(self)
        self.theme_changed_signal.subscribe(self, self._theme_chosen)
        self.push_screen(ChatScreen(self.session))
        self._server_states: dict[str, str] = {}
        self.session.watch_tool_servers(self._tool_servers_changed)
        if self.keymap_problems:
            self.notify("\n".join(self.keymap_problems), title="Keymap", severity="warning", timeout=12,
                        markup=False)

    def _theme_chosen(self, theme: object) -> None:
        # The theme picker previews every highlighted theme; save once the choice settles.
        if self._theme_timer is not None:
            self._theme_timer.stop()
        self._theme_timer = self.set_timer(1.0, self._save_theme)

    def _save_theme(self) -> None:
        """Remember a theme picked in the app (palette → Theme) in the config file."""
        self._theme_timer = None
        name = self.theme
        if name == self.themes.active:
            return  # the start-up choice (or a fallback), not the user's pick
        error = self.themes.remember(name, self.session.settings.config_file)
        if error:
            self.notify(error, title="Theme not saved", severity="warning", markup=False)

    def search_themes(self) -> None:
        """Palette → Theme: the themes, each shown as it is highlighted (see `ThemePicker`)."""
        self.push_screen(ThemePicker(self.themes, self.session.settings.config_file))

    def _display(self, screen: Screen, renderable: RenderableType | None) -> None:
        # Every frame goes out through the terminal's copy, so only what changed is written
        # (see `TerminalCopy`); an inline driver keeps Textual's own output.
        driver = self._driver
        if renderable is not None and driver is not None and not driver.is_inline:
            if self.size != self._copied_size:  # a resized terminal may reflow or clear what it showed
                self.terminal_copy.forget()
                self._copied_size = self.size
            renderable = self.terminal_copy.wrap(renderable)
        super()._display(screen, renderable)
        if renderable is not None:
            self.keys_in_flight.painted()

    def post_message(self, message: Message) -> bool:
        # Noted when posted, not when the app takes it: the app's queue itself may be held up
        # (it waits for removed widgets to close), and the drawing that stands aside for the
        # key is what lets that finish sooner.
        if isinstance(message, events.Key):
            self.keys_in_flight.arrived(message)
        return super().post_message(message)

    def get_default_screen(self) -> Screen:
        return Screen()

    @property
    def chat(self) -> ChatScreen:
        """The main screen."""
        return next(s for s in self.screen_stack if isinstance(s, ChatScreen))

    def action_help(self) -> None:
        """Show every key binding."""
        from vllm_chat.ui.key_places import help_groups  # every screen: see __init__

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(help_groups(self)))

    def action_tool_servers(self) -> None:
        """The MCP tool servers: state, tools, reasons, reconnect."""
        from vllm_chat.ui.screens.tool_servers import ToolServersScreen

        if not isinstance(self.screen, ToolServersScreen):
            self.push_screen(ToolServersScreen(self.session))

    def _tool_servers_changed(self) -> None:
        """Say so when an MCP server fails (the servers panel has the details)."""
        from vllm_chat.ui.keys import key_hint
        from vllm_chat.ui.screens.tool_servers import ToolServersScreen

        panel_open = isinstance(self.screen, ToolServersScreen)  # it shows the failure already
        for status in self.session.tool_servers():
            before = self._server_states.get(status.name)
            self._server_states[status.name] = status.state
            if status.state == "failed" and before != "failed" and not panel_open:
                self.notify(f"MCP server {status.name} {status.detail} "
                            f"({key_hint(self, 'open-tool-servers')} shows its stderr and reconnects).",
                            title="Tool servers", severity="warning", timeout=10, markup=False)

    async def action_quit(self) -> None:
        """Stop any reply, save, and leave."""
        await self.session.aclose()
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # The palette reads titles and descriptions as markup; ours are words (and a
        # server's model names), so "[keymap]" must show as written, not vanish as a tag.
        for command in self._system_commands(screen):
            yield command._replace(title=escape(command.title), help=escape(command.help))

    def _system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
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
        yield SystemCommand("Candidates", "N candidates of the reply (n, or beam search) side by side; "
                            "pick one to continue with", chat.action_ask_candidates)
        yield SystemCommand("Compare models", "Send the turn to 2-4 models or LoRA adapters at once, "
                            "side by side; pick one to continue with", chat.action_compare_models)
        yield SystemCommand("Load a LoRA adapter", "Serve an adapter from a folder on the server "
                            "(runtime LoRA updating)", chat.action_load_adapter)
        yield SystemCommand("Browse conversations", "Open, rename or delete saved sessions",
                            chat.action_browse_sessions)
        yield SystemCommand("Export conversation", "Write it to a Markdown or JSON file", chat.action_export)
        yield SystemCommand("Fork conversation", "Continue in a new session holding this conversation; "
                            "the original stays as it is", chat.action_fork_conversation)
        yield SystemCommand("Reload conversation", "Show what another window added to this conversation",
                            chat.action_reload_conversation)
        yield SystemCommand("Settings", "Model, system prompt, sampling, tools for this conversation",
                            chat.action_open_settings)
        yield SystemCommand("Attach a file", "An image, video or audio file for the next prompt",
                            chat.action_attach)
        yield SystemCommand("Toggle tools", "Offer tools to the model in this conversation, or not",
                            chat.action_toggle_tools)
        for choice, what in (("auto", "the model decides"), ("required", "the model must call a tool"),
                             ("none", "the model sees the tools but calls none")):
            yield SystemCommand(f"Tool choice: {choice}", f"tool_choice = {choice}: {what}",
                                lambda c=choice: chat.set_tool_choice(c))
        yield SystemCommand("Tool servers", "MCP servers: state, tools, errors; reconnect",
                            self.action_tool_servers)
        yield SystemCommand("Reconnect tool servers", "Connect every MCP server again, in the background",
                            lambda: self.run_worker(self.session.reconnect_tool_servers(), group="mcp-reconnect",
                                                    exit_on_error=False))
        yield SystemCommand("Continue reply", "Continue a stopped or cut-off reply", chat.action_continue_reply)
        yield from generation_commands(chat)
        yield SystemCommand("Context breakdown", "What the next request takes of the context window, part by part",
                            chat.action_show_context)
        yield SystemCommand("Compact conversation", "Summarise the older turns into one message (originals kept)",
                            chat.action_compact)
        yield SystemCommand("Open prompt in editor", "Write the prompt in $EDITOR", chat.action_open_editor)
        yield SystemCommand("Stop reply", "Stop generating now", chat.action_stop)
        yield SystemCommand("Server panel", "The server's version, models, load, KV cache and latencies",
                            chat.action_server_panel)
        state = "on" if self.session.logprobs is not None else "off"
        yield SystemCommand(f"Logprobs on/off (now {state})",
                            "Ask for each token's probability and its likeliest alternatives", chat.toggle_logprobs)
        yield SystemCommand("Confidence of the last reply", "Its tokens as a heat-map, with the alternatives",
                            lambda: chat.show_logprobs(chat.last_reply_id()))
        yield SystemCommand("Request behind the last reply", "The exact JSON, copy as curl or Python, and the "
                            "rendered prompt", lambda: chat.show_request(chat.last_reply_id()))
        yield SystemCommand("Reconnect", "Ask the server for its models again",
                            lambda: chat.connect(announce=True))
        yield SystemCommand("Saved prompts", "Pick a saved prompt (or type / in the prompt)", chat.pick_saved_prompt)
        for name, template in sorted(self.session.templates().templates.items()):
            yield SystemCommand(f"Saved prompt: {name}", template.fields.description or "Fill it in",
                                lambda n=name: chat.use_saved_prompt(n))
        yield SystemCommand("Paste image", "Attach the image on the system clipboard", chat.action_paste_image)
        yield SystemCommand("Key bindings", "Every key in force, with the ids [keymap] uses", self.action_help)
