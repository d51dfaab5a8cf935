"""The served names of one running server: its models, the LoRA adapters of its configuration,
and the adapters loaded at runtime (`/v1/load_lora_adapter`), with vLLM's model cards.

A LoRA inherits everything from its parent model (media, chat template, window); its card
says `parent` and, as real LoRA cards do, `max_model_len: null`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.errors import unknown_model


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter served next to its base model."""

    name: str
    """The served name (`model` in requests)."""
    parent: str
    """The base model it applies to."""
    root: str
    """Where it was loaded from (the card's `root`)."""


class ModelRegistry:
    """What a server serves right now; adapters can come and go at runtime."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.adapters: dict[str, Adapter] = {
            name: Adapter(name, parent, f"/adapters/{name}") for name, parent in config.loras.items()
        }

    def resolve(self, name: Any) -> str:
        """The served name a request means (omitted or empty: the first model), or vLLM's 404."""
        if not name:
            return self.config.models[0]
        if name in self.config.models or name in self.adapters:
            return name
        raise unknown_model(name, list(self.config.models))

    def parent_of(self, model: str) -> str:
        """The base model behind a served name."""
        adapter = self.adapters.get(model)
        return adapter.parent if adapter else model

    def is_multimodal(self, model: str) -> bool:
        """Whether the model (or an adapter's parent) accepts media parts."""
        return self.parent_of(model) in self.config.multimodal_models

    def has_chat_template(self, model: str) -> bool:
        """Whether the model (or an adapter's parent) ships a chat template."""
        return self.parent_of(model) not in self.config.base_models

    def cards(self, created: int) -> list[dict[str, Any]]:
        """`/v1/models` data: one card per model, then one per adapter."""
        cards = [_card(m, f"/models/{m}", None, self.config.max_model_len, created) for m in self.config.models]
        cards += [_card(a.name, a.root, a.parent, None, created) for a in self.adapters.values()]
        return cards


def _card(name: str, root: str, parent: str | None, max_len: int | None, created: int) -> dict[str, Any]:
    return {
        "id": name,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": root,
        "parent": parent,
        "max_model_len": max_len,
        "permission": [{
            "id": f"modelperm-{secrets.token_hex(8)}",
            "object": "model_permission",
            "created": created,
            "allow_create_engine": False,
            "allow_sampling": True,
            "allow_logprobs": True,
            "allow_search_indices": False,
            "allow_view": True,
            "allow_fine_tuning": False,
            "organization": "*",
            "group": None,
            "is_blocking": False,
        }],
    }
