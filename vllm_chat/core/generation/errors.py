"""vLLM's refusals about these controls, as errors a user can act on.

`client.explain` asks `explain_refusal` first for every 4xx message; the texts
are vLLM 0.32's (captures round2/11, main/6e and the reference's catalogue):

- a model without a chat template: "As of transformers v4.44, default chat
  template is no longer allowed…" (a base model: completion mode works);
- a request `chat_template` on a server without
  `--trust-request-chat-template`;
- a `reasoning_effort` the server does not accept (its pydantic message
  names the values it does);
- `thinking_token_budget` on a server without a reasoning parser;
- a constraint and a named `tool_choice` (normally caught before sending).
"""

from __future__ import annotations

import re

from vllm_chat.core.errors import ChatError

NO_TEMPLATE = "default chat template is no longer allowed"
UNTRUSTED_TEMPLATE = "--trust-request-chat-template is not set"
_EFFORT = re.compile(r"reasoning_effort.*?Input should be (.+?)\"?, 'input'", re.DOTALL)
_QUOTED = re.compile(r"'([^']+)'")


def accepted_efforts(message: str) -> list[str]:
    """The `reasoning_effort` values a server's validation error lists ([] if it lists none)."""
    found = _EFFORT.search(message)
    return _QUOTED.findall(found.group(1)) if found else []


def explain_refusal(message: str, *, status: int, model: str | None) -> ChatError | None:
    """The error for a 4xx `message` about these controls, or None when it is about something else."""
    name = model or "This model"
    details: dict[str, object] = {"server_message": message}
    if model:
        details["model"] = model
    if NO_TEMPLATE in message:
        return ChatError(
            "no_chat_template",
            f"{name} has no chat template, so vLLM can't turn a conversation into its prompt "
            "(a base model, made to continue text).",
            "Use it in completion mode ({completion-mode}): the conversation becomes a document the "
            f"model continues. Or give it a chat template: chat_template in a [models.\"{model or 'NAME'}\"] "
            "table of the config (the server then needs --trust-request-chat-template).",
            status=status, details=details)
    if UNTRUSTED_TEMPLATE in message:
        return ChatError(
            "untrusted_template",
            f"The server refuses the chat template the config gives {name}: it was started without "
            "--trust-request-chat-template.",
            "Restart vLLM with --trust-request-chat-template, or remove chat_template from the "
            "model's [models] table in the config.",
            status=status, details=details)
    efforts = accepted_efforts(message)
    if efforts:
        return ChatError(
            "bad_request",
            f"The server does not accept this reasoning_effort; it takes {', '.join(efforts)}.",
            "Pick one of those in the settings, or clear reasoning_effort.",
            status=status, details={**details, "accepted": efforts})
    if "thinking_token_budget is set but reasoning_config is not configured" in message:
        return ChatError(
            "bad_request",
            "The server can't apply thinking_token_budget: it was started without a reasoning parser.",
            "Clear thinking_token_budget in the settings, or restart vLLM with --reasoning-parser NAME.",
            status=status, details=details)
    if "either use constraints for structured outputs or tools" in message:
        return ChatError(
            "conflict",
            "vLLM refuses a structured-output constraint together with a named tool_choice.",
            "Clear the constraint, or ask for the tool without one.",
            status=status, details=details)
    return None
