"""Completion mode: a conversation as one document that a base model continues.

A model without a chat template can't be chatted with (vLLM answers 400
"default chat template is no longer allowed"), but `/v1/completions`
continues any text. In completion mode the conversation is that text: the
system prompt (if any) as its opening, then every message in order, what the
user wrote and what the model wrote, each continuing the last. A piece the
user adds after the model's text starts on a new line, unless the text
already ends in blank space or the new piece starts with some (so " and
then" continues the model's sentence, and "Q: next?" starts a line of its
own). Nothing else is added: what the view shows is what is sent.

`completion_request` builds the request: the document as `prompt`, the same
sampling options as chat (vLLM's extras in the body), the constraint if one is
set, and `max_tokens` = the model's context window when none is set, because
`/v1/completions` otherwise stops after 16 tokens (vLLM 0.32 clamps the
budget to what the window leaves, as chat does by default).
"""

from __future__ import annotations

from typing import Any

from vllm_chat.core.conversation import Conversation

_CHAT_ONLY = ("chat_template_kwargs", "continue_final_message", "add_generation_prompt", "chat_template",
              "reasoning_effort", "thinking_token_budget", "include_reasoning")
"""Body fields only chat requests have; a completion request leaves them out."""


def _joined(document: list[str], piece: str, *, new_line: bool) -> None:
    if document and piece and new_line:
        last = document[-1]
        if last and not last[-1].isspace() and not piece[0].isspace():
            document.append("\n")
    document.append(piece)


def document(conv: Conversation) -> str:
    """The text the model continues (see the module docstring)."""
    parts: list[str] = []
    if conv.system_prompt:
        parts.append(conv.system_prompt)
    previous = "system" if conv.system_prompt else None
    for message in conv.messages:
        if message.role not in ("user", "assistant") or not message.content:
            continue
        # The user's pieces start a line of their own; the model's continue where the text stops.
        _joined(parts, message.content, new_line=message.role == "user" and previous is not None)
        previous = message.role
    return "".join(parts)


def completion_request(conv: Conversation, chat_request: dict[str, Any], *,
                       context_window: int | None) -> dict[str, Any]:
    """The `completions.create` keyword arguments for `conv`, from the chat request the engine
    built (its sampling options and constraint are kept; messages, tools and chat-only
    fields are dropped)."""
    request: dict[str, Any] = {"model": conv.model, "prompt": document(conv),
                               "stream_options": {"include_usage": True}}
    skipped = {"model", "messages", "tools", "tool_choice", "stream_options", "extra_body", *_CHAT_ONLY}
    request.update({k: v for k, v in chat_request.items() if k not in skipped})
    extra = {k: v for k, v in (chat_request.get("extra_body") or {}).items() if k not in _CHAT_ONLY}
    # The SDK's `completions.create` has no `response_format` argument: it goes in the body.
    if "response_format" in request:
        extra["response_format"] = request.pop("response_format")
    if extra:
        request["extra_body"] = extra
    if request.get("max_tokens") is None and context_window:
        request["max_tokens"] = context_window
    return request


def is_completion(request: dict[str, Any]) -> bool:
    """Whether a request (SDK keyword arguments) is for `/v1/completions`."""
    return "prompt" in request and "messages" not in request
