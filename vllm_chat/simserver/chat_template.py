"""Which chat template renders a request, and a request's own Jinja template rendered as vLLM does.

A model either has the simulator's built-in ChatML-style template (`template.py`) or none
(a base model). A request may bring its own `chat_template`, which vLLM only accepts with
`--trust-request-chat-template`; it is rendered in a sandboxed Jinja environment with the
variables transformers passes (`messages`, `tools`, `add_generation_prompt`, `bos_token`,
`eos_token`, `raise_exception`, and every `chat_template_kwargs` entry), so a template error
comes back with Jinja's own message, as from vLLM.
"""

from __future__ import annotations

from typing import Any

from vllm_chat.simserver.errors import SimError, plain_bad_request

NO_TEMPLATE = (
    "As of transformers v4.44, default chat template is no longer allowed, so you must provide "
    "a chat template if the tokenizer does not define one."
)
UNTRUSTED_TEMPLATE = (
    "Chat template is passed with request, but --trust-request-chat-template is not set. "
    "Refused request with untrusted chat template."
)
CONTINUE_WITH_GENERATION_PROMPT = (
    "continue_final_message and add_generation_prompt are not compatible. Use continue_final_message "
    "when you want the model to continue the final message, and add_generation_prompt when you want "
    "to add a header that will prompt it to start a new assistant message instead."
)
BOS_TOKEN = ""
EOS_TOKEN = "<|im_end|>"


def custom_template(requested: str | None, has_template: bool, trusted: bool) -> str | None:
    """The request's own template when it may be used, None for the model's own; raises vLLM's
    400 for an untrusted request template and for a model without any template."""
    if requested is not None and not trusted:
        raise plain_bad_request(UNTRUSTED_TEMPLATE)
    if requested is None and not has_template:
        raise plain_bad_request(NO_TEMPLATE)
    return requested


def render(
    source: str,
    messages: list[dict[str, Any]],
    tools: list[Any] | None,
    add_generation_prompt: bool,
    continue_final_message: bool,
    kwargs: dict[str, Any],
) -> str:
    """A request's Jinja chat template applied to the conversation; template errors are 400s."""
    from jinja2 import TemplateError
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        """What templates call to refuse a conversation (transformers provides it too)."""
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["raise_exception"] = raise_exception
    variables = {
        "bos_token": BOS_TOKEN,
        "eos_token": EOS_TOKEN,
        **kwargs,
        "messages": messages,
        "tools": tools,
        "add_generation_prompt": add_generation_prompt,
    }
    try:
        text = env.from_string(source).render(**variables)
    except TemplateError as exc:
        raise plain_bad_request(str(exc)) from None
    if continue_final_message:
        text = _open_final_message(text, messages)
    return text


def _open_final_message(text: str, messages: list[dict[str, Any]]) -> str:
    """transformers' `continue_final_message`: cut the rendered prompt right after the final
    message's content, so the model continues it."""
    final = messages[-1].get("content") if messages else None
    final = final.strip() if isinstance(final, str) else ""
    at = text.rfind(final) if final else -1
    if at < 0:
        raise SimError(
            400,
            "continue_final_message is set but the final message does not appear in the chat after "
            "applying the chat template! This can happen if the chat template deletes portions of the "
            "final message. Please verify the chat template and final message in your chat to ensure "
            "they are compatible.",
            "BadRequestError",
        )
    return text[: at + len(final)]
