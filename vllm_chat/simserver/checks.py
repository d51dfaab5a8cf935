"""Checks every generation endpoint shares: JSON bodies, typed fields, the model name,
the context window and the sampling ranges, each failing with vLLM's exact error."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.errors import (
    bad_request,
    plain_bad_request,
    validation_errors,
)

MAX_LOGPROBS = 20
_UNION_TAGS = ("str", "int", "float", "bool", "list[", "dict[", "function-", "literal[", "json-or-python[")


def check_json_body(body: Any) -> dict[str, Any]:
    """The body as an object, or vLLM's 400 for a JSON value that is not one."""
    if not isinstance(body, dict):
        raise validation_errors(
            [{
                "type": "model_attributes_type",
                "loc": (),
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": body,
            }]
        )
    return body


def typed_fields(model: type[BaseModel], body: dict[str, Any]) -> Any:
    """Validate a body against a pydantic model and report failures as vLLM does."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise validation_errors([_clean(err) for err in exc.errors(include_url=False)]) from None


def _clean(err: Any) -> dict[str, Any]:
    """Drop pydantic's union-member tags from a location (vLLM shows `body.stop`, not `body.stop.str`)."""
    loc = tuple(
        part for i, part in enumerate(err["loc"])
        if i == 0 or isinstance(part, int) or not str(part).startswith(_UNION_TAGS)
    )
    return {**err, "loc": loc}


def check_window(prompt_tokens: int, max_completion: int | None, max_tokens: int | None, cfg: SimConfig) -> int:
    """The completion budget: vLLM rejects prompts over the window and max_tokens over it,
    and silently clamps prompt + max_tokens to fit."""
    limit = cfg.max_model_len
    if prompt_tokens > limit:
        raise bad_request(
            f"This model's maximum context length is {limit} tokens. However, your prompt contains at least "
            f"{limit + 1} input tokens, which exceeds this limit even without any output tokens. "
            "Please reduce the length of the input prompt.",
            "input_tokens",
            limit + 1,
        )
    # max_completion_tokens wins over max_tokens, and the error names whichever was used.
    if max_completion is not None:
        requested, name = max_completion, "max_completion_tokens"
    else:
        requested, name = max_tokens, "max_tokens"
    if requested is not None and requested > limit:
        raise bad_request(
            f"{name}={requested} cannot be greater than max_model_len={limit}. Please request fewer output tokens.",
            name,
            requested,
        )
    room = limit - prompt_tokens
    return room if requested is None else min(requested, room)


def check_sampling(fields: Any, budget: int) -> None:
    """`SamplingParams._verify_args`: ranges of n, penalties, temperature, top_p/k, min_p, max_tokens."""
    if fields.n is not None and fields.n < 1:
        raise plain_bad_request(f"n must be at least 1, got {fields.n}.")
    for name in ("presence_penalty", "frequency_penalty"):
        value = getattr(fields, name, None)
        if value is not None and not -2.0 <= value <= 2.0:
            raise plain_bad_request(f"{name} must be in [-2, 2], got {float(value)}.")
    rep = getattr(fields, "repetition_penalty", None)
    if rep is not None and rep <= 0:
        raise plain_bad_request(f"repetition_penalty must be greater than zero, got {float(rep)}.")
    temp = fields.temperature
    if temp is not None and temp < 0:
        raise bad_request(f"temperature must be non-negative, got {float(temp)}.", "temperature", float(temp))
    if temp is not None and temp > 2:
        raise bad_request(f"temperature must be in [0, 2], got {float(temp)}.", "temperature", float(temp))
    top_p = fields.top_p
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise bad_request(f"top_p must be in (0, 1], got {float(top_p)}.", "top_p", float(top_p))
    top_k = getattr(fields, "top_k", None)
    if top_k is not None and top_k < -1:
        raise plain_bad_request(f"top_k must be 0 (disable), or at least 1, got {top_k}.")
    min_p = getattr(fields, "min_p", None)
    if min_p is not None and not 0.0 <= min_p <= 1.0:
        raise plain_bad_request(f"min_p must be in [0, 1], got {float(min_p)}.")
    if budget < 1:
        raise bad_request(f"max_tokens must be at least 1, got {budget}.", "max_tokens", budget)
    min_tokens = getattr(fields, "min_tokens", 0) or 0
    if min_tokens < 0:
        raise plain_bad_request(f"min_tokens must be greater than or equal to 0, got {min_tokens}.")
    if min_tokens > budget:
        raise plain_bad_request(f"min_tokens must be less than or equal to max_tokens={budget}, got {min_tokens}.")
