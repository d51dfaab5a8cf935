"""What the chat screen does with the server's models: the picker (LoRA adapters under their
base model), and loading or unloading adapters where the server allows it.

A mixin of `ChatScreen`. Whether the server loads adapters at runtime is asked once (a
harmless request) before the picker opens; where it doesn't, the picker says which
server settings enable it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

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

        screen = ModelPickerScreen(session.model_groups(), session.conversation.model, runtime_lora=runtime)
        if highlight is not None:
            screen.highlight = highlight
        self.app.push_screen(screen, picked)

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
