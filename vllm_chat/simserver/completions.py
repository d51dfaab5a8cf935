"""`POST /v1/completions`, the legacy text endpoint (`vllm complete` uses it, and it is how
a base model without a chat template is used).

The simulated model continues the prompt with prose (or obeys `long N` and
`echo`); chunks have no role chunk and carry `text`; `max_tokens` defaults to 16.
`echo` repeats the prompt before the continuation, `logprobs: N` adds the legacy
logprobs object, `use_beam_search` works unless streamed (vLLM's 400).
"""

from __future__ import annotations

import random
import re
import secrets
import time
import zlib
from dataclasses import dataclass
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from vllm_chat.simserver import faults, generation, longform, plan, template
from vllm_chat.simserver.checks import (
    MAX_LOGPROBS,
    check_json_body,
    check_sampling,
    check_window,
    typed_fields,
)
from vllm_chat.simserver.completion_chunks import CompletionChunks, text_completion
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.context import SimContext
from vllm_chat.simserver.errors import bad_request, plain_bad_request
from vllm_chat.simserver.responses import apply_request_fault
from vllm_chat.simserver.script import Reply

DEFAULT_MAX_TOKENS = 16


class _CompletionFields(BaseModel):
    """The typed fields of vLLM's `CompletionRequest`: same names, types and defaults, so wrong
    types fail with the same pydantic errors; what each field means is vLLM's documentation."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    prompt: str | list[str] | list[int] | list[list[int]] | None = None
    echo: bool | None = False
    frequency_penalty: float | None = None
    logprobs: int | None = None
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    n: int = 1
    presence_penalty: float | None = None
    seed: int | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    ignore_eos: bool = False
    min_tokens: int = 0
    include_stop_str_in_output: bool = False
    include_reasoning: bool = True
    use_beam_search: bool = False
    length_penalty: float = 1.0
    request_id: str | None = None
    sim_fault: str | None = None


@dataclass
class _Limits:
    """What `plan.build` reads from a request, for a completion."""

    fields: _CompletionFields
    """The typed fields."""
    stop: list[str]
    """Stop strings."""
    budget: int
    """Most completion tokens."""
    tool_mode: str = "none"
    """Completions never call tools."""


async def handle(request: web.Request, body: Any, ctx: SimContext) -> web.StreamResponse | dict[str, Any]:
    """Validate, plan and run one completions request: the stream it sent, or the JSON body to send."""
    cfg = ctx.config
    fields: _CompletionFields = typed_fields(_CompletionFields, check_json_body(body))
    if fields.stream_options is not None and not fields.stream:
        raise bad_request("Stream options can only be defined when `stream=True`.", "stream_options")
    prompts = _prompts(fields.prompt)
    model = ctx.models.resolve(fields.model)
    if fields.stream and fields.use_beam_search:
        raise plain_bad_request("Streaming is not currently supported with beam search")
    fault = _fault(prompts, fields, cfg)
    apply_request_fault(ctx, fault, body)
    prompt_tokens = [template.render_prompt(p) for p in prompts]
    budgets = [check_window(len(t), None, fields.max_tokens, cfg) for t in prompt_tokens]
    for budget in budgets:
        check_sampling(fields, budget)
    engine_error = None
    if fields.logprobs is not None and fields.logprobs > MAX_LOGPROBS:
        engine_error = bad_request(
            f"Requested sample logprobs of {fields.logprobs}, which is greater than max allowed: {MAX_LOGPROBS}",
            "logprobs",
            fields.logprobs,
        )
    stop = [fields.stop] if isinstance(fields.stop, str) else list(fields.stop or [])
    plans, echo = [], {}
    for p, (text, budget) in enumerate(zip(prompts, budgets, strict=True)):
        for j in range(fields.n):
            reply = Reply(continuation(faults.strip_phrases(text), j))
            plans.append(plan.build(reply, _Limits(fields, stop, budget), p * fields.n + j, False))
            if fields.echo:
                echo[p * fields.n + j] = text
    include_usage = bool(fields.stream and (fields.stream_options or {}).get("include_usage"))
    job = generation.Job(
        plans, [t for tokens in prompt_tokens for t in tokens], max(budgets), fault, engine_error, include_usage,
        per_request_metrics=cfg.per_request_metrics, beam=fields.use_beam_search,
    )
    generation.apply_cut_faults(job)
    request_id = f"cmpl-{request.headers.get('X-Request-Id') or fields.request_id or secrets.token_hex(8)}"
    created = int(time.time())
    total_prompt = sum(len(t) for t in prompt_tokens)
    if fields.stream:
        chunks = CompletionChunks(
            request_id=request_id, created=created, model=model, prompt_tokens=total_prompt,
            fingerprint=cfg.fingerprint, echo=echo, top_logprobs=fields.logprobs,
        )
        return await generation.stream(request, job, chunks, cfg, ctx.engine)
    try:
        await generation.complete(request, job, cfg, ctx.engine)
    except generation.Dropped:
        return web.Response()
    return text_completion(
        request_id=request_id, created=created, model=model, plans=plans, prompt_tokens=total_prompt,
        fingerprint=cfg.fingerprint, echo=echo, top_logprobs=fields.logprobs, metrics=job.metrics,
    )


def _prompts(prompt: Any) -> list[str]:
    """The prompt(s) as text (token-id prompts are decoded back to our token strings)."""
    if isinstance(prompt, str) and prompt:
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return [p for p in prompt if p] or _missing_prompt()
        if all(isinstance(p, int) for p in prompt):
            return [" ".join(str(t) for t in prompt)]
        return [" ".join(str(t) for t in p) for p in prompt if p] or _missing_prompt()
    return _missing_prompt()


def _missing_prompt() -> list[str]:
    raise bad_request("Either prompt or prompt_embeds must be provided and non-empty.", "prompt")


def _fault(prompts: list[str], fields: _CompletionFields, cfg: SimConfig) -> faults.Fault | None:
    found = faults.find_in_text(prompts[-1])
    if found:
        return found
    if fields.sim_fault:
        try:
            return faults.parse(fields.sim_fault)
        except ValueError as exc:
            raise plain_bad_request(f"sim_fault: {exc}") from None
    return faults.parse(cfg.fault) if cfg.fault else None


def continuation(prompt: str, variant: int = 0) -> str:
    """How the simulated model continues a prompt: `long N` and `echo TEXT` work here too,
    anything else is continued with a few sentences of prose."""
    long_match = re.search(r"\blong\s+(\d+)\b", prompt, re.I)
    if long_match:
        return longform.long_markdown(int(long_match.group(1)), seed=variant)
    echo = re.match(r"^\s*echo\b:?\s?(.*)$", prompt, re.I | re.S)
    if echo:
        return echo.group(1)
    seed = zlib.crc32(prompt.encode()) + variant
    return " " + longform.filler(40, random.Random(seed))
