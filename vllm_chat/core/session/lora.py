"""LoRA adapters, seen from the session: the model list grouped under base models, and
adapters loaded or unloaded at runtime (the model list is asked again after each)."""

from __future__ import annotations

from vllm_chat.core import lora
from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.lora import ModelGroup
from vllm_chat.core.models import ModelInfo, find_model
from vllm_chat.core.session.controls import ControlsPart


class LoraPart(ControlsPart):
    """LoRA adapters next to their base models."""

    _runtime_lora: bool | None = None  # None: not asked yet (asked once per server, see runtime_lora)

    def _server_changed(self) -> None:
        self._runtime_lora = None  # another server: ask it
        super()._server_changed()

    def model_groups(self) -> list[ModelGroup]:
        """The served models as groups: each base model with its adapters under it (each
        adapter with its parent's context window when its own card has none)."""
        return lora.group_models(self.models)

    @property
    def runtime_lora_known(self) -> bool | None:
        """Whether the server loads adapters at runtime, as far as known (None: not asked)."""
        return self._runtime_lora

    async def runtime_lora(self) -> bool:
        """Whether the server loads adapters at runtime (asked once, without side effects).
        Raises `ChatErrorException` when the server can't be asked."""
        if self._runtime_lora is None:
            self._runtime_lora = await lora.runtime_loading(self._client)
        return self._runtime_lora

    async def load_adapter(self, name: str, path: str) -> ModelInfo:
        """Load the adapter in `path` (a folder on the server's machine) as the model `name`,
        and return its card from the refreshed model list. Raises `ChatErrorException` saying
        why not (`lora_disabled` names the server settings that enable it)."""
        try:
            await lora.load_adapter(self._client, name, path)
        except ChatErrorException as exc:
            if exc.error.kind == "lora_disabled":
                self._runtime_lora = False
            raise
        self._runtime_lora = True
        await self._refresh_models()
        card = find_model(self.models, name.strip())
        return card if card is not None else ModelInfo(id=name.strip(), root=path.strip())

    async def unload_adapter(self, name: str) -> str | None:
        """Unload the adapter `name` and refresh the model list. When this conversation used
        it, its next turns use the adapter's base model: returns that model's name (None when
        the conversation's model is unchanged). Raises `ChatErrorException`."""
        card = find_model(self.models, name)
        try:
            await lora.unload_adapter(self._client, name)
        except ChatErrorException as exc:
            if exc.error.kind == "lora_failed" and exc.error.status == 404:
                await self._refresh_models()  # it was gone already: the list shows that
            raise
        await self._refresh_models()
        if self.conversation.model == name and card is not None and card.parent:
            self.set_model(card.parent)
            return card.parent
        return None

    async def _refresh_models(self) -> None:
        try:
            self.models = await self._client.list_models()
        except ChatErrorException:
            return  # the adapter call worked; the list is refreshed on the next connect
        self._status_changed()
