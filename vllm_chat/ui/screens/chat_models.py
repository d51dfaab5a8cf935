"""What the chat screen does with the servers and their models: the model picker (LoRA
adapters under their base model), loading or unloading adapters where the server allows
it, and the server picker (the config's profiles, each with its models).

A mixin of `ChatScreen`. Whether the server loads adapters at runtime is asked once (a
harmless request) before the picker opens; where it doesn't, the picker says which
server settings enable it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from textual import work

from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.ui.keys import with_keys

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.ui.screens.chat import ChatScreen

PROBE_SECONDS = 2.0
"""How long the picker waits to learn whether adapters can be loaded (then it opens anyway)."""


class ModelActions:
    """The model picker, and LoRA adapters loaded and unloaded from it."""

    def action_pick_model(self: ChatScreen) -> None:
        """Choose the model for the next turn (adapters under their base model)."""
        self._open_model_picker()

    @work(exclusive=True, group="model-picker", exit_on_error=False)
    async def _open_model_picker(self: ChatScreen, highlight: str | None = None) -> None:
        from vllm_chat.ui.screens.model_picker import LOAD_ADAPTER, UNLOAD_PREFIX, ModelPickerScreen

        session = self.session
        runtime = session.runtime_lora_known
        if runtime is None and session.models:
            try:
                runtime = await asyncio.wait_for(session.runtime_lora(), PROBE_SECONDS)
            except (ChatErrorException, asyncio.TimeoutError):
                runtime = None

        def picked(choice: str | None) -> None:
            if not choice:
                return
            if choice == LOAD_ADAPTER:
                self.action_load_adapter()
            elif choice.startswith(UNLOAD_PREFIX):
                self._confirm_unload(choice.removeprefix(UNLOAD_PREFIX))
            else:
                self.use_model(choice)

        status = session.status()
        host = urlsplit(status.server).netloc or status.server
        screen = ModelPickerScreen(session.model_groups(), session.conversation.model, runtime_lora=runtime,
                                   server=f"{status.profile} ({host})" if status.profile else host,
                                   other_servers=len(session.profiles()) > 1)
        if highlight is not None:
            screen.highlight = highlight
        self.app.push_screen(screen, picked)

    def action_pick_server(self: ChatScreen) -> None:
        """Choose the server the conversation goes on with (the config's profiles)."""
        self._open_server_picker()

    @work(exclusive=True, group="server-picker", exit_on_error=False)
    async def _open_server_picker(self: ChatScreen) -> None:
        from vllm_chat.ui.screens.server_picker import STARTED, ServerPickerScreen

        servers = await self.session.survey_servers()

        def picked(choice: str | None) -> None:
            current = next((s.profile.name or STARTED for s in servers if s.profile.current), None)
            if choice is not None and choice != current:
                self._switch_server("" if choice == STARTED else choice)

        self.app.push_screen(ServerPickerScreen(servers), picked)

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def _switch_server(self: ChatScreen, name: str) -> None:
        from vllm_chat.core.config import ConfigError

        if self.session.running:
            self.notify("Stop the reply first (the server can't change in the middle of a turn).",
                        severity="warning", markup=False)
            return
        try:
            outcome = await self.session.switch_profile(name)
        except ConfigError as exc:
            self.notify(str(exc), title="Server", severity="error", markup=False, timeout=15)
            return
        self.show_status()
        if outcome.error is not None:
            self._connection_failed(outcome.error)
            self.connect()  # keep trying, as at start-up
            return
        self._banner("")
        status = self.session.status()
        self.notify(f"Now on {status.profile or status.server}: {status.model or 'no model'}.", title="Server",
                    markup=False)

    def action_load_adapter(self: ChatScreen) -> None:
        """Load a LoRA adapter from a folder on the server (where the server allows it)."""
        from vllm_chat.ui.screens.lora_load import LoraLoadScreen

        base = next((m.id for m in self.session.models if m.parent is None), "")
        example = ""
        if self.session.demo:
            from vllm_chat.demo import example_adapter_dir

            example = example_adapter_dir()

        def given(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self._load_adapter(*answer)

        self.app.push_screen(LoraLoadScreen(base, example), given)

    @work(group="lora", exit_on_error=False)
    async def _load_adapter(self: ChatScreen, name: str, path: str) -> None:
        try:
            card = await self.session.load_adapter(name, path)
        except ChatErrorException as exc:
            self._lora_problem(exc.error)
            return
        on = f" (LoRA on {card.parent})" if card.parent else ""
        self.notify(f"Loaded {card.id}{on}: pick it to use it.", title="LoRA adapter", markup=False)
        self._open_model_picker(highlight=card.id)

    def _confirm_unload(self: ChatScreen, name: str) -> None:
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self._unload_adapter(name)

        self.app.push_screen(ConfirmScreen(
            f"Unload the adapter {name} from the server?", "Unload", "Keep",
            detail="Everyone using this server loses it until it is loaded again.", destructive=True), answered)

    @work(group="lora", exit_on_error=False)
    async def _unload_adapter(self: ChatScreen, name: str) -> None:
        try:
            moved_to = await self.session.unload_adapter(name)
        except ChatErrorException as exc:
            self._lora_problem(exc.error)
            return
        then = f" This conversation uses {moved_to} from the next turn." if moved_to else ""
        self.notify(f"Unloaded {name}.{then}", title="LoRA adapter", markup=False)
        self.show_status()

    def _lora_problem(self: ChatScreen, error: ChatError) -> None:
        hint = f"\n{with_keys(self.app, error.hint)}" if error.hint else ""
        self.notify(f"{error.message}{hint}", title="LoRA adapter", severity="error", markup=False, timeout=15)
