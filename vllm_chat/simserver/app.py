"""The aiohttp application: vLLM's routes, its auth middleware and its error bodies.

Routes: `GET /v1/models`, `/health`, `/version`, `/load`, `/metrics`,
`POST /tokenize`, `/detokenize`, `/v1/chat/completions`, `/v1/completions`,
and `/v1/chat/completions/render` (403, as on a server without scale-out).
Anything else is FastAPI's `{"detail": "Not Found"}` / `Method Not Allowed`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from vllm_chat.simserver import completions, generation, plan, script
from vllm_chat.simserver.chunks import ChatChunks, chat_completion
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.errors import (
    SimError,
    busy,
    dumps,
    json_decode_error,
    unsupported_media_type,
)
from vllm_chat.simserver.metrics import PROMETHEUS_CONTENT_TYPE, SimStats, prometheus
from vllm_chat.simserver.request import ChatRequest
from vllm_chat.simserver.tokens_api import detokenize, tokenize
from vllm_chat.simserver.validate import parse_chat

log = logging.getLogger("vllm_chat.simserver")
MAX_BODY = 256 * 1024 * 1024
_PROTECTED = ("/v1", "/v2", "/inference", "/cohere")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SimContext:
    """What every handler needs: the configuration and the live counters."""

    config: SimConfig
    """The server's configuration."""
    stats: SimStats
    """The counters `/metrics` and `SimServer.stats` report."""


CONTEXT = web.AppKey("simserver_context", SimContext)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON exactly as Starlette sends it: compact, UTF-8, `application/json` without charset."""
    merged = {"Content-Type": "application/json", "Vary": "Origin", **(headers or {})}
    return web.Response(body=dumps(body), status=status, headers=merged)


def error_response(error: SimError) -> web.Response:
    """A `SimError` as vLLM's JSON error response."""
    return json_response(error.body(), status=error.status)


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
    except Exception:  # noqa: BLE001 - a simulator bug must still answer like a server, not hang up
        log.exception("simulated server: unexpected error handling %s %s", request.method, request.path)
        return json_response(
            {"error": {"message": "Internal server error", "type": "InternalServerError", "param": None, "code": 500}},
            status=500,
        )


async def read_json(request: web.Request) -> Any:
    """The request body as JSON, or vLLM's 400 for a wrong content type or malformed JSON."""
    if request.content_type != "application/json":
        raise unsupported_media_type()
    raw = await request.read()
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise json_decode_error(exc) from None
    except UnicodeDecodeError:
        raise json_decode_error(json.JSONDecodeError("Invalid UTF-8", "", 0)) from None


async def _read_generation_body(request: web.Request, ctx: SimContext) -> Any:
    """Read a generation request's body and record it in the stats (even if it is rejected later)."""
    try:
        body = await read_json(request)
    except SimError:
        ctx.stats.note_request(None, dict(request.headers))
        ctx.stats.rejected += 1
        raise
    ctx.stats.note_request(body, dict(request.headers))
    return body


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """`POST /v1/chat/completions`, streamed or not."""
    ctx = request.app[CONTEXT]
    cfg = ctx.config
    body = await _read_generation_body(request, ctx)
    try:
        req = parse_chat(body, cfg, request.headers)
        if req.fault is not None and req.fault.kind == "busy":
            raise busy()
    except SimError:
        ctx.stats.rejected += 1
        raise
    plans = [plan.build(script.compose(req, i), req, i, cfg.null_content_transition) for i in range(req.n)]
    job = generation.Job(plans, req.prompt_tokens, req.fault, req.engine_error, req.include_usage)
    generation.apply_cut_faults(job)
    created = int(time.time())
    if req.stream:
        return await generation.stream(request, job, _chat_chunks(req, cfg, created), cfg, ctx.stats)
    try:
        await generation.complete(request, job, cfg, ctx.stats)
    except generation.Dropped:
        return web.Response()
    top = (req.fields.top_logprobs or 0) if req.fields.logprobs else None
    return json_response(
        chat_completion(
            request_id=req.request_id,
            created=created,
            model=req.model,
            plans=plans,
            prompt_tokens=req.prompt_tokens,
            reasoning_field=cfg.reasoning_field,
            reasoning_parser=req.reasoning_parser,
            top_logprobs=top,
            fingerprint=cfg.fingerprint,
        )
    )


def _chat_chunks(req: ChatRequest, cfg: SimConfig, created: int) -> ChatChunks:
    return ChatChunks(
        request_id=req.request_id,
        created=created,
        model=req.model,
        prompt_tokens=req.prompt_tokens,
        reasoning_field=cfg.reasoning_field,
        reasoning_parser=req.reasoning_parser,
        continuous_usage=req.continuous_usage,
        content_reasoning_null=req.reasoning_parser and not req.fields.include_reasoning,
        top_logprobs=(req.fields.top_logprobs or 0) if req.fields.logprobs else None,
        fingerprint=cfg.fingerprint,
    )


async def legacy_completions(request: web.Request) -> web.StreamResponse:
    """`POST /v1/completions`, streamed or not."""
    ctx = request.app[CONTEXT]
    body = await _read_generation_body(request, ctx)
    try:
        result = await completions.handle(request, body, ctx.config, ctx.stats)
    except SimError:
        ctx.stats.rejected += 1
        raise
    return result if isinstance(result, web.StreamResponse) else json_response(result)


async def models(request: web.Request) -> web.Response:
    """`GET /v1/models`: one card per served name, then the LoRA adapters."""
    cfg = request.app[CONTEXT].config
    created = int(time.time())

    def card(name: str, root: str, parent: str | None, max_len: int | None) -> dict[str, Any]:
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

    data = [card(m, f"/models/{m}", None, cfg.max_model_len) for m in cfg.models]
    data += [card(name, f"/adapters/{name}", parent, None) for name, parent in cfg.loras.items()]
    return json_response({"object": "list", "data": data})


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
    """`GET /metrics`: the vLLM Prometheus series clients and tests watch."""
    ctx = request.app[CONTEXT]
    text = prometheus(ctx.stats, ctx.config.models[0], ctx.config.max_model_len)
    return web.Response(body=text.encode(), headers={"Content-Type": PROMETHEUS_CONTENT_TYPE, "Vary": "Origin"})


async def tokenize_route(request: web.Request) -> web.Response:
    """`POST /tokenize` (open without an API key, as in vLLM)."""
    return json_response(tokenize(await read_json(request), request.app[CONTEXT].config))


async def detokenize_route(request: web.Request) -> web.Response:
    """`POST /detokenize`."""
    return json_response(detokenize(await read_json(request), request.app[CONTEXT].config))


async def render(request: web.Request) -> web.Response:
    """`POST /v1/chat/completions/render`: refused, as on a server without `--enable-scale-out`."""
    raise SimError(
        403,
        "Scale-out endpoints are disabled. Restart vllm serve with --enable-scale-out to enable them.",
        "PermissionDeniedError",
        None,
    )


def build_app(config: SimConfig, stats: SimStats | None = None) -> web.Application:
    """The aiohttp application of one simulated server."""
    app = web.Application(middlewares=[_auth, _errors], client_max_size=MAX_BODY)
    app[CONTEXT] = SimContext(config, stats or SimStats())
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
    return app
