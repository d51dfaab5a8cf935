"""LoRA adapters: the served models grouped under their base model, and adapters loaded
and unloaded at runtime.

vLLM lists an adapter in `/v1/models` as a card of its own whose `parent` is the
base model and whose `max_model_len` is null (the adapter has its parent's
window). A server started with `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True` and
`--enable-lora` also serves `POST /v1/load_lora_adapter` (`lora_name`,
`lora_path`: a folder *on the server's machine*) and `/v1/unload_lora_adapter`;
without that setting the routes do not exist and answer FastAPI's
404 `{"detail": "Not Found"}`. An unload with an empty name is a harmless probe:
400 where the routes exist, that 404 where they don't (`runtime_loading`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vllm_chat.core.client import ChatClient
from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.core.models import ModelInfo, context_window

ENABLE_RUNTIME_LORA = (
    "Start vLLM with the environment variable VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and the flag "
    "--enable-lora (with --max-lora-rank at least your adapters' rank). Adapters given with "
    "--lora-modules NAME=PATH at start-up are served without it."
)
"""The server settings that enable loading adapters at runtime."""

_RANK_RE = re.compile(r"LoRA rank (\d+) is greater than max_lora_rank (\d+)")


@dataclass(frozen=True)
class ModelEntry:
    """One line of the model picker."""

    model: ModelInfo
    """The card from `/v1/models`."""
    context: int | None
    """Its context window: its own `max_model_len`, or for an adapter its parent's."""

    @property
    def is_adapter(self) -> bool:
        """Whether it is a LoRA adapter (its card names a parent)."""
        return self.model.parent is not None


@dataclass(frozen=True)
class ModelGroup:
    """A base model and the adapters served on it."""

    name: str
    """The base model's name."""
    base: ModelEntry | None
    """The base model itself (None when the server lists adapters on a base it doesn't list)."""
    adapters: tuple[ModelEntry, ...]
    """Its LoRA adapters, in the server's order."""

    @property
    def entries(self) -> tuple[ModelEntry, ...]:
        """The base (when listed), then its adapters."""
        return ((self.base,) if self.base is not None else ()) + self.adapters


def group_models(models: list[ModelInfo]) -> list[ModelGroup]:
    """The models as groups: each base model (in the server's order) with its adapters under
    it; adapters of a base the list lacks come in a group of their own, after the others."""
    bases = [m for m in models if m.parent is None]
    listed = {m.id for m in bases}
    adapters: dict[str, list[ModelEntry]] = {}
    for m in models:
        if m.parent is not None:
            adapters.setdefault(m.parent, []).append(ModelEntry(m, context_window(models, m.id)))
    groups = [ModelGroup(m.id, ModelEntry(m, m.max_model_len), tuple(adapters.get(m.id, ()))) for m in bases]
    groups += [ModelGroup(parent, None, tuple(entries)) for parent, entries in adapters.items()
               if parent not in listed]
    return groups


async def runtime_loading(client: ChatClient) -> bool:
    """Whether the server loads adapters at runtime (asked without side effects: an unload
    with no name). Raises `ChatErrorException` when the server can't be asked."""
    try:
        await client.post_text("/unload_lora_adapter", {"lora_name": ""})
    except Exception as exc:
        if _route_missing(exc):
            return False
        if getattr(exc, "status_code", None) in (400, 404):
            return True  # the route exists and refused the empty name
        raise ChatErrorException(client.explain(exc)) from exc
    return True


async def load_adapter(client: ChatClient, name: str, path: str) -> str:
    """Load the adapter in the server's folder `path` as the model `name`; returns the
    server's answer. Raises `ChatErrorException` saying why it wasn't loaded and what to do."""
    name, path = name.strip(), path.strip()
    if not name or not path:
        raise ChatErrorException(ChatError(
            "lora_failed", "An adapter needs a name and a path.",
            "Give the name to serve it as, and its folder on the server's machine."))
    try:
        return await client.post_text("/load_lora_adapter", {"lora_name": name, "lora_path": path})
    except Exception as exc:
        raise ChatErrorException(_explain(client, exc, "load", name, path)) from exc


async def unload_adapter(client: ChatClient, name: str) -> str:
    """Unload the adapter `name`; returns the server's answer. Raises `ChatErrorException`."""
    try:
        return await client.post_text("/unload_lora_adapter", {"lora_name": name})
    except Exception as exc:
        raise ChatErrorException(_explain(client, exc, "unload", name, "")) from exc


def _route_missing(exc: object) -> bool:
    body = getattr(exc, "body", None)
    return getattr(exc, "status_code", None) == 404 and isinstance(body, dict) and body.get("detail") == "Not Found"


def _explain(client: ChatClient, exc: Exception, action: str, name: str, path: str) -> ChatError:
    """A LoRA route's failure in words: the routes missing, a path with no adapter, a name
    taken, a rank too large; anything else as the client explains it."""
    status = getattr(exc, "status_code", None)
    if status is None:
        return client.explain(exc)
    if _route_missing(exc):
        return ChatError("lora_disabled", f"This server does not {action} LoRA adapters at runtime.",
                         ENABLE_RUNTIME_LORA, status=404, details={"runtime": False})
    body = getattr(exc, "body", None)
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    if not message:
        return client.explain(exc)
    hint = ""
    if "No adapter found" in message:
        hint = (f"{path!r} must be a folder on the server's machine holding adapter_config.json and the "
                "adapter's weights (adapter_model.safetensors).")
    elif "already been loaded" in message:
        hint = "Pick it from the list, or unload it first to load it again."
    elif "conflicts with a served base model" in message:
        hint = "Give the adapter another name."
    elif "cannot be found" in message:
        hint = "It is not loaded (the model list is refreshed)."
    elif rank := _RANK_RE.search(message):
        hint = f"Restart vLLM with --max-lora-rank {rank.group(1)} (or more) to serve this adapter."
    elif status >= 500:
        hint = "The server's log has the details."
    return ChatError("lora_failed", f"The server did not {action} the adapter {name!r}: {message}", hint,
                     status=status, details={"server_message": message})
