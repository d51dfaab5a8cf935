"""The exact bytes vLLM 0.32 sends: SSE chunks of a chat stream, and the non-streamed body.

Key sets and key order are copied from real captures. Chunks are assembled
from string templates (id, created and model fixed once per stream), so the
only per-token work is escaping the token text: a stream of 20,000 tokens
costs the server a few tens of milliseconds (logprobs, when asked for, add an
entry per token). Legacy completions live in `completion_chunks.py`.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring as _enc
from typing import Any

from vllm_chat.simserver import logprobs
from vllm_chat.simserver.plan import (
    CONTENT,
    REASONING,
    REASONING_END,
    TOOL_ARGS,
    TOOL_NAME,
    VISIBLE,
    ChoicePlan,
    Piece,
    message_parts,
    raw_output,
    unfinished_forced_call,
)

DONE = b"data: [DONE]\n\n"
KEEP_ALIVE = b": keep-alive\n\n"
METRIC_KEYS = ("time_to_first_token_ms", "generation_time_ms", "queue_time_ms", "mean_itl_ms", "tokens_per_second")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def stream_metrics(metrics: dict[str, Any] | None) -> str:
    """`,"metrics":{...}` for a usage chunk (vLLM drops the fields it has no value for), or ""."""
    if metrics is None:
        return ""
    shown = {k: metrics[k] for k in METRIC_KEYS if metrics.get(k) is not None}
    return ',"metrics":' + _dumps(shown)


def response_metrics(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    """The top-level `metrics` of a non-streamed response (every field, nulls included)."""
    if metrics is None:
        return None
    return {**{k: metrics.get(k) for k in METRIC_KEYS}, "speculative_decoding": None}


class ChatChunks:
    """Builds every chunk of one chat stream."""

    def __init__(
        self,
        *,
        request_id: str,
        created: int,
        model: str,
        prompt_tokens: int,
        reasoning_field: str,
        reasoning_parser: bool,
        continuous_usage: bool,
        content_reasoning_null: bool,
        top_logprobs: int | None,
        fingerprint: str,
        beam: bool = False,
        prompt_text: str | None = None,
    ) -> None:
        self._prompt_text = prompt_text
        self._head = (
            f'data: {{"id":{_enc(request_id)},"object":"chat.completion.chunk","created":{created},'
            f'"model":{_enc(model)},"choices":['
        )
        self._usage_head = self._head + "],"
        self._prompt = prompt_tokens
        self._rf = reasoning_field
        self._parser = reasoning_parser
        self._continuous = continuous_usage
        # include_reasoning=false: vLLM then spells out `"reasoning": null` in every content delta.
        self._content_end = f',"{reasoning_field}":null}}' if content_reasoning_null else "}"
        self._top = top_logprobs
        self._beam = beam
        self._fingerprint = f',"system_fingerprint":{_enc(fingerprint)}'
        self._tail = ',"finish_reason":null,"token_ids":null}]'

    def _usage(self, completion: int, reasoning: int) -> str:
        if not self._continuous:
            return ""
        details = f'{{"reasoning_tokens":{reasoning}}}' if self._parser else "null"
        return (
            f',"usage":{{"prompt_tokens":{self._prompt},"total_tokens":{self._prompt + completion},'
            f'"completion_tokens":{completion},"completion_tokens_details":{details}}}'
        )

    def _logprobs(self, plan: ChoicePlan, ks: list[int]) -> str:
        if self._top is None or not ks:
            return "null"
        entries = [logprobs.chat_entry_json(plan.pieces[k].text, plan.position(k), self._top, self._beam) for k in ks]
        return '{"content":[' + ",".join(entries) + "]}"

    def role(self, index: int) -> bytes:
        """The first chunk of a choice: `{"role": "assistant", "content": ""}` (the very first one
        carries the rendered prompt when `return_prompt_text` asked for it)."""
        prompt_text = _dumps(self._prompt_text) if index == 0 else "null"
        return (
            f'{self._head}{{"index":{index},"delta":{{"role":"assistant","content":""}},"logprobs":null,'
            f'"finish_reason":null}}]{self._usage(0, 0)},"prompt_token_ids":null,"prompt_text":{prompt_text}}}\n\n'
        ).encode()

    def delta_json(self, piece: Piece, tool_id: str, first_args: Piece | None = None) -> str:
        """The `delta` object of one piece (a tool name may carry its first argument fragment
        as a second entry with the same index, when that quirk is switched on)."""
        kind = piece.kind
        if kind == CONTENT:
            return '{"content":' + _enc(piece.text) + self._content_end
        if kind == REASONING:
            return f'{{"{self._rf}":' + _enc(piece.text) + "}"
        if kind == REASONING_END:
            return f'{{"content":null,"{self._rf}":' + _enc(piece.text) + "}"
        if kind == TOOL_NAME:
            entries = (
                f'{{"id":"{tool_id}","type":"function","index":{piece.tool},"function":{{"name":{_enc(piece.text)}}}}}'
            )
            if first_args is not None:
                entries += f',{{"index":{piece.tool},"function":{{"arguments":{_enc(first_args.text)}}}}}'
            return '{"content":null,"tool_calls":[' + entries + "]}"
        if kind == TOOL_ARGS:
            return (
                f'{{"content":null,"tool_calls":[{{"index":{piece.tool},"function":{{"arguments":'
                + _enc(piece.text)
                + "}}]}"
            )
        return "{}"

    def delta(self, plan: ChoicePlan, k: int, tool_id: str, completion: int, reasoning: int,
              first_args: Piece | None = None) -> bytes:
        """A chunk carrying piece `k` of a choice."""
        ks = [k] if first_args is None else [k, plan.pieces.index(first_args, k)]
        return (
            self._head + f'{{"index":{plan.index},"delta":' + self.delta_json(plan.pieces[k], tool_id, first_args)
            + ',"logprobs":' + self._logprobs(plan, ks) + self._tail + self._usage(completion, reasoning) + "}\n\n"
        ).encode()

    def finish(self, plan: ChoicePlan, last: int | None, tool_id: str, completion: int, reasoning: int,
               with_fingerprint: bool) -> bytes:
        """The chunk with `finish_reason` (and `stop_reason`); it may carry piece `last`."""
        delta = self.delta_json(plan.pieces[last], tool_id) if last is not None else "{}"
        lp = self._logprobs(plan, [last] if last is not None else [])
        return (
            f'{self._head}{{"index":{plan.index},"delta":{delta},"logprobs":{lp},'
            f'"finish_reason":{_enc(str(plan.finish_reason))},"stop_reason":{_dumps(plan.stop_reason)},'
            f'"token_ids":null}}]{self._usage(completion, reasoning)}'
            f'{self._fingerprint if with_fingerprint else ""}}}\n\n'
        ).encode()

    def whole(self, plan: ChoicePlan, with_fingerprint: bool) -> bytes:
        """A beam in one chunk, with its finish reason (and, with `continuous_usage_stats`, its own
        token count, as vLLM 0.32 sends it), as vLLM streams beam search."""
        content, reasoning, _ = message_parts(plan)
        delta = {"content": content} if reasoning is None else {self._rf: reasoning, "content": content}
        ks = [k for k, piece in enumerate(plan.pieces) if piece.kind in VISIBLE]
        return (
            f'{self._head}{{"index":{plan.index},"delta":{_dumps(delta)},"logprobs":{self._logprobs(plan, ks)},'
            f'"finish_reason":{_enc(str(plan.finish_reason))},"stop_reason":{_dumps(plan.stop_reason)},'
            f'"token_ids":null}}]{self._usage(plan.completion_tokens, plan.reasoning_tokens)}'
            f'{self._fingerprint if with_fingerprint else ""}}}\n\n'
        ).encode()

    def usage(self, completion: int, reasoning: int, metrics: dict[str, Any] | None = None) -> bytes:
        """The last chunk before `[DONE]` with `stream_options.include_usage`: no choices, totals
        (and the per-request metrics, on a server that reports them)."""
        details = f',"completion_tokens_details":{{"reasoning_tokens":{reasoning}}}' if self._parser else ""
        return (
            f'{self._usage_head}"usage":{{"prompt_tokens":{self._prompt},"total_tokens":{self._prompt + completion},'
            f'"completion_tokens":{completion}{details}}}{self._fingerprint}{stream_metrics(metrics)}}}\n\n'
        ).encode()


def _message_content(plan: ChoicePlan, content: str, has_calls: bool) -> str | None:
    """`message.content` as vLLM reports it: the text, even empty; null when the parsers took
    everything (reasoning only, or auto tool calls); `""` beside forced tool calls."""
    if content:
        return content
    if has_calls:
        return "" if plan.reply.forced_tools else None
    return None if plan.reply.reasoning is not None else ""


def chat_completion(
    *,
    request_id: str,
    created: int,
    model: str,
    plans: list[ChoicePlan],
    prompt_tokens: int,
    reasoning_field: str,
    reasoning_parser: bool,
    top_logprobs: int | None,
    fingerprint: str,
    beam: bool = False,
    metrics: dict[str, Any] | None = None,
    prompt_text: str | None = None,
) -> dict[str, Any]:
    """The non-streamed `chat.completion` body, every vLLM field present."""
    choices = []
    for plan in plans:
        content, reasoning, calls = message_parts(plan)
        if unfinished_forced_call(plan):
            content, calls = raw_output(plan), []
        message: dict[str, Any] = {
            "role": "assistant",
            "content": _message_content(plan, content, bool(calls)),
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
        }
        if calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in calls
            ]
        message[reasoning_field] = reasoning
        lp = None
        if top_logprobs is not None:
            lp = {"content": [logprobs.chat_entry(p.text, plan.position(k), top_logprobs, beam)
                              for k, p in enumerate(plan.pieces) if p.kind in VISIBLE]}
        choices.append({
            "index": plan.index,
            "message": message,
            "logprobs": lp,
            "finish_reason": plan.finish_reason,
            "stop_reason": plan.stop_reason,
            "token_ids": None,
            "routed_experts": None,
        })
    completion = sum(p.completion_tokens for p in plans)
    reasoning_tokens = sum(p.reasoning_tokens for p in plans)
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "service_tier": None,
        "system_fingerprint": fingerprint,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "total_tokens": prompt_tokens + completion,
            "completion_tokens": completion,
            "prompt_tokens_details": None,
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens} if reasoning_parser else None,
        },
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "prompt_text": prompt_text,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": response_metrics(metrics),
    }
