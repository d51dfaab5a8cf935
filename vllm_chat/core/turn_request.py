"""What one turn sends: the options of a turn, and the request built from a conversation.

`request_messages` leaves tool calls without results out of every request: a call
cut off while its arguments streamed (by Esc, or by `finish_reason` length) is kept
in the conversation for display but never sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.generation.requests import shape_request

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.media.policy import MediaPolicy


@dataclass(frozen=True)
class TurnOptions:
    """How to send one turn."""

    tools_enabled: bool = True
    """Offer the registry's tools (the request carries `tools` only then)."""
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] = "auto"
    """`tool_choice` to send with the tools: auto, none, required, or a named function
    (`{"type": "function", "function": {"name": ...}}`). A forced choice (required or
    named) applies to the first request of a turn; the requests after tool results use
    "auto" so the model can answer."""
    media_policy: MediaPolicy | None = None
    """Media to leave out of the request (the user accepted an offer after vLLM refused
    them); None sends every attachment."""
    continue_last: bool = False
    """Continue the last assistant message instead of starting a new one
    (`continue_final_message`, used for replies cut off or stopped)."""
    run_pending: bool = False
    """First run the tool calls of the last reply that have no result yet, then ask the
    model again: the calls of a picked candidate (candidates and comparisons never run
    tools themselves, so only the reply the user keeps acts)."""
    chat_template: str | None = None
    """A chat template to send with chat requests (the model's `chat_template` in the config)."""
    context_window: int | None = None
    """The model's `max_model_len`, when known: completion mode's `max_tokens` when none is set."""
    model_templates: dict[str, str] = field(default_factory=dict)
    """Every model's own chat template from the config (`chat_template` is the conversation
    model's): a comparison sends each model its own."""
    reply_room: Callable[[dict[str, Any]], Awaitable[int | None]] | None = None
    """Says how many tokens a reply to a request can get at most (the context window less
    the prompt), or None when it can't tell. When that is below `max_tokens`, `max_tokens`
    is lowered to it, so prompt + `max_tokens` never exceeds `max_model_len` (some vLLM
    releases refuse that with a 400, newer ones cut silently), and the reply records it
    as `reply_limit`. None: `max_tokens` is sent as set."""
    routing: tuple[str, str] | None = None
    """The routing header (name, key) sent with every request of the turn (`routing_header`:
    the conversation's id, so a router keeps the conversation on one replica); None for side
    requests (titles, compaction) and when no routing header is set."""


def default_messages(conv: Conversation, options: TurnOptions) -> list[dict[str, Any]]:
    """The request messages, with attachments turned into content parts."""
    if not any(m.attachments for m in conv.messages):
        return conv.to_openai()
    if options.media_policy is not None:
        return options.media_policy.request_messages(conv)
    from vllm_chat.core.attachments import build_request_messages

    return build_request_messages(conv)


def request_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` without the tool calls that have no result right after their message.

    Such calls were cut off while their arguments streamed, or the app stopped
    before they ran; the session keeps them for display, but a request must
    not carry a call without its result (and vLLM parses the arguments of
    every call in the history, so half-written JSON would fail the request).
    An assistant message left with neither text nor calls is left out.
    """
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        calls = message.get("tool_calls")
        if message.get("role") == "assistant" and calls:
            answered = set()
            for later in messages[i + 1:]:
                if later.get("role") != "tool":
                    break
                answered.add(later.get("tool_call_id"))
            kept = [c for c in calls if c.get("id") in answered]
            if len(kept) != len(calls):
                message = {k: v for k, v in message.items() if k != "tool_calls"}
                if kept:
                    message["tool_calls"] = kept
                elif not message.get("content"):
                    continue
        out.append(message)
    return out


def build_request(
    conv: Conversation,
    options: TurnOptions,
    messages: list[dict[str, Any]],
    tool_specs: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The keyword arguments for `chat.completions.create` (without `stream`), or, in
    completion mode, for `completions.create`."""
    request: dict[str, Any] = {
        "model": conv.model,
        "messages": messages,
        "stream_options": {"include_usage": True},
    }
    request.update(conv.params.request_kwargs())
    if tool_specs:
        request["tools"] = tool_specs
        request["tool_choice"] = options.tool_choice
    if options.continue_last:
        extra = dict(request.get("extra_body", {}))
        extra.update(continue_final_message=True, add_generation_prompt=False)
        request["extra_body"] = extra
    # Constraint, reasoning controls, the model's template; or the completion request instead.
    shaped = shape_request(conv, options, request)
    if options.routing is not None:
        shaped["extra_headers"] = dict([options.routing])  # a header, not part of the body
    return shaped


async def fit_max_tokens(request: dict[str, Any],
                         reply_room: Callable[[dict[str, Any]], Awaitable[int | None]] | None,
                         message: Message, *, chosen: bool = True) -> None:
    """Lower the request's `max_tokens` to the room the context window leaves for the reply
    (see `TurnOptions.reply_room`), and record the limit on `message` when the user chose
    that `max_tokens` (`chosen`; completion mode asks for the whole window by default, and
    getting the rest of it is no shortfall worth a note)."""
    wanted = request.get("max_tokens")
    if reply_room is None or not wanted:
        return
    room = await reply_room(request)
    # No room at all: the prompt alone fills the window, and the server's own error says so.
    if room is not None and 1 <= room < wanted:
        request["max_tokens"] = room
        if chosen:
            message.reply_limit = room
