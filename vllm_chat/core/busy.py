"""A busy server: 429 (rate limited) and 503 (queue full, engine paused) from vLLM or a
router in front of it, and how long it asks us to wait (`Retry-After`).

A request the server turned away with one of these was never processed, so it can
go again when the server says. `BusyBudget` keeps one turn's waits within
`max_busy_wait`: each wait the server asks for is taken while the total stays
within it; past it, the turn fails and says how long it waited. A request whose
stream had started is never sent again (its tokens may already be generated).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any

from vllm_chat.core.errors import ChatError

MAX_ONE_WAIT = 3600.0
"""A Retry-After longer than this (an hour) is taken as this: no server means it."""


def retry_after(exc: Any, now: float | None = None) -> float | None:
    """Seconds the server's `Retry-After` asks for (a number of seconds or an HTTP date),
    from the SDK exception's response; None when it said nothing usable."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_ONE_WAIT)


def busy_error(exc: Any, status: int, message: str) -> ChatError:
    """The `busy` error of a 429 or 503 answer (`details["retry_after"]`: seconds the
    server asked to wait, when it said)."""
    wait = retry_after(exc)
    what = "rate-limits this client (429)" if status == 429 else "is busy (503)"
    if wait is not None:
        hint = f"It asks to try again in {wait:.0f} s. Retry the turn then."
    elif status == 429:
        hint = "A router or gateway limits how many requests you may send. Wait a moment and retry the turn."
    else:
        hint = "Its queue is full or the engine is paused. Wait a moment and retry the turn."
    return ChatError("busy", f"The server {what}: {message}", hint, status=status, retryable=True,
                     details={} if wait is None else {"retry_after": wait})


@dataclass
class BusyBudget:
    """The waits one turn may still take for a busy server."""

    limit: float
    """Most seconds, in all (`max_busy_wait`)."""
    waited: float = 0.0
    """Seconds waited so far."""

    def wait_for(self, error: ChatError, *, started: bool) -> float | None:
        """Seconds to wait before sending the request again, or None when it must not go
        again: not a busy answer with Retry-After, a stream that had `started`, or a wait
        past the limit."""
        wait = error.details.get("retry_after") if error.kind == "busy" else None
        if started or not isinstance(wait, (int, float)) or self.waited + wait > self.limit:
            return None
        self.waited += wait
        return float(wait)

    def gave_up(self, error: ChatError) -> ChatError:
        """`error`, saying that the wait it asks for is past what is left of the limit."""
        wait = error.details.get("retry_after")
        if error.kind != "busy" or not isinstance(wait, (int, float)) or self.waited + wait <= self.limit:
            return error
        waited = f"after waiting {self.waited:.0f} s " if self.waited else ""
        return replace(error, message=f"{error.message} (still busy {waited}and it asks for {wait:.0f} s more)",
                       hint=f"vllm-chat waits up to {self.limit:g} s in all (max_busy_wait in the config). "
                            "Retry the turn later, or raise max_busy_wait.")
