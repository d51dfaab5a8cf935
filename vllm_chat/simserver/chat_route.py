"""`POST /v1/chat/completions`, streamed or not: validate, script the reply, plan its tokens,
and run them through the engine."""

from __future__ import annotations

import time

from aiohttp import web

from vllm_chat.simserver import generation, plan, script
from vllm_chat.simserver.chunks import ChatChunks, chat_completion
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.context import CONTEXT
from vllm_chat.simserver.errors import SimError
from vllm_chat.simserver.request import ChatRequest
from vllm_chat.simserver.responses import (
    apply_request_fault,
    json_response,
    read_generation_body,
)
from vllm_chat.simserver.validate import parse_chat


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """`POST /v1/chat/completions`."""
    ctx = request.app[CONTEXT]
    cfg = ctx.config
    body = await read_generation_body(request)
    try:
        req = parse_chat(body, cfg, request.headers, ctx.models)
        apply_request_fault(ctx, req.fault, body)
    except SimError:
        ctx.stats.rejected += 1
        raise
    plans = [plan.build(script.compose(req, i), req, i, cfg.null_content_transition) for i in range(req.n)]
    job = generation.Job(
        plans, req.prompt, req.budget, req.fault, req.engine_error, req.include_usage,
        per_request_metrics=cfg.per_request_metrics,
        beam=req.fields.use_beam_search,
        tool_parser=cfg.auto_tool_choice and req.tool_mode != "none",
    )
    generation.apply_cut_faults(job)
    created = int(time.time())
    if req.stream:
        return await generation.stream(request, job, _chunks(req, cfg, created), cfg, ctx.engine)
    try:
        await generation.complete(request, job, cfg, ctx.engine)
    except generation.Dropped:
        return web.Response()
    return json_response(
        chat_completion(
            request_id=req.request_id,
            created=created,
            model=req.model,
            plans=plans,
            prompt_tokens=req.prompt_tokens,
            reasoning_field=cfg.reasoning_field,
            reasoning_parser=req.reasoning_parser,
            top_logprobs=_top_logprobs(req),
            fingerprint=cfg.fingerprint,
            beam=req.fields.use_beam_search,
            metrics=job.metrics,
            prompt_text="".join(req.prompt) if req.fields.return_prompt_text else None,
        )
    )


def _top_logprobs(req: ChatRequest) -> int | None:
    """How many alternatives each logprobs entry lists (None: no logprobs)."""
    return (req.fields.top_logprobs or 0) if req.fields.logprobs else None


def _chunks(req: ChatRequest, cfg: SimConfig, created: int) -> ChatChunks:
    return ChatChunks(
        request_id=req.request_id,
        created=created,
        model=req.model,
        prompt_tokens=req.prompt_tokens,
        reasoning_field=cfg.reasoning_field,
        reasoning_parser=req.reasoning_parser,
        continuous_usage=req.continuous_usage,
        content_reasoning_null=req.reasoning_parser and not req.fields.include_reasoning,
        top_logprobs=_top_logprobs(req),
        fingerprint=cfg.fingerprint,
        beam=req.fields.use_beam_search,
        prompt_text="".join(req.prompt) if req.fields.return_prompt_text else None,
    )
