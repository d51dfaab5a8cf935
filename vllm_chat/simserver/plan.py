"""From a scripted reply to the exact token pieces one choice sends, and how it ends.

Every piece costs tokens: usually one, but a tool call's name costs the tokens
of `<tool_call>\n{"name": "…",` that a hermes parser reads before it can emit
the name, and markup such as `<think>` costs tokens without making a delta.
The budget (`max_tokens`, clamped to the context window) cuts
the list as vLLM's engine would: a reply that fits ends with an EOS token
(`stop`, or `tool_calls`), one that does not ends with `length`, its last piece
riding in the finish chunk, and a tool call whose name did not fit is dropped.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from vllm_chat.simserver import longform, tokenizer
from vllm_chat.simserver.script import Reply

SILENT, CONTENT, REASONING, REASONING_END, TOOL_NAME, TOOL_ARGS, HIDDEN_REASONING = range(7)
VISIBLE = frozenset({CONTENT, REASONING, REASONING_END, TOOL_NAME, TOOL_ARGS})
_ARGUMENTS_KEY = ' "arguments": '
_ARGUMENTS_KEY_COST = tokenizer.count(_ARGUMENTS_KEY)
_CALL_CLOSE = "}\n</tool_call>"
_CALL_CLOSE_COST = len(tokenizer.encode_with_specials(_CALL_CLOSE))
_TOOL_MARKUP = (_ARGUMENTS_KEY, _CALL_CLOSE)


class Limits(Protocol):
    """What a plan needs from a request (a `ChatRequest`, or a legacy completion's limits)."""

    fields: Any
    """Typed fields: `include_reasoning`, `include_stop_str_in_output`, `ignore_eos`, `min_tokens`."""
    stop: list[str]
    """Stop strings."""
    budget: int
    """Most completion tokens."""
    tool_mode: str
    """`none`, `auto`, `required` or `named`."""


@dataclass(slots=True)
class Piece:
    """One token (or a parser's group of tokens) of a choice."""

    kind: int
    """`CONTENT`, `REASONING`, `TOOL_NAME`, ... or `SILENT` for tokens that produce no delta."""
    text: str
    """The delta text (the function name for `TOOL_NAME`)."""
    tool: int = 0
    """Index of the tool call this piece belongs to."""
    cost: int = 1
    """Tokens it stands for."""


@dataclass
class ChoicePlan:
    """Everything one choice sends, already cut to its budget."""

    index: int
    """The choice index."""
    pieces: list[Piece]
    """The pieces that are generated, in order."""
    finish_reason: str | None
    """`stop`, `length`, `tool_calls`, `abort`, or None when the stream fails before finishing."""
    stop_reason: str | int | None
    """The matched stop string, else None."""
    completion_tokens: int
    """Tokens generated, EOS included."""
    reasoning_tokens: int
    """Tokens of reasoning among them."""
    merge_last: bool
    """Whether the last piece travels in the finish chunk (length, stop string) instead of its own."""
    tool_ids: list[str]
    """The `chatcmpl-tool-<16 hex>` id of each call."""
    reply: Reply
    """The reply the pieces came from."""
    _offsets: list[int] | None = None

    def position(self, k: int) -> int:
        """Tokens generated before piece `k` (where its logprobs are drawn)."""
        if self._offsets is None or len(self._offsets) != len(self.pieces):
            offsets, total = [], 0
            for piece in self.pieces:
                offsets.append(total)
                total += piece.cost
            self._offsets = offsets
        return self._offsets[k]


def build(reply: Reply, req: Limits, index: int, null_content_transition: bool) -> ChoicePlan:
    """The pieces of one choice, cut to the request's budget."""
    pieces: list[Piece] = []
    hide_reasoning = not req.fields.include_reasoning
    if reply.reasoning is not None:
        pieces.append(Piece(SILENT, "<think>"))
        kind = HIDDEN_REASONING if hide_reasoning else REASONING
        pieces.extend(Piece(kind, t) for t in tokenizer.tokenize(reply.reasoning))
        if null_content_transition and not hide_reasoning and pieces[-1].kind == REASONING:
            pieces[-1].kind = REASONING_END
        pieces.append(Piece(SILENT, "</think>"))
    content, calls = reply.content, list(reply.calls)
    stop_reason, end_cost = None, 1
    hits = [(content.find(stop), stop) for stop in req.stop if stop and stop in content]
    if hits:
        cut, stop = min(hits)
        content = content[:cut] + (stop if req.fields.include_stop_str_in_output else "")
        stop_reason, end_cost, calls = stop, tokenizer.count(stop), []
    pieces.extend(Piece(CONTENT, t) for t in tokenizer.tokenize(content))
    _pad(pieces, req, bool(calls) or stop_reason is not None)
    tool_ids = [f"chatcmpl-tool-{secrets.token_hex(8)}" for _ in calls]
    for i, call in enumerate(calls):
        pieces.append(Piece(TOOL_NAME, call.name, i, _name_cost(call.name)))
        pieces.append(Piece(SILENT, _ARGUMENTS_KEY, i, _ARGUMENTS_KEY_COST))
        pieces.extend(Piece(TOOL_ARGS, t, i) for t in tokenizer.tokenize(call.arguments))
        pieces.append(Piece(SILENT, _CALL_CLOSE, i, _CALL_CLOSE_COST))
    if calls:
        natural = "stop" if req.tool_mode == "named" else "tool_calls"
    else:
        natural = "stop"
    return _cut(ChoicePlan(index, pieces, natural, stop_reason, 0, 0, False, tool_ids, reply), req.budget, end_cost)


def _name_cost(name: str) -> int:
    """Tokens a hermes-style parser reads before it can emit a call's name: up to the quote
    that closes the name (it never emits a partial name)."""
    return len(tokenizer.encode_with_specials(f'<tool_call>\n{{"name": "{name}",'))


def _pad(pieces: list[Piece], req: Limits, ends_early: bool) -> None:
    """`ignore_eos` and `min_tokens`: keep writing prose past the natural end of the reply."""
    used = sum(p.cost for p in pieces)
    target = req.budget + 1 if req.fields.ignore_eos else req.fields.min_tokens
    if ends_early or used >= target:
        return
    extra = longform.filler(target - used, random.Random(used))
    pieces.extend(Piece(CONTENT, t) for t in tokenizer.tokenize(extra))


def _cut(plan: ChoicePlan, budget: int, end_cost: int) -> ChoicePlan:
    used = 0
    for k, piece in enumerate(plan.pieces):
        if used + piece.cost > budget:
            return _length(plan, k, budget)
        used += piece.cost
    if used + end_cost > budget:
        return _length(plan, len(plan.pieces), budget)
    plan.completion_tokens = used + end_cost
    plan.merge_last = plan.stop_reason is not None and bool(plan.pieces) and plan.pieces[-1].kind in VISIBLE
    plan.reasoning_tokens = _reasoning_count(plan.pieces)
    return plan


def _length(plan: ChoicePlan, keep: int, tokens: int) -> ChoicePlan:
    plan.pieces = plan.pieces[:keep]
    plan.finish_reason, plan.stop_reason = "length", None
    plan.completion_tokens = tokens
    plan.merge_last = bool(plan.pieces) and plan.pieces[-1].kind in VISIBLE
    plan.reasoning_tokens = _reasoning_count(plan.pieces)
    return plan


def cut_after(plan: ChoicePlan, visible: int, finish_reason: str | None) -> ChoicePlan:
    """Keep only the first `visible` visible pieces (a mid-stream fault): `length` merges the
    last piece into the finish chunk, `abort` ends with an empty one, None means no finish."""
    seen = 0
    keep = len(plan.pieces)
    for k, piece in enumerate(plan.pieces):
        if piece.kind in VISIBLE:
            if seen == visible:
                keep = k
                break
            seen += 1
    plan.pieces = plan.pieces[:keep]
    plan.completion_tokens = sum(p.cost for p in plan.pieces)
    plan.reasoning_tokens = _reasoning_count(plan.pieces)
    plan.finish_reason, plan.stop_reason = finish_reason, None
    plan.merge_last = finish_reason == "length" and bool(plan.pieces) and plan.pieces[-1].kind in VISIBLE
    return plan


def visible_count(plan: ChoicePlan) -> int:
    """How many pieces of a plan produce a delta."""
    return sum(1 for p in plan.pieces if p.kind in VISIBLE)


def _reasoning_count(pieces: list[Piece]) -> int:
    return sum(1 for p in pieces if p.kind in (REASONING, REASONING_END, HIDDEN_REASONING))


def unfinished_forced_call(plan: ChoicePlan) -> bool:
    """Whether `max_tokens` cut a forced tool call short. vLLM then cannot parse the output and
    (without streaming) returns the raw `<tool_call>` text as content, with no tool_calls."""
    if plan.finish_reason != "length" or not plan.reply.forced_tools or not plan.reply.calls:
        return False
    closed = sum(1 for p in plan.pieces if p.kind == SILENT and p.text == _CALL_CLOSE)
    return closed < len(plan.reply.calls)


def raw_output(plan: ChoicePlan) -> str:
    """The text the model generated after any reasoning, tool-call markup included."""
    out = []
    for piece in plan.pieces:
        if piece.kind == TOOL_NAME:
            out.append(f'<tool_call>\n{{"name": "{piece.text}",')
        elif piece.kind in (CONTENT, TOOL_ARGS) or (piece.kind == SILENT and piece.text in _TOOL_MARKUP):
            out.append(piece.text)
    return "".join(out)


def message_parts(plan: ChoicePlan) -> tuple[str, str | None, list[tuple[str, str, str]]]:
    """(content, reasoning, [(id, name, arguments)]) as the non-streaming response reports them."""
    content, reasoning = [], []
    calls: dict[int, list[str]] = {}
    for piece in plan.pieces:
        if piece.kind == CONTENT:
            content.append(piece.text)
        elif piece.kind in (REASONING, REASONING_END):
            reasoning.append(piece.text)
        elif piece.kind == TOOL_NAME:
            calls[piece.tool] = [piece.text, ""]
        elif piece.kind == TOOL_ARGS and piece.tool in calls:
            calls[piece.tool][1] += piece.text
    tools = [(plan.tool_ids[i], name, args) for i, (name, args) in sorted(calls.items())]
    shown = plan.reply.reasoning is not None and not any(p.kind == HIDDEN_REASONING for p in plan.pieces)
    return "".join(content), (("".join(reasoning) or None) if shown else None), tools
