"""Fault injection: the ways a real vLLM stream goes wrong, on demand.

A fault is `KIND` or `KIND=VALUE`. It comes from (first match wins) a magic
phrase in the last user message (`sim:drop`, `sim:stall=3`), the request body
field `"sim_fault": "drop"` (vLLM ignores unknown fields, so clients can send
it through `extra_body`), or `SimConfig.fault` for every request.

Besides vLLM's own failures there are a router's answers (`429`, `503` with a
`Retry-After` header, for the next N requests), load (`load`: other users'
requests fill the queue and the KV cache) and structured-output misbehaviour
(`unconstrained`, `ramble`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FAULT_KINDS: dict[str, str] = {
    "error-first": "HTTP 200, then an error event before any token, then [DONE]",
    "error-mid": "some tokens, then a 500 'Internal server error' event, then [DONE] (=N: after N tokens)",
    "drop": "some tokens, then the connection is cut without [DONE] or the chunked terminator (=N: after N tokens)",
    "stall": "N seconds (default 3) of silence before the first token",
    "keepalive": "N seconds (default 3) before the first token, with ': keep-alive' comments meanwhile",
    "busy": "HTTP 503, the engine queue is full",
    "length": "the reply stops mid-sentence with finish_reason 'length' (=N: after N tokens)",
    "abort": "the reply stops with finish_reason 'abort' (=N: after N tokens)",
    "429": "HTTP 429 with a Retry-After header, as a router or gateway answers (=N: this and the next N-1 requests)",
    "503": "HTTP 503 with a Retry-After header, as a router with no free backend answers (=N: this and the next N-1)",
    "load": "N requests from other users (default: two batches) queue up first: waiting requests, KV cache near 97 %",
    "unconstrained": "the reply ignores the request's structured-output constraint (a server whose backend dropped it)",
    "ramble": "a JSON reply pads itself with whitespace, so max_tokens cuts it before it closes",
}
ROUTER_KINDS = ("429", "503")
"""Faults a router in front of vLLM answers with, instead of the server."""
DEFAULT_STALL = 3.0
# Not inside backticks: the help reply lists the phrases as `code`, and a prompt
# quoting that reply (e.g. a title request) must not set them off.
_PHRASE_RE = re.compile(
    r"(?<!`)\bsim:(" + "|".join(map(re.escape, FAULT_KINDS)) + r")(?:=(\d+(?:\.\d+)?))?(?![\w`-])"
)


@dataclass(frozen=True)
class Fault:
    """One fault to apply to one request."""

    kind: str
    """One of `FAULT_KINDS`."""
    value: float | None = None
    """Seconds for `stall`/`keepalive`, tokens before the fault for the mid-stream kinds."""

    @property
    def seconds(self) -> float:
        """The stall length of `stall` and `keepalive` faults."""
        return DEFAULT_STALL if self.value is None else self.value

    def after_tokens(self, reply_tokens: int) -> int:
        """Tokens to send before a mid-stream fault: the given number, else half the reply."""
        if self.value is not None:
            return max(0, int(self.value))
        return max(1, reply_tokens // 2)


def parse(spec: str) -> Fault:
    """Parse `KIND` or `KIND=VALUE`; raises ValueError naming the known kinds."""
    kind, _, value = spec.strip().partition("=")
    kind = kind.strip().lower()
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {spec!r}; known faults: {', '.join(FAULT_KINDS)}")
    if not value:
        return Fault(kind)
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"fault {spec!r}: the value after '=' must be a number") from None
    if number < 0:
        raise ValueError(f"fault {spec!r}: the value must not be negative")
    return Fault(kind, number)


def find_in_text(text: str) -> Fault | None:
    """The first `sim:KIND[=VALUE]` phrase in a message, if any."""
    match = _PHRASE_RE.search(text)
    if not match:
        return None
    return Fault(match.group(1), float(match.group(2)) if match.group(2) else None)


def strip_phrases(text: str) -> str:
    """The message without its `sim:` phrases, so they do not steer the scripted reply."""
    return _PHRASE_RE.sub("", text).strip()
