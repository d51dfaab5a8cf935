"""Requests vLLM would refuse, or quietly get wrong, found before they are sent.

`problem(body)` looks at a request body as it would go on the wire (the SDK's
`extra_body` merged in) and returns a `ChatError` that says what clashes and
how to fix it, or None. Checked against vLLM 0.32:

- a constraint with a named `tool_choice`: 400 "You can only either use
  constraints for structured outputs or tools, not both." (capture round2/06);
- a constraint with `tool_choice: required`: 200, but vLLM constrains the
  reply to a tool call, and the user's constraint is silently replaced;
- `continue_final_message` with `add_generation_prompt` (which defaults to
  true): 400 "Cannot set both `continue_final_message` and
  `add_generation_prompt` to True.";
- continuing a constrained reply: vLLM starts the constraint again for the new
  text, so half a JSON document followed by a whole new one never matches.
"""

from __future__ import annotations

from typing import Any

from vllm_chat.core.errors import ChatError

RESERVED_TEMPLATE_KWARGS = ("add_generation_prompt", "continue_final_message")
"""`chat_template_kwargs` keys the app sets itself (top-level request fields)."""


def wire_body(request: dict[str, Any]) -> dict[str, Any]:
    """`request` (SDK keyword arguments) as the JSON body it becomes: `extra_body` merged in,
    `extra_headers` (the routing key) left out."""
    body = {k: v for k, v in request.items() if k not in ("extra_body", "extra_headers")}
    body.update(request.get("extra_body") or {})
    return body


def constraint_in(body: dict[str, Any]) -> str | None:
    """The structured-output field a body carries (`response_format` or `structured_outputs`), or None."""
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") in ("json_schema", "json_object"):
        return "response_format"
    if body.get("structured_outputs"):
        return "structured_outputs"
    return None


def _conflict(message: str, hint: str) -> ChatError:
    return ChatError("conflict", message, hint, details={"before_sending": True})


def problem(body: dict[str, Any], *, continuing: bool = False) -> ChatError | None:
    """What vLLM would refuse or mishandle in this request body (None: nothing); `continuing`:
    the request continues the last reply (a chat request says so itself with
    `continue_final_message`; a completion request continues the document)."""
    constraint = constraint_in(body)
    choice = body.get("tool_choice")
    if constraint and body.get("tools") and isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name", "?")
        return _conflict(
            f"vLLM refuses a structured-output constraint together with a named tool_choice ({name}): "
            "\"You can only either use constraints for structured outputs or tools, not both.\"",
            "Clear the constraint, or ask for the tool without one. Nothing was sent.")
    if constraint and body.get("tools") and choice == "required":
        return _conflict(
            "With tool_choice required, vLLM constrains the reply to a tool call and silently drops "
            "the structured-output constraint.",
            "Set tool_choice to auto (tools then stay available), switch tools off, or clear the "
            "constraint. Nothing was sent.")
    kwargs = body.get("chat_template_kwargs") or {}
    reserved = [k for k in RESERVED_TEMPLATE_KWARGS if k in kwargs]
    if reserved:
        return _conflict(
            f"chat_template_kwargs sets {', '.join(reserved)}, which vllm-chat sends itself as request "
            "fields (a reply is continued with continue_final_message and add_generation_prompt false).",
            "Take them out of chat_template_kwargs. Nothing was sent.")
    if body.get("continue_final_message") is True and body.get("add_generation_prompt", True) is True:
        return _conflict(
            "vLLM refuses continue_final_message together with add_generation_prompt "
            "(\"Cannot set both `continue_final_message` and `add_generation_prompt` to True.\"; "
            "add_generation_prompt is true unless set to false).",
            "This is a bug in vllm-chat's request; retry the turn ({retry}) instead. Nothing was sent.")
    if (continuing or body.get("continue_final_message") is True) and constraint:
        return _conflict(
            "A reply under a structured-output constraint can't be continued: vLLM starts the constraint "
            "again for the new text, so what it adds never completes the part already written.",
            "Retry the turn ({retry}) instead, with a higher max_tokens if the reply was cut. "
            "Nothing was sent.")
    return None
