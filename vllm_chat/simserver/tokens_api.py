"""`POST /tokenize` and `POST /detokenize`, with vLLM's request shapes and errors.

The chat form renders messages (tools, media, `chat_template_kwargs`, a request's own
`chat_template`, `add_generation_prompt` / `continue_final_message`) through the same
template as chat completions, so `count` equals the `usage.prompt_tokens` a chat request
with the same messages and kwargs reports. Like vLLM it does not apply `reasoning_effort`
(pass `chat_template_kwargs` yourself), checks no context window, and refuses messages for a
model without a chat template. `token_strs` are shown as a byte-level BPE vocabulary spells
them (`Ġ` for a space, `Ċ` for a newline), as vLLM returns them for Qwen and Llama 3.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from vllm_chat.simserver import template, tokenizer
from vllm_chat.simserver.checks import check_json_body, typed_fields
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.errors import plain_bad_request, validation_errors
from vllm_chat.simserver.media import inspect_messages
from vllm_chat.simserver.models import ModelRegistry


class _TokenizeChat(BaseModel):
    """vLLM's chat form of a `/tokenize` request (same fields, types and defaults)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[dict[str, Any]]
    add_generation_prompt: bool = True
    return_token_strs: bool | None = False
    continue_final_message: bool = False
    add_special_tokens: bool = False
    chat_template: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    media_io_kwargs: dict[str, dict[str, Any]] | None = None
    mm_processor_kwargs: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None


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
    tokens: list[Annotated[int, Field(ge=0, le=2**63 - 1)]]


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-printable-character table, which byte-level BPE vocabularies use."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


_BYTE_CHARS = _bytes_to_unicode()


def vocab_string(token: str) -> str:
    """How a byte-level BPE vocabulary spells a token (special tokens stay as they are)."""
    if token in tokenizer.SPECIAL_IDS:
        return token
    return "".join(_BYTE_CHARS[b] for b in token.encode())


def tokenize(body: Any, cfg: SimConfig, models: ModelRegistry | None = None) -> dict[str, Any]:
    """The `/tokenize` answer for either request form."""
    models = models or ModelRegistry(cfg)
    body = check_json_body(body)
    if "messages" in body:
        if body.get("continue_final_message") and body.get("add_generation_prompt"):
            raise plain_bad_request("Cannot set both `continue_final_message` and `add_generation_prompt` to True.")
        chat: _TokenizeChat = typed_fields(_TokenizeChat, body)
        model = models.resolve(chat.model)
        custom = template.custom_template(chat.chat_template, models.has_chat_template(model),
                                          cfg.trust_request_chat_template)
        if not chat.messages:
            raise plain_bad_request(
                "Cannot apply chat template to an empty conversation. Provide at least one message."
            )
        media = inspect_messages(chat.messages, model, models.is_multimodal(model), cfg.limit_images)
        kwargs = template.chat_kwargs(chat.chat_template_kwargs, None)
        thinking = kwargs.get("enable_thinking", kwargs.get("thinking"))
        tokens = template.render_request(
            chat.messages, chat.tools, media,
            add_generation_prompt=chat.add_generation_prompt,
            continue_final_message=chat.continue_final_message,
            custom=custom,
            kwargs=kwargs,
            enable_thinking=False if thinking is False else None,
        )
        want_strs = chat.return_token_strs
    elif "prompt" in body:
        prompt: _TokenizePrompt = typed_fields(_TokenizePrompt, body)
        models.resolve(prompt.model)
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
        "token_strs": [vocab_string(t) for t in tokens] if want_strs else None,
    }


def detokenize(body: Any, cfg: SimConfig, models: ModelRegistry | None = None) -> dict[str, Any]:
    """The `/detokenize` answer: `{"prompt": text}` (ids this server never produced decode to nothing)."""
    request: _Detokenize = typed_fields(_Detokenize, check_json_body(body))
    (models or ModelRegistry(cfg)).resolve(request.model)
    return {"prompt": tokenizer.decode(request.tokens)}
