"""`POST /tokenize` and `POST /detokenize`, with vLLM's request shapes and errors.

The chat form renders messages (and tools) through the same template as chat
completions, so `count` equals the `usage.prompt_tokens` a chat request with
the same messages reports.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from vllm_chat.simserver import template, tokenizer
from vllm_chat.simserver.checks import check_json_body, resolve_model, typed_fields
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.errors import validation_errors
from vllm_chat.simserver.media import inspect_messages


class _TokenizeChat(BaseModel):
    """vLLM's chat form of a `/tokenize` request (same fields, types and defaults)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[dict[str, Any]]
    add_generation_prompt: bool = True
    continue_final_message: bool = False
    add_special_tokens: bool = False
    chat_template_kwargs: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    return_token_strs: bool | None = False


class _TokenizePrompt(BaseModel):
    """vLLM's prompt form of a `/tokenize` request."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    prompt: str
    add_special_tokens: bool = True
    return_token_strs: bool | None = False


class _Detokenize(BaseModel):
    """vLLM's `/detokenize` request."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    tokens: list[Annotated[int, Field(ge=0)]]


def tokenize(body: Any, cfg: SimConfig) -> dict[str, Any]:
    """The `/tokenize` answer for either request form."""
    body = check_json_body(body)
    if "messages" in body:
        chat: _TokenizeChat = typed_fields(_TokenizeChat, body)
        model = resolve_model(chat.model, cfg)
        media = inspect_messages(chat.messages, model, cfg.is_multimodal(model), cfg.limit_images)
        thinking = (chat.chat_template_kwargs or {}).get("enable_thinking")
        tokens = template.render(
            chat.messages, chat.tools, media, chat.add_generation_prompt, False if thinking is False else None
        )
        want_strs = chat.return_token_strs
    elif "prompt" in body:
        prompt: _TokenizePrompt = typed_fields(_TokenizePrompt, body)
        resolve_model(prompt.model, cfg)
        tokens = template.render_prompt(prompt.prompt)
        want_strs = prompt.return_token_strs
    else:
        missing = [
            {"type": "missing", "loc": (field,), "msg": "Field required", "input": body}
            for field in ("prompt", "messages")
        ]
        raise validation_errors(missing)
    return {
        "count": len(tokens),
        "max_model_len": cfg.max_model_len,
        "tokens": [tokenizer.token_id(t) for t in tokens],
        "token_strs": tokens if want_strs else None,
    }


def detokenize(body: Any, cfg: SimConfig) -> dict[str, Any]:
    """The `/detokenize` answer: `{"prompt": text}`."""
    request: _Detokenize = typed_fields(_Detokenize, check_json_body(body))
    resolve_model(request.model, cfg)
    return {"prompt": tokenizer.decode(request.tokens)}
