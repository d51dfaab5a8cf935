"""Request validation, in vLLM's order and with vLLM's messages.

`parse_chat` turns a JSON body into a `ChatRequest`, or raises the `SimError`
a real vLLM 0.32 answers with: pydantic-style 400s for wrong types, then the
request model's own checks (stream options, tools, tool choice), the model
name (404), the chat template (empty conversation, media), the context window,
and the sampling ranges. Errors vLLM only finds inside the engine are kept in
`ChatRequest.engine_error`: they become an error event when streaming.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from vllm_chat.simserver import faults, template
from vllm_chat.simserver.checks import (
    MAX_LOGPROBS,
    check_json_body,
    check_sampling,
    check_window,
    resolve_model,
    typed_fields,
)
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.errors import (
    SimError,
    bad_request,
    plain_bad_request,
    validation_errors,
)
from vllm_chat.simserver.media import inspect_messages, message_text
from vllm_chat.simserver.request import ChatFields, ChatRequest
from vllm_chat.simserver.toolcalls import function_of

_SOFT_SWITCH_RE = re.compile(r"(?<!\S)/(no_)?think\b")
# What vLLM reports for a message without a role: pydantic tries every member of
# its message union and lists the first ten failures.
_ROLE_UNION_ERRORS = (
    ("missing", ("ChatCompletionDeveloperMessageParam", "role")),
    ("missing", ("ChatCompletionSystemMessageParam", "role")),
    ("missing", ("ChatCompletionUserMessageParam", "role")),
    ("missing", ("ChatCompletionAssistantMessageParam", "role")),
    ("missing", ("ChatCompletionToolMessageParam", "role")),
    ("missing", ("ChatCompletionToolMessageParam", "tool_call_id")),
    ("missing", ("ChatCompletionFunctionMessageParam", "name")),
    ("missing", ("ChatCompletionFunctionMessageParam", "role")),
    ("missing", ("CustomChatCompletionMessageParam", "role")),
    ("missing", ("Message", "author")),
    ("missing", ("Message", "content")),
)


def parse_chat(body: Any, cfg: SimConfig, headers: Any) -> ChatRequest:
    """Validate a chat-completions body; raises the `SimError` vLLM would answer with."""
    body = check_json_body(body)
    fields: ChatFields = typed_fields(ChatFields, body)
    messages = _check_messages(fields.messages)
    _check_request_rules(fields)
    named = _check_tool_choice(fields)
    fault = _choose_fault(messages, fields, cfg)
    model = resolve_model(fields.model, cfg)
    tool_mode = _tool_mode(fields, named, cfg)
    if not messages:
        raise plain_bad_request("Cannot apply chat template to an empty conversation. Provide at least one message.")
    media = inspect_messages(messages, model, cfg.is_multimodal(model), cfg.limit_images)
    thinking, explicit_off = _thinking(fields, messages, cfg)
    prompt = template.render(
        messages,
        fields.tools,
        media,
        add_generation_prompt=fields.add_generation_prompt,
        enable_thinking=False if explicit_off else None,
    )
    budget = check_window(len(prompt), fields.max_completion_tokens, fields.max_tokens, cfg)
    check_sampling(fields, budget)
    request_id = headers.get("X-Request-Id") or fields.request_id or secrets.token_hex(8)
    return ChatRequest(
        body=body,
        fields=fields,
        model=model,
        messages=messages,
        media=media,
        prompt_tokens=len(prompt),
        budget=budget,
        tool_mode=tool_mode,
        named_tool=named,
        thinking=thinking,
        reasoning_parser=cfg.reasoning or thinking,
        request_id=f"chatcmpl-{request_id}",
        engine_error=_engine_error(fields, cfg),
        fault=fault,
    )


def _check_messages(messages: list[Any]) -> list[dict[str, Any]]:
    errors = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            errors.append(_not_an_object(("messages", i), message))
        elif "role" not in message:
            errors.extend(
                {"type": kind, "loc": ("messages", i, *where), "msg": "Field required", "input": message}
                for kind, where in _ROLE_UNION_ERRORS
            )
    if errors:
        raise validation_errors(errors)
    return messages


def _not_an_object(loc: tuple[Any, ...], value: Any) -> dict[str, Any]:
    return {"type": "dict_type", "loc": loc, "msg": "Input should be a valid dictionary", "input": value}


def _missing(loc: tuple[Any, ...], value: Any) -> dict[str, Any]:
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": value}


def _check_request_rules(fields: ChatFields) -> None:
    """The request model's own validators (`VLLMValidationError`s with a parameter)."""
    if fields.stream_options is not None and not fields.stream:
        raise bad_request("Stream options can only be defined when `stream=True`.", "stream_options")
    if fields.tools is not None and len(fields.tools) == 0:
        raise bad_request(
            "`tools` must not be an empty array. Either provide at least one tool or omit the field entirely.", "tools"
        )
    for i, tool in enumerate(fields.tools or []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict):
            problem = _not_an_object(("tools", i), tool)
        elif not isinstance(function, dict):
            problem = _missing(("tools", i, "function"), tool)
        elif not isinstance(function.get("name"), str):
            problem = _missing(("tools", i, "function", "name"), function)
        else:
            continue
        raise validation_errors([problem])
    if fields.top_logprobs is not None and not fields.logprobs:
        raise bad_request("when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs")
    if fields.continue_final_message and fields.add_generation_prompt:
        raise plain_bad_request("Cannot set both `continue_final_message` and `add_generation_prompt` to True.")


def _check_tool_choice(fields: ChatFields) -> str | None:
    """vLLM's `check_tool_usage`; returns the forced tool's name for a named choice."""
    choice = fields.tool_choice
    if choice is None or choice == "none":
        return None
    if fields.tools is None:
        raise bad_request("When using `tool_choice`, `tools` must be set.", "tool_choice")
    if isinstance(choice, str):
        if choice not in ("auto", "required"):
            raise bad_request(
                f"Invalid value for `tool_choice`: {choice}! "
                'Only named tools, "none", "auto" or "required" are supported.',
                "tool_choice",
            )
        return None
    usage = 'Correct usage: `{"type": "function", "function": {"name": "my_function"}}`'
    function = choice.get("function")
    if not isinstance(function, dict):
        raise bad_request(f"Invalid value for `function`: `{function}` in `tool_choice`! {usage}", "tool_choice")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request(f"Expected field `name` in `function` in `tool_choice`! {usage}", "tool_choice")
    if not any(function_of(t).get("name") == name for t in fields.tools):
        raise bad_request(
            "The tool specified in `tool_choice` does not match any of the specified `tools`", "tool_choice"
        )
    return name


def _tool_mode(fields: ChatFields, named: str | None, cfg: SimConfig) -> str:
    """`none`, `auto`, `required` or `named`, refused as vLLM does without a tool parser."""
    choice = fields.tool_choice
    if named:
        mode = "named"
    elif choice == "required":
        mode = "required"
    elif choice == "none" or not fields.tools:
        mode = "none"
    else:
        mode = "auto"
    if not cfg.auto_tool_choice:
        if mode == "auto":
            raise plain_bad_request(
                '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
            )
        if mode == "required":
            raise plain_bad_request('tool_choice="required" requires --tool-call-parser to be set')
        if mode == "named":
            raise plain_bad_request(f'tool_choice=function "{named}" requires --tool-call-parser to be set')
    return mode


def _choose_fault(messages: list[dict[str, Any]], fields: ChatFields, cfg: SimConfig) -> faults.Fault | None:
    for message in reversed(messages):
        if message.get("role") == "user":
            found = faults.find_in_text(message_text(message.get("content")))
            if found:
                return found
            break
    if fields.sim_fault:
        try:
            return faults.parse(fields.sim_fault)
        except ValueError as exc:
            raise plain_bad_request(f"sim_fault: {exc}") from None
    return faults.parse(cfg.fault) if cfg.fault else None


def _thinking(fields: ChatFields, messages: list[dict[str, Any]], cfg: SimConfig) -> tuple[bool, bool]:
    """Whether the reply reasons, and whether the request switched thinking off explicitly."""
    kwargs = fields.chat_template_kwargs or {}
    enable = kwargs.get("enable_thinking")
    if enable is None and fields.reasoning_effort is not None:
        enable = fields.reasoning_effort != "none"
    if enable is False:
        return False, True
    last_user = next((message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    # Qwen3's soft switches: the last `/think` or `/no_think` in the user's message wins.
    switches = _SOFT_SWITCH_RE.findall(last_user)
    if switches:
        return switches[-1] != "no_", False
    return bool(enable) or cfg.reasoning, False


def strip_switches(text: str) -> str:
    """A message without its `/think` and `/no_think` switches."""
    return _SOFT_SWITCH_RE.sub("", text).strip()


def _engine_error(fields: ChatFields, cfg: SimConfig) -> SimError | None:
    if fields.logprobs and fields.top_logprobs is not None and fields.top_logprobs > MAX_LOGPROBS:
        return bad_request(
            f"Requested sample logprobs of {fields.top_logprobs}, which is greater than max allowed: {MAX_LOGPROBS}",
            "logprobs",
            fields.top_logprobs,
        )
    if fields.thinking_token_budget is not None and not cfg.reasoning:
        return plain_bad_request(
            "thinking_token_budget is set but reasoning_config is not configured. "
            "Please set --reasoning-parser and/or --reasoning-config to use thinking_token_budget."
        )
    return None
