"""The exact bytes vLLM 0.32 sends: SSE chunks of a chat stream, and the non-streamed body.

Key sets and key order are copied from real captures. Chunks are assembled
from string templates (id, created and model fixed once per stream), so the
only per-token work is escaping the token text: a stream of 20,000 tokens
costs the server a few tens of milliseconds.
"""

from __future__ import annotations

import json
import zlib
from json.encoder import encode_basestring as _enc
from typing import Any

from vllm_chat.simserver.plan import (
    CONTENT,
    REASONING,
    REASONING_END,
    TOOL_ARGS,
    TOOL_NAME,
    ChoicePlan,
    Piece,
    message_parts,
    raw_output,
    unfinished_forced_call,
)

DONE = b"data: [DONE]\n\n"
KEEP_ALIVE = b": keep-alive\n\n"
_ALTERNATIVES = ("\n", " the", ".", ",", " and", " a", " to", " of", " is", " in")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def logprob_entry(token: str, top: int) -> dict[str, Any]:
    """A deterministic logprobs entry for one token, with `top` alternatives (itself first)."""
    base = -0.05 - (zlib.crc32(token.encode()) % 700) / 100.0
    entry: dict[str, Any] = {"token": token, "logprob": base, "bytes": list(token.encode())}
    alternatives = [{"token": token, "logprob": base, "bytes": list(token.encode())}]
    for k, alt in enumerate(a for a in _ALTERNATIVES if a != token):
        if len(alternatives) >= top:
            break
        alternatives.append({"token": alt, "logprob": base - 0.5 * (k + 1), "bytes": list(alt.encode())})
    entry["top_logprobs"] = alternatives[:top]
    return entry


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
    ) -> None:
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

    def _logprobs(self, piece: Piece | None) -> str:
        if self._top is None or piece is None:
            return "null"
        return _dumps({"content": [logprob_entry(piece.text, self._top)]})

    def role(self, index: int) -> bytes:
        """The first chunk of a choice: `{"role": "assistant", "content": ""}`."""
        return (
            f'{self._head}{{"index":{index},"delta":{{"role":"assistant","content":""}},"logprobs":null,'
            f'"finish_reason":null}}]{self._usage(0, 0)},"prompt_token_ids":null,"prompt_text":null}}\n\n'
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

    def delta(self, index: int, piece: Piece, tool_id: str, completion: int, reasoning: int,
              first_args: Piece | None = None) -> bytes:
        """A chunk carrying one piece."""
        return (
            self._head + f'{{"index":{index},"delta":' + self.delta_json(piece, tool_id, first_args)
            + ',"logprobs":' + self._logprobs(piece) + self._tail + self._usage(completion, reasoning) + "}\n\n"
        ).encode()

    def finish(self, plan: ChoicePlan, last: Piece | None, tool_id: str, completion: int, reasoning: int,
               with_fingerprint: bool) -> bytes:
        """The chunk with `finish_reason` (and `stop_reason`); it may carry the last piece."""
        delta = self.delta_json(last, tool_id) if last is not None else "{}"
        return (
            f'{self._head}{{"index":{plan.index},"delta":{delta},"logprobs":{self._logprobs(last)},'
            f'"finish_reason":{_enc(str(plan.finish_reason))},"stop_reason":{_dumps(plan.stop_reason)},'
            f'"token_ids":null}}]{self._usage(completion, reasoning)}'
            f'{self._fingerprint if with_fingerprint else ""}}}\n\n'
        ).encode()

    def usage(self, completion: int, reasoning: int) -> bytes:
        """The last chunk before `[DONE]` with `stream_options.include_usage`: no choices, totals."""
        details = f',"completion_tokens_details":{{"reasoning_tokens":{reasoning}}}' if self._parser else ""
        return (
            f'{self._usage_head}"usage":{{"prompt_tokens":{self._prompt},"total_tokens":{self._prompt + completion},'
            f'"completion_tokens":{completion}{details}}}{self._fingerprint}}}\n\n'
        ).encode()


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
) -> dict[str, Any]:
    """The non-streamed `chat.completion` body, every vLLM field present."""
    choices = []
    for plan in plans:
        content, reasoning, calls = message_parts(plan)
        if unfinished_forced_call(plan):
            content, calls = raw_output(plan), []
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content or ("" if plan.reply.forced_tools and calls else None),
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
        logprobs = None
        if top_logprobs is not None:
            logprobs = {"content": [logprob_entry(p.text, top_logprobs) for p in plan.pieces if p.kind == CONTENT]}
        choices.append({
            "index": plan.index,
            "message": message,
            "logprobs": logprobs,
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
        "prompt_text": None,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


class CompletionChunks:
    """Builds the chunks of a legacy `/v1/completions` stream (no role chunk, `text` pieces)."""

    def __init__(self, *, request_id: str, created: int, model: str, prompt_tokens: int, fingerprint: str) -> None:
        self._head = (
            f'data: {{"id":{_enc(request_id)},"object":"text_completion","created":{created},'
            f'"model":{_enc(model)},"choices":['
        )
        self._prompt = prompt_tokens
        self._fingerprint = f',"system_fingerprint":{_enc(fingerprint)}'

    def role(self, index: int) -> bytes:
        """Completions have no role chunk."""
        return b""

    def delta(self, index: int, piece: Piece, tool_id: str, completion: int, reasoning: int,
              first_args: Piece | None = None) -> bytes:
        """A chunk carrying one piece of text."""
        return (
            f'{self._head}{{"index":{index},"text":{_enc(piece.text)},"logprobs":null,"finish_reason":null,'
            '"stop_reason":null,"prompt_token_ids":null,"token_ids":null}]}\n\n'
        ).encode()

    def finish(self, plan: ChoicePlan, last: Piece | None, tool_id: str, completion: int, reasoning: int,
               with_fingerprint: bool) -> bytes:
        """The chunk with `finish_reason`; it may carry the last piece of text."""
        text = last.text if last is not None else ""
        return (
            f'{self._head}{{"index":{plan.index},"text":{_enc(text)},"logprobs":null,'
            f'"finish_reason":{_enc(str(plan.finish_reason))},"stop_reason":{_dumps(plan.stop_reason)},'
            f'"prompt_token_ids":null,"token_ids":null}}]{self._fingerprint if with_fingerprint else ""}}}\n\n'
        ).encode()

    def usage(self, completion: int, reasoning: int) -> bytes:
        """The usage chunk: no choices, totals."""
        return (
            f'{self._head}],"usage":{{"prompt_tokens":{self._prompt},"total_tokens":{self._prompt + completion},'
            f'"completion_tokens":{completion}}}{self._fingerprint}}}\n\n'
        ).encode()


def text_completion(*, request_id: str, created: int, model: str, plans: list[ChoicePlan], prompt_tokens: int,
                    fingerprint: str) -> dict[str, Any]:
    """The non-streamed `text_completion` body."""
    choices = [
        {
            "index": plan.index,
            "text": message_parts(plan)[0],
            "logprobs": None,
            "finish_reason": plan.finish_reason,
            "stop_reason": plan.stop_reason,
            "token_ids": None,
            "prompt_logprobs": None,
            "prompt_token_ids": None,
            "routed_experts": None,
        }
        for plan in plans
    ]
    completion = sum(p.completion_tokens for p in plans)
    return {
        "id": request_id,
        "object": "text_completion",
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
            "completion_tokens_details": None,
        },
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }
