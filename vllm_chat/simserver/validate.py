"""Request validation, in vLLM's order and with vLLM's messages.

`parse_chat` turns a JSON body into a `ChatRequest`, or raises the `SimError`
a real vLLM 0.32 answers with: the request model's own checks on the raw body
(in vLLM's order: generation prompt, tools and tool choice, structured-output
constraints, logprobs, stream options, response format), pydantic-style 400s
for wrong types, the model name (404), the chat template (missing, untrusted,
empty conversation, media), the context window, and the sampling ranges.
Errors vLLM only finds inside the engine (logprobs, thinking budget, a
structured-output backend that cannot compile the constraint) are kept in
`ChatRequest.engine_error`: they become an error event when streaming.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from vllm_chat.simserver import constraints, faults, template
from vllm_chat.simserver.checks import (
    MAX_LOGPROBS,
    check_json_body,
    check_sampling,
    check_window,
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
from vllm_chat.simserver.models import ModelRegistry
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


def parse_chat(body: Any, cfg: SimConfig, headers: Any, models: ModelRegistry | None = None) -> ChatRequest:
    """Validate a chat-completions body; raises the `SimError` vLLM would answer with."""
    models = models or ModelRegistry(cfg)
    body = check_json_body(body)
    _model_validators(body)
    _check_thinking_budget(body)
    fields: ChatFields = typed_fields(ChatFields, body)
    constraints.response_format_errors(body.get("response_format"))
    messages = _check_messages(fields.messages)
    constraint = constraints.from_fields(fields.structured_outputs, fields.response_format)
    named = _named_tool(fields)
    fault = _choose_fault(messages, fields, cfg)
    model = models.resolve(fields.model)
    tool_mode = _tool_mode(fields, named, cfg)
    custom = template.custom_template(fields.chat_template, models.has_chat_template(model),
                                      cfg.trust_request_chat_template)
    if not messages:
        raise plain_bad_request("Cannot apply chat template to an empty conversation. Provide at least one message.")
    media = inspect_messages(messages, model, models.is_multimodal(model), cfg.limit_images)
    thinking, explicit_off = _thinking(fields, messages, cfg)
    kwargs = template.chat_kwargs(fields.chat_template_kwargs, fields.reasoning_effort)
    prompt = template.render_request(
        messages, fields.tools, media,
        add_generation_prompt=fields.add_generation_prompt,
        continue_final_message=fields.continue_final_message,
        custom=custom,
        kwargs=kwargs,
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
        engine_error=_engine_error(fields, cfg) or constraints.engine_error(constraint),
        fault=fault,
        prompt=prompt,
        constraint=constraint,
        config=cfg,
    )


def _model_validators(body: dict[str, Any]) -> None:
    """The request model's `mode="before"` validators, which pydantic runs on the raw body,
    last-defined first: generation prompt, tool usage, constraint count, logprobs, stream
    options, response format."""
    if body.get("continue_final_message") and body.get("add_generation_prompt"):
        raise plain_bad_request("Cannot set both `continue_final_message` and `add_generation_prompt` to True.")
    _check_tool_usage(body)
    constraints.check_request(body)
    _check_logprobs(body)
    if body.get("stream_options") and not body.get("stream"):
        raise bad_request("Stream options can only be defined when `stream=True`.", "stream_options")
    constraints.check_response_format(body)


def _check_thinking_budget(body: dict[str, Any]) -> None:
    """`thinking_token_budget`'s own validator: an integer >= 0, or -1 for unlimited (= unset)."""
    value = body.get("thinking_token_budget")
    if value is None:
        return
    if isinstance(value, (bool, float)) or not isinstance(value, int) or value < -1:
        raise bad_request(
            "`thinking_token_budget` must be a non-negative integer or -1 for unlimited.",
            "thinking_token_budget", value,
        )
    if value == -1:
        body.pop("thinking_token_budget")


def _check_logprobs(body: dict[str, Any]) -> None:
    for name in ("prompt_logprobs", "top_logprobs"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise bad_request(f"`{name}` must be an integer.", name, value)
    prompt = body.get("prompt_logprobs")
    if prompt is not None:
        if body.get("stream") and (prompt > 0 or prompt == -1):
            raise bad_request("`prompt_logprobs` are not available when `stream=True`.", "prompt_logprobs")
        if prompt < 0 and prompt != -1:
            raise bad_request("`prompt_logprobs` must be a positive value or -1.", "prompt_logprobs", prompt)
    top = body.get("top_logprobs")
    if top is not None:
        if top < 0 and top != -1:
            raise bad_request("`top_logprobs` must be a positive value or -1.", "top_logprobs", top)
        if (top == -1 or top > 0) and not body.get("logprobs"):
            raise bad_request("when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs")


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


def _check_tool_usage(body: dict[str, Any]) -> None:
    """vLLM's `check_tool_usage` on the raw body."""
    tools = body.get("tools")
    if tools == []:
        raise bad_request(
            "`tools` must not be an empty array. Either provide at least one tool or omit the field entirely.", "tools"
        )
    choice = body.get("tool_choice", "auto" if tools else None)
    if choice is None or choice == "none":
        return
    if tools is None:
        raise bad_request("When using `tool_choice`, `tools` must be set.", "tool_choice")
    if not isinstance(choice, dict):
        if choice not in ("auto", "required"):
            raise bad_request(
                f"Invalid value for `tool_choice`: {choice}! "
                'Only named tools, "none", "auto" or "required" are supported.',
                "tool_choice",
            )
        return
    usage = 'Correct usage: `{"type": "function", "function": {"name": "my_function"}}`'
    function = choice.get("function")
    if not isinstance(function, dict):
        raise bad_request(f"Invalid value for `function`: `{function}` in `tool_choice`! {usage}",
                          "tool_choice.function")
    if "name" not in function:
        raise bad_request(f"Expected field `name` in `function` in `tool_choice`! {usage}",
                          "tool_choice.function.name")
    offered = tools if isinstance(tools, list) else []
    if not any(function_of(t).get("name") == function["name"] for t in offered if isinstance(t, dict)):
        raise bad_request(
            "The tool specified in `tool_choice` does not match any of the specified `tools`", "tool_choice"
        )


def _named_tool(fields: ChatFields) -> str | None:
    """The forced tool's name for a named `tool_choice` (tool entries are checked here, after
    the field types, as pydantic checks each tool)."""
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
    choice = fields.tool_choice
    return choice["function"]["name"] if isinstance(choice, dict) else None


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
    # `enable_thinking` (Qwen3), or `thinking` (DeepSeek-V3.1, Granite) in other templates.
    enable = kwargs.get("enable_thinking", kwargs.get("thinking"))
    from_effort = enable is None and fields.reasoning_effort is not None
    if from_effort:
        enable = fields.reasoning_effort != "none"
    if enable is False:
        return False, True
    if from_effort and not cfg.reasoning:
        # The template hears the effort, but without a reasoning parser nothing is split off.
        enable = None
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
