"""The chat template: messages (and tools) rendered to prompt tokens, ChatML style.

Both `/tokenize` and `/v1/chat/completions` count prompts with `render_request`,
so a client's context meter built on `/tokenize` agrees with the `usage` it
gets back, as it does with a real vLLM for text-only prompts. A request's own
`chat_template` (on a server that trusts it) is rendered with Jinja instead
(`chat_template.py`); a base model has no template at all.
"""

from __future__ import annotations

import json
from typing import Any

from vllm_chat.simserver import chat_template, tokenizer
from vllm_chat.simserver.chat_template import custom_template
from vllm_chat.simserver.errors import plain_bad_request
from vllm_chat.simserver.media import PLACEHOLDER_TOKENS, MediaItem, message_text

__all__ = ["chat_kwargs", "custom_template", "render", "render_prompt", "render_request"]

_TOOLS_HEADER = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
_TOOLS_FOOTER = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    'within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, '
    '"arguments": <args-json-object>}\n</tool_call>'
)


def render(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    media: list[list[MediaItem]] | None = None,
    add_generation_prompt: bool = True,
    enable_thinking: bool | None = None,
    continue_final_message: bool = False,
) -> list[str]:
    """Prompt token strings of a conversation, template tokens included. With
    `continue_final_message` the last message stays open (no `<|im_end|>`)."""
    parts: list[str] = []
    system_extra = ""
    if tools:
        system_extra = _TOOLS_HEADER + "\n".join(json.dumps(t, ensure_ascii=False) for t in tools) + _TOOLS_FOOTER
    first_is_system = bool(messages) and messages[0].get("role") == "system"
    if system_extra and not first_is_system:
        parts.append(f"<|im_start|>system\n{system_extra}<|im_end|>\n")
    tokens: list[str] = []
    for i, message in enumerate(messages):
        role = str(message.get("role", "user"))
        text = message_text(message.get("content"))
        if i == 0 and first_is_system and system_extra:
            text = f"{text}\n\n{system_extra}"
        if role == "tool":
            parts.append(f"<|im_start|>user\n<tool_response>\n{text}\n</tool_response><|im_end|>\n")
            continue
        body = text
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            function = function if isinstance(function, dict) else {}
            body += (
                f'\n<tool_call>\n{{"name": {json.dumps(function.get("name"))}, '
                f'"arguments": {function.get("arguments") or "{}"}}}\n</tool_call>'
            )
        parts.append(f"<|im_start|>{role}\n{body}")
        items = media[i] if media and i < len(media) else []
        for item in items:
            pad = f"<|{item.kind}_pad|>"
            parts.append(pad * PLACEHOLDER_TOKENS[item.kind])
        if not (continue_final_message and i == len(messages) - 1):
            parts.append("<|im_end|>\n")
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
        if enable_thinking is False:
            parts.append("<think>\n\n</think>\n\n")
    for part in parts:
        tokens.extend(tokenizer.encode_with_specials(part))
    return tokens


def render_prompt(prompt: str) -> list[str]:
    """Token strings of a plain completion prompt (no template, no special tokens added)."""
    return tokenizer.tokenize(prompt)


def chat_kwargs(requested: dict[str, Any] | None, reasoning_effort: str | None) -> dict[str, Any]:
    """The template variables of a chat request: its `chat_template_kwargs`, plus
    `reasoning_effort` and (unless given) `enable_thinking` derived from it, as vLLM passes them."""
    kwargs = dict(requested or {})
    if reasoning_effort is not None:
        kwargs.setdefault("reasoning_effort", reasoning_effort)
        kwargs.setdefault("enable_thinking", reasoning_effort != "none")
    return kwargs


def render_request(
    messages: list[dict[str, Any]],
    tools: list[Any] | None,
    media: list[list[MediaItem]],
    *,
    add_generation_prompt: bool,
    continue_final_message: bool,
    custom: str | None,
    kwargs: dict[str, Any],
    enable_thinking: bool | None,
) -> list[str]:
    """The prompt tokens of a chat request (or `/tokenize` with messages): the request's own
    template when it brought one, else the model's."""
    if continue_final_message and add_generation_prompt:
        raise plain_bad_request(chat_template.CONTINUE_WITH_GENERATION_PROMPT)
    if custom is not None:
        text = chat_template.render(custom, messages, tools, add_generation_prompt, continue_final_message, kwargs)
        return tokenizer.encode_with_specials(text)
    return render(messages, tools, media, add_generation_prompt, enable_thinking, continue_final_message)
