"""`POST /v1/load_lora_adapter` and `/v1/unload_lora_adapter`, as vLLM 0.32 serves them when
started with `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True` (`SimConfig.runtime_lora`); without it
the routes do not exist and answer FastAPI's 404.

Loading needs a directory with an `adapter_config.json` (the simulator reads nothing else
from it); the adapter then serves as a model whose parent is the first served model, with
the card vLLM shows (`root` = the path, `max_model_len` null). Success answers are plain
text without a content type; failures use vLLM's texts and types (`InvalidUserInput`,
`NotFoundError`).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from pydantic import BaseModel

from vllm_chat.simserver.checks import check_json_body, typed_fields
from vllm_chat.simserver.context import CONTEXT
from vllm_chat.simserver.errors import SimError
from vllm_chat.simserver.models import Adapter
from vllm_chat.simserver.responses import read_json


class _Load(BaseModel):
    """vLLM's `LoadLoRAAdapterRequest`."""

    lora_name: str
    lora_path: str
    load_inplace: bool = False
    is_3d_lora_weight: bool = False


class _Unload(BaseModel):
    """vLLM's `UnloadLoRAAdapterRequest`."""

    lora_name: str
    lora_int_id: int | None = None


def _invalid(message: str) -> SimError:
    return SimError(400, message, "InvalidUserInput", None)


UNTYPED = "X-Sim-Untyped"
"""Marks a response whose `Content-Type` the app removes just before sending (aiohttp adds one
to every body; Starlette's plain `Response` has none)."""


def _plain(text: str) -> web.Response:
    """Starlette's `Response(content=text)`: no content type."""
    return web.Response(body=text.encode(), headers={"Vary": "Origin", UNTYPED: "1"})


async def drop_content_type(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: send marked responses without a content type."""
    if response.headers.pop(UNTYPED, None) is not None:
        response.headers.pop("Content-Type", None)


async def load_lora_adapter(request: web.Request) -> web.Response:
    """Load an adapter by name and path."""
    ctx = request.app[CONTEXT]
    load: _Load = typed_fields(_Load, check_json_body(await read_json(request)))
    if not load.lora_name or not load.lora_path:
        raise _invalid("Both 'lora_name' and 'lora_path' must be provided.")
    if load.lora_name in ctx.config.models:
        raise _invalid(f"The lora adapter '{load.lora_name}' conflicts with a served base model.")
    if not load.load_inplace and load.lora_name in ctx.models.adapters:
        raise _invalid(
            f"The lora adapter '{load.lora_name}' has already been loaded. If you want to load the adapter "
            "in place, set 'load_inplace' to True."
        )
    _check_adapter_dir(load.lora_name, load.lora_path)
    ctx.models.adapters[load.lora_name] = Adapter(load.lora_name, ctx.config.models[0], load.lora_path)
    return _plain(f"Success: LoRA adapter '{load.lora_name}' added successfully.")


async def unload_lora_adapter(request: web.Request) -> web.Response:
    """Unload an adapter by name."""
    ctx = request.app[CONTEXT]
    unload: _Unload = typed_fields(_Unload, check_json_body(await read_json(request)))
    if not unload.lora_name:
        raise _invalid("'lora_name' needs to be provided to unload a LoRA adapter.")
    if unload.lora_name not in ctx.models.adapters:
        raise SimError(404, f"The lora adapter '{unload.lora_name}' cannot be found.", "NotFoundError", None)
    del ctx.models.adapters[unload.lora_name]
    return _plain(f"Success: LoRA adapter '{unload.lora_name}' removed successfully.")


def _check_adapter_dir(name: str, path: str) -> None:
    """vLLM's 404 for a path without an adapter: a missing path is named, a directory without
    `adapter_config.json` is reported with the literal `<path>` vLLM 0.32 prints."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise SimError(404, f"Loading lora {name} failed: No adapter found for {path}", "NotFoundError", None)
    if not (folder / "adapter_config.json").is_file():
        raise SimError(404, f"Loading lora {name} failed: No adapter found for <path>", "NotFoundError", None)


def add_routes(app: web.Application, enabled: bool) -> None:
    """Register the routes when runtime LoRA updating is enabled."""
    if enabled:
        app.router.add_post("/v1/load_lora_adapter", load_lora_adapter)
        app.router.add_post("/v1/unload_lora_adapter", unload_lora_adapter)
        app.on_response_prepare.append(drop_content_type)

