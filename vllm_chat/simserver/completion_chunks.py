"""The exact bytes of a legacy `/v1/completions` answer, streamed or not.

No role chunk; each chunk carries `text`. With `echo` the first chunk of a choice starts
with the prompt and carries `prompt_token_ids`, as vLLM 0.32 sends it; with `logprobs: N`
every chunk carries the legacy logprobs object (`text_offset`, `token_logprobs`, `tokens`,
`top_logprobs` maps of the sampled token and N alternatives).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring as _enc
from typing import Any

from vllm_chat.simserver import logprobs, tokenizer
from vllm_chat.simserver.chunks import response_metrics, stream_metrics
from vllm_chat.simserver.plan import VISIBLE, ChoicePlan, Piece, message_parts


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class CompletionChunks:
    """Builds the chunks of a legacy `/v1/completions` stream."""

    def __init__(self, *, request_id: str, created: int, model: str, prompt_tokens: int, fingerprint: str,
                 echo: dict[int, str] | None = None, top_logprobs: int | None = None) -> None:
        self._head = (
            f'data: {{"id":{_enc(request_id)},"object":"text_completion","created":{created},'
            f'"model":{_enc(model)},"choices":['
        )
        self._prompt = prompt_tokens
        self._fingerprint = f',"system_fingerprint":{_enc(fingerprint)}'
        self._echo = dict(echo or {})
        self._top = top_logprobs
        self._offsets: dict[int, int] = {}

    def role(self, index: int) -> bytes:
        """Completions have no role chunk."""
        return b""

    def _text(self, plan: ChoicePlan, piece: Piece | None) -> tuple[str, str]:
        """(text, prompt_token_ids JSON) of a choice's next chunk: the echoed prompt rides on the first."""
        text = piece.text if piece is not None else ""
        prompt = self._echo.pop(plan.index, None)
        if prompt is None:
            return text, "null"
        ids = [tokenizer.token_id(t) for t in tokenizer.tokenize(prompt)]
        return prompt + text, _dumps(ids)

    def _logprobs(self, plan: ChoicePlan, k: int | None) -> str:
        if self._top is None or k is None:
            return "null"
        piece = plan.pieces[k]
        offset = self._offsets.get(plan.index, 0)
        self._offsets[plan.index] = offset + len(piece.text)
        return _dumps(logprobs.completion_logprobs([piece.text], [plan.position(k)], self._top, offset))

    def delta(self, plan: ChoicePlan, k: int, tool_id: str, completion: int, reasoning: int,
              first_args: Piece | None = None) -> bytes:
        """A chunk carrying piece `k` of a choice."""
        text, prompt_ids = self._text(plan, plan.pieces[k])
        return (
            f'{self._head}{{"index":{plan.index},"text":{_enc(text)},"logprobs":{self._logprobs(plan, k)},'
            f'"finish_reason":null,"stop_reason":null,"prompt_token_ids":{prompt_ids},"token_ids":null}}]}}\n\n'
        ).encode()

    def finish(self, plan: ChoicePlan, last: int | None, tool_id: str, completion: int, reasoning: int,
               with_fingerprint: bool) -> bytes:
        """The chunk with `finish_reason`; it may carry piece `last`."""
        text, prompt_ids = self._text(plan, plan.pieces[last] if last is not None else None)
        return (
            f'{self._head}{{"index":{plan.index},"text":{_enc(text)},"logprobs":{self._logprobs(plan, last)},'
            f'"finish_reason":{_enc(str(plan.finish_reason))},"stop_reason":{_dumps(plan.stop_reason)},'
            f'"prompt_token_ids":{prompt_ids},"token_ids":null}}]{self._fingerprint if with_fingerprint else ""}}}\n\n'
        ).encode()

    def whole(self, plan: ChoicePlan, with_fingerprint: bool) -> bytes:
        """Never used: vLLM refuses to stream beam search on this endpoint."""
        raise NotImplementedError

    def usage(self, completion: int, reasoning: int, metrics: dict[str, Any] | None = None) -> bytes:
        """The usage chunk: no choices, totals (and per-request metrics when reported)."""
        return (
            f'{self._head}],"usage":{{"prompt_tokens":{self._prompt},"total_tokens":{self._prompt + completion},'
            f'"completion_tokens":{completion}}}{self._fingerprint}{stream_metrics(metrics)}}}\n\n'
        ).encode()


def text_completion(*, request_id: str, created: int, model: str, plans: list[ChoicePlan], prompt_tokens: int,
                    fingerprint: str, echo: dict[int, str] | None = None, top_logprobs: int | None = None,
                    metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The non-streamed `text_completion` body."""
    choices = []
    for plan in plans:
        prefix = (echo or {}).get(plan.index, "")
        lp = None
        if top_logprobs is not None:
            ks = [k for k, p in enumerate(plan.pieces) if p.kind in VISIBLE]
            lp = logprobs.completion_logprobs([plan.pieces[k].text for k in ks], [plan.position(k) for k in ks],
                                              top_logprobs, len(prefix))
        choices.append({
            "index": plan.index,
            "text": prefix + message_parts(plan)[0],
            "logprobs": lp,
            "finish_reason": plan.finish_reason,
            "stop_reason": plan.stop_reason,
            "token_ids": None,
            "prompt_logprobs": None,
            "prompt_token_ids": None,
            "routed_experts": None,
        })
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
        "metrics": response_metrics(metrics),
    }
