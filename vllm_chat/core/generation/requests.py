"""The generation controls of a conversation, put into the request the engine builds.

`shape_request` takes the chat request `turn_request.build_request` made (model,
messages, sampling, tools) and adds what this package owns: the constraint,
the reasoning controls, a model's own chat template from the config; or, in
completion mode, turns it into a `/v1/completions` request. `request_problem`
is the check before sending (see `preflight`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vllm_chat.core.generation import preflight
from vllm_chat.core.generation.completion import completion_request, is_completion

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.conversation import Conversation
    from vllm_chat.core.errors import ChatError
    from vllm_chat.core.turn_request import TurnOptions


def shape_request(conv: Conversation, options: TurnOptions, request: dict[str, Any]) -> dict[str, Any]:
    """`request` with the conversation's constraint and reasoning controls (chat), or the
    completion request for it (completion mode)."""
    extra = dict(request.get("extra_body") or {})
    if conv.constraint is not None:
        extra.update(conv.constraint.body_fields())
    if conv.kind == "completion":
        return completion_request(conv, {**request, "extra_body": extra}, context_window=options.context_window)
    kwargs = dict(extra.get("chat_template_kwargs") or {})
    extra.update(conv.reasoning_controls.body_fields(kwargs.pop("enable_thinking", None)))
    if kwargs:  # template kwargs another control put there first stay, under the table's
        extra["chat_template_kwargs"] = {**kwargs, **extra.get("chat_template_kwargs", {})}
    if options.chat_template:
        extra["chat_template"] = options.chat_template
    out = {k: v for k, v in request.items() if k != "extra_body"}
    if extra:
        out["extra_body"] = extra
    return out


def request_problem(request: dict[str, Any], *, continuing: bool = False) -> ChatError | None:
    """What vLLM would refuse or mishandle in `request` (None: send it)."""
    return preflight.problem(preflight.wire_body(request), continuing=continuing)


__all__ = ["is_completion", "request_problem", "shape_request"]
