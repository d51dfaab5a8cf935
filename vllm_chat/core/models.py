"""Choosing the model: `--model`, else the config, else the first one the server lists."""

from __future__ import annotations

from vllm_chat.core.client import ChatClient, ModelInfo


async def resolve_model(client: ChatClient, wanted: str | None) -> tuple[str, list[ModelInfo]]:
    """The model to use and the server's list (raises `ChatErrorException` if the server
    can't be asked). A `wanted` name the server doesn't serve is returned as is: the
    first request then fails with the list of names the server does serve."""
    models = await client.list_models()
    if wanted:
        return wanted, models
    if not models:
        return "", models
    return models[0].id, models


def find_model(models: list[ModelInfo], name: str) -> ModelInfo | None:
    """The card for `name`, if the server lists it."""
    return next((m for m in models if m.id == name), None)


def context_window(models: list[ModelInfo], name: str) -> int | None:
    """`max_model_len` for `name`, following a LoRA card to its parent."""
    card = find_model(models, name)
    if card is None:
        return None
    if card.max_model_len is None and card.parent:
        parent = find_model(models, card.parent)
        return parent.max_model_len if parent else None
    return card.max_model_len
