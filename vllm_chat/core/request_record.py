"""What one reply was asked with, and what the server measured of it, kept with the reply.

`RequestRecord` keeps the request a reply answered without its `messages`:
storing every request's whole history would make a session file grow with
the square of its length. The messages are rebuilt from the conversation when
asked for (`core.request_view`), through the engine's own message builder,
and checked against `messages_sha256`: if the conversation changed since
(an earlier message deleted, the system prompt edited), the rebuilt request
says it is no longer the exact one.

`ServerTimings` is vLLM's `metrics` object (servers started with
`--enable-per-request-metrics`): in the final usage chunk of a stream, or at
the top level of a non-streamed response.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def messages_digest(messages: list[dict[str, Any]]) -> str:
    """A fingerprint of request messages (sha256 of their canonical JSON)."""
    text = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


class RequestRecord(BaseModel):
    """The request behind one reply, without its messages (rebuilt on demand)."""

    base_url: str = ""
    """The server's base URL it was sent to (credentials never included)."""
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """The keyword arguments of `chat.completions.create`, `messages` and `stream` left
    out (`extra_body` kept apart, as the SDK takes it)."""
    upto: str | None = None
    """Id of the last conversation message the request carried."""
    partial_chars: int | None = None
    """For a continued reply: how much of it was sent back to be continued (characters)."""
    message_count: int = 0
    """How many messages the request carried."""
    messages_sha256: str = ""
    """Fingerprint of those messages (`messages_digest`)."""
    sent_at: float = Field(default_factory=time.time)
    """When it was sent (epoch seconds)."""

    @classmethod
    def of(cls, request: dict[str, Any], *, base_url: str, upto: str | None,
           partial_chars: int | None = None) -> RequestRecord:
        """The record of `request` (the engine's keyword arguments, messages included)."""
        messages = request.get("messages") or []
        kwargs = {k: v for k, v in request.items() if k not in ("messages", "stream")}
        # A deep copy through JSON: the request's dicts are shared with the conversation's.
        return cls(base_url=base_url, kwargs=json.loads(json.dumps(kwargs)), upto=upto,
                   partial_chars=partial_chars, message_count=len(messages),
                   messages_sha256=messages_digest(messages))


class ServerTimings(BaseModel):
    """vLLM's own timings of one request (`--enable-per-request-metrics`), in milliseconds."""

    model_config = ConfigDict(extra="allow")

    time_to_first_token_ms: float | None = None
    """From the request's arrival to its first token, on the server."""
    queue_time_ms: float | None = None
    """Time the request waited in the scheduler's queue."""
    generation_time_ms: float | None = None
    """Time spent generating, first token to last."""
    mean_itl_ms: float | None = None
    """Mean time between tokens."""
    tokens_per_second: float | None = None
    """Generation speed the server measured."""

    @classmethod
    def from_response(cls, obj: Any) -> ServerTimings | None:
        """The `metrics` of a usage chunk or a response (SDK object or dict), if it has them."""
        metrics = obj.get("metrics") if isinstance(obj, dict) else getattr(obj, "metrics", None)
        if not isinstance(metrics, dict):
            return None
        known = {k: v for k, v in metrics.items() if v is not None and not _is_nan(v)}
        try:
            return cls.model_validate(known) if known else None
        except ValueError:
            return None  # a server's oddity must not fail the reply

    def summary(self) -> str:
        """The footer's words: 'server: queue 0.04 ms · TTFT 9.8 ms · ITL 3.3 ms · 230 tok/s'."""
        parts = []
        for label, value in (("queue", self.queue_time_ms), ("TTFT", self.time_to_first_token_ms),
                             ("ITL", self.mean_itl_ms)):
            if value is not None:
                parts.append(f"{label} {_ms(value)}")
        if self.tokens_per_second is not None:
            parts.append(f"{self.tokens_per_second:.0f} tok/s")
        return ("server: " + " · ".join(parts)) if parts else ""


def _is_nan(value: Any) -> bool:
    """NaN would not survive JSON (and means "not measured")."""
    return isinstance(value, float) and math.isnan(value)


def _ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
