"""The models a server serves (`GET /v1/models`), and the context window of each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    """One entry of `GET /v1/models`."""

    id: str
    """The served model name (what requests send as `model`)."""
    max_model_len: int | None = None
    """Context window in tokens (None for LoRA cards, which inherit their parent's)."""
    parent: str | None = None
    """For a LoRA adapter: the base model it applies to."""
    root: str | None = None
    """The path or hub id the model was loaded from."""


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
