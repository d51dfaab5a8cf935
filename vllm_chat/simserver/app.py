"""The aiohttp application: vLLM's routes, its auth middleware and its error bodies.

Routes: `GET /v1/models`, `/health`, `/version`, `/load`, `/metrics`,
`POST /tokenize`, `/detokenize`, `/v1/chat/completions` (`chat_route.py`),
`/v1/completions` (`completions.py`), `/v1/chat/completions/render` (403, as on a
server without scale-out), and, with runtime LoRA updating, `/v1/load_lora_adapter`
and `/v1/unload_lora_adapter` (`lora.py`). Anything else is FastAPI's
`{"detail": "Not Found"}` / `Method Not Allowed`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from vllm_chat.simserver import completions, lora
from vllm_chat.simserver.chat_route import chat_completions
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.context import CONTEXT, SimContext
from vllm_chat.simserver.errors import SimError
from vllm_chat.simserver.metrics import PROMETHEUS_CONTENT_TYPE, SimStats
from vllm_chat.simserver.prometheus import exposition
from vllm_chat.simserver.responses import (
    error_response,
    json_response,
    read_generation_body,
    read_json,
)
from vllm_chat.simserver.tokens_api import detokenize, tokenize

__all__ = ["CONTEXT", "SimContext", "build_app", "error_response", "json_response", "read_json"]

log = logging.getLogger("vllm_chat.simserver")
MAX_BODY = 256 * 1024 * 1024
_PROTECTED = ("/v1", "/v2", "/inference", "/cohere")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _auth(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """`--api-key`: only `/v1`, `/v2`, `/inference` and `/cohere` need `Authorization: Bearer <key>`."""
    key = request.app[CONTEXT].config.api_key
    if key is None or request.method == "OPTIONS" or not request.path.startswith(_PROTECTED):
        return await handler(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.encode(), key.encode()):
        # Starlette middleware answers before CORS runs, hence no `vary` header here.
        return web.Response(body=b'{"error":"Unauthorized"}', status=401, headers={"Content-Type": "application/json"})
    return await handler(request)


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Routing errors as FastAPI bodies, request errors as vLLM's envelope, crashes as a 500."""
    try:
        return await handler(request)
    except SimError as exc:
        return error_response(exc)
    except web.HTTPMethodNotAllowed as exc:
        allow = ", ".join(sorted(exc.allowed_methods))
        return json_response({"detail": "Method Not Allowed"}, status=405, headers={"Allow": allow})
    except web.HTTPException as exc:
        return json_response({"detail": exc.reason}, status=exc.status)
    except Exception:
        log.exception("simulated server: unexpected error handling %s %s", request.method, request.path)
        return json_response(
            {"error": {"message": "Internal server error", "type": "InternalServerError", "param": None, "code": 500}},
            status=500,
        )


async def legacy_completions(request: web.Request) -> web.StreamResponse:
    """`POST /v1/completions`, streamed or not."""
    ctx = request.app[CONTEXT]
    body = await read_generation_body(request)
    try:
        result = await completions.handle(request, body, ctx)
    except SimError:
        ctx.stats.rejected += 1
        raise
    return result if isinstance(result, web.StreamResponse) else json_response(result)


async def models(request: web.Request) -> web.Response:
    """`GET /v1/models`: one card per served model, then the LoRA adapters."""
    return json_response({"object": "list", "data": request.app[CONTEXT].models.cards(int(time.time()))})


async def health(request: web.Request) -> web.Response:
    """`GET /health`: 200 with an empty body."""
    return web.Response(status=200, headers={"Vary": "Origin"})


async def version(request: web.Request) -> web.Response:
    """`GET /version`."""
    return json_response({"version": request.app[CONTEXT].config.version})


async def load(request: web.Request) -> web.Response:
    """`GET /load`: the number of requests in flight."""
    stats = request.app[CONTEXT].stats
    return json_response({"server_load": stats.running + stats.waiting})


async def metrics(request: web.Request) -> web.Response:
    """`GET /metrics`: vLLM's Prometheus exposition (open without an API key, as in vLLM)."""
    text = exposition(request.app[CONTEXT].metrics_registry)
    return web.Response(body=text, headers={"Content-Type": PROMETHEUS_CONTENT_TYPE, "Vary": "Origin"})


async def tokenize_route(request: web.Request) -> web.Response:
    """`POST /tokenize` (open without an API key, as in vLLM)."""
    ctx = request.app[CONTEXT]
    return json_response(tokenize(await read_json(request), ctx.config, ctx.models))


async def detokenize_route(request: web.Request) -> web.Response:
    """`POST /detokenize`."""
    ctx = request.app[CONTEXT]
    return json_response(detokenize(await read_json(request), ctx.config, ctx.models))


async def render(request: web.Request) -> web.Response:
    """`POST /v1/chat/completions/render`: refused, as on a server without `--enable-scale-out`."""
    raise SimError(
        403,
        "Scale-out endpoints are disabled. Restart vllm serve with --enable-scale-out to enable them.",
        "PermissionDeniedError",
        None,
    )


async def _start_engine(app: web.Application) -> None:
    app[CONTEXT].engine.start()


async def _stop_engine(app: web.Application) -> None:
    await app[CONTEXT].engine.close()


def build_app(config: SimConfig, stats: SimStats | None = None) -> web.Application:
    """The aiohttp application of one simulated server."""
    app = web.Application(middlewares=[_auth, _errors], client_max_size=MAX_BODY)
    app[CONTEXT] = SimContext(config, stats or SimStats())
    app.on_startup.append(_start_engine)
    app.on_cleanup.append(_stop_engine)
    app.router.add_get("/v1/models", models, allow_head=False)
    app.router.add_get("/health", health, allow_head=False)
    app.router.add_get("/version", version, allow_head=False)
    app.router.add_get("/load", load, allow_head=False)
    app.router.add_get("/metrics", metrics, allow_head=False)
    app.router.add_post("/tokenize", tokenize_route)
    app.router.add_post("/detokenize", detokenize_route)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/chat/completions/render", render)
    app.router.add_post("/v1/completions", legacy_completions)
    lora.add_routes(app, config.runtime_lora)
    return app
