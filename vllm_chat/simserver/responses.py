"""What every route shares: JSON bodies as Starlette writes them, vLLM's request-body checks,
and the request-level faults (a router's 429/503, a full queue, extra load)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from vllm_chat.simserver.context import CONTEXT, RouterFault, SimContext
from vllm_chat.simserver.errors import (
    SimError,
    busy,
    dumps,
    json_decode_error,
    router_error,
    unsupported_media_type,
)
from vllm_chat.simserver.faults import ROUTER_KINDS, Fault


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON exactly as Starlette sends it: compact, UTF-8, `application/json` without charset."""
    merged = {"Content-Type": "application/json", "Vary": "Origin", **(headers or {})}
    return web.Response(body=dumps(body), status=status, headers=merged)


def error_response(error: SimError) -> web.Response:
    """A `SimError` as vLLM's JSON error response (with its extra headers, e.g. `Retry-After`)."""
    return json_response(error.body(), status=error.status, headers=error.headers)


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


async def read_generation_body(request: web.Request) -> Any:
    """Read a generation request's body and record it in the stats (even if it is rejected later);
    a router answering 429/503 for this request does so before reading anything."""
    ctx = request.app[CONTEXT]
    try:
        pending_router_answer(ctx)
        body = await read_json(request)
    except SimError:
        ctx.stats.note_request(None, dict(request.headers))
        ctx.stats.rejected += 1
        raise
    ctx.stats.note_request(body, dict(request.headers))
    return body


def pending_router_answer(ctx: SimContext) -> None:
    """Raise the 429/503 of a router fault still armed for this request."""
    armed = ctx.router_fault
    if armed is None or armed.remaining <= 0:
        return
    armed.remaining -= 1
    if armed.remaining == 0:
        ctx.router_fault = None
    raise router_error(armed.status, armed.retry_after)


def apply_request_fault(ctx: SimContext, fault: Fault | None, body: Any = None) -> None:
    """Faults that act before generation: a router's 429/503 (arming the next N-1 requests),
    vLLM's 503 for a full queue, and other users' load joining the queue first.

    A router's fault answers a given request (`body`) once: the same request sent again
    after `Retry-After`, as a well-behaved client does, goes through once the armed run
    is spent (the phrase in it would otherwise arm the fault again, forever)."""
    if fault is None:
        return
    if fault.kind in ROUTER_KINDS and body is not None:
        key = json.dumps(body.get("messages", body.get("prompt")), sort_keys=True, default=str)
        if key in ctx.router_answered:
            return
        ctx.router_answered.add(key)
    if fault.kind in ROUTER_KINDS:
        status = int(fault.kind)
        count = max(1, int(fault.value or 1))
        if count > 1:
            ctx.router_fault = RouterFault(status, ctx.config.router_retry_after, count - 1)
        raise router_error(status, ctx.config.router_retry_after)
    if fault.kind == "busy":
        ctx.stats.queue_rejections += 1
        raise busy()
    if fault.kind == "load":
        ctx.engine.add_load(int(fault.value) if fault.value is not None else 2 * ctx.config.max_num_seqs)
