"""The client side of vLLM's `POST /tokenize`: exact prompt sizes from the server.

vLLM renders a chat `/tokenize` request through the model's own tokenizer and
chat template, exactly as it renders `/v1/chat/completions`, so its `count` is
the `usage.prompt_tokens` the same request would report. The route lives at
the server root, not under `/v1`. It is not an OpenAI API, so there is no SDK
method for it: the request goes through the HTTP client the SDK shares
(`ChatClient.http`: the same connection pool, headers and API key), without
waiting for the SDK's import; a refusal is read as the SDK reads one.

Every way a count can fail becomes a `CountProblem` whose `kind` says whether
asking again can help: `missing` and `forbidden` won't (not vLLM, too old, a
proxy that blocks the route), `slow` and `failed` may.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from vllm_chat.core.client import ChatClient, _server_message
from vllm_chat.core.urls import root_url

CountProblemKind = Literal["missing", "forbidden", "slow", "failed"]
"""Why there is no exact count: the server has no vLLM `/tokenize` (404, or an answer
without `count`), refuses it (401/403), did not answer in time, or failed otherwise."""


@dataclass(frozen=True)
class TokenCount:
    """One `/tokenize` answer."""

    count: int
    """Prompt tokens, chat template and generation prompt included."""
    max_model_len: int | None
    """The model's context window, as the server reports it with the count."""


class CountProblem(Exception):
    """A count the server could not give; `kind` says whether trying again can help."""

    def __init__(self, kind: CountProblemKind, message: str) -> None:
        super().__init__(message)
        self.kind: CountProblemKind = kind
        """missing, forbidden, slow or failed (see `CountProblemKind`)."""
        self.message = message
        """What happened, in a few words a status line can show."""

    @property
    def lasting(self) -> bool:
        """True when asking this server again won't help (until it or the model changes)."""
        return self.kind in ("missing", "forbidden")


def tokenize_url(base_url: str) -> str:
    """Where `/tokenize` is for an OpenAI base URL (`.../v1` -> `.../tokenize`)."""
    return root_url(base_url) + "/tokenize"


async def tokenize(client: ChatClient, payload: bytes, *, timeout: float) -> TokenCount:
    """Ask the server to count `payload` (a `/tokenize` chat request, JSON already encoded:
    the meter encodes a long conversation once and reuses it); raises `CountProblem`."""
    import httpx2

    http = await client.http()
    try:
        response = await http.post(tokenize_url(client.base_url), content=payload, timeout=timeout,
                                   headers={**client.sdk_auth_headers, "Content-Type": "application/json"})
    except httpx2.TimeoutException:
        raise CountProblem("slow", f"the server did not count within {timeout:g} s") from None
    except httpx2.RequestError:  # what the SDK called a connection error
        raise CountProblem("failed", "the server can't be reached") from None
    if not response.is_success:
        sdk = await client.sdk()
        raise _status_problem(sdk._make_status_error_from_response(response)) from None
    return _read_answer(response.content)


_HEAD = re.compile(rb'\A\s*\{\s*"count"\s*:\s*(\d+)\s*,\s*"max_model_len"\s*:\s*(\d+|null)\s*[,}]')
"""The start of vLLM's answer, `{"count":N,"max_model_len":M,"tokens":[...`: read without
decoding the rest, since the answer lists every token id (decoding 17k of them took ~7 ms
on the UI loop, per count)."""


def _read_answer(raw: bytes) -> TokenCount:
    head = _HEAD.match(raw)
    if head is not None:
        limit = head.group(2)
        return TokenCount(int(head.group(1)), None if limit == b"null" else int(limit))
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    count = answer.get("count") if isinstance(answer, dict) else None
    if not isinstance(count, int) or isinstance(count, bool):
        raise CountProblem("missing", "the server's /tokenize is not vLLM's (no count in its answer)")
    limit = answer.get("max_model_len")
    return TokenCount(count, limit if isinstance(limit, int) and not isinstance(limit, bool) else None)


def _status_problem(exc: Any) -> CountProblem:
    status = exc.status_code
    body = getattr(exc, "body", None)
    if status in (404, 405) and not (isinstance(body, dict) and "message" in body):
        # FastAPI's {"detail": "Not Found"} (or any proxy's 404): there is no such route.
        return CountProblem("missing", f"the server has no /tokenize ({status}): not vLLM, or too old")
    if status in (401, 403):
        return CountProblem("forbidden", f"the server refuses /tokenize ({status})")
    return CountProblem("failed", f"/tokenize failed ({status}): {_server_message(exc)}")
