"""The context meter: exact prompt sizes from the server's `/tokenize`, remembered, and
estimates for the moments in between.

`ContextMeter.count(body)` asks the server once per distinct request (the
answers are kept, so the check before sending, the `max_tokens` clamp and the
meter share one count). Every exact answer teaches it how many tokens a
character of this model's requests is worth; an estimate is the request's
size in characters times that ratio (media are estimated apart). When the
server can't count, the reason is kept: a lasting one (no `/tokenize`, or
refused) stops the asking until the server or model changes, a passing one
(slow, failed) is tried again on the next change.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, replace

from vllm_chat.core.client import ChatClient
from vllm_chat.core.context.request import CHARS_PER_TOKEN, Measured
from vllm_chat.core.tokenize import CountProblem, tokenize

_CACHE_SIZE = 64
"""Distinct requests whose counts are kept (a draft being typed makes many)."""
_MIN_CHARS_TO_LEARN = 200
"""Requests shorter than this teach nothing about the ratio (template tokens dominate)."""

SHORT_PROBLEM = {
    "missing": "no /tokenize",
    "forbidden": "/tokenize refused",
    "slow": "/tokenize slow",
    "failed": "count failed",
}
"""A few words per kind of `CountProblem`, for a status line."""


@dataclass(frozen=True)
class ContextCount:
    """The size of one request's prompt."""

    tokens: int
    """Prompt tokens: the server's count when `exact`, else an estimate."""
    exact: bool
    """Whether `tokens` is the server's own count of exactly this request."""
    max_model_len: int | None = None
    """The context window the server reported with the count (None when not counted)."""
    note: str = ""
    """Why `tokens` is an estimate ('' when exact)."""


class ContextMeter:
    """Counts requests with the server and remembers the answers (see the module docstring)."""

    def __init__(self) -> None:
        self.tokens_per_char = 1 / CHARS_PER_TOKEN
        """What one character of a request is worth, as the last exact count showed."""
        self.problem: CountProblem | None = None
        """Why the last count could not be had (None after a success)."""
        self.max_model_len: int | None = None
        """The context window the server reported with its last count."""
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._asking: dict[str, asyncio.Future[ContextCount]] = {}

    @property
    def gave_up(self) -> bool:
        """Whether counting stopped for a lasting reason (no `/tokenize`, or refused)."""
        return self.problem is not None and self.problem.lasting

    def try_again(self) -> None:
        """Ask the server again from the next count on (the server or the model changed)."""
        self.problem = None
        self._counts.clear()

    def stop(self) -> None:
        """Give up the questions still waiting for an answer (the session closes)."""
        for task in list(self._asking.values()):
            task.cancel()

    def estimate(self, chars: int, media_tokens: int = 0) -> int:
        """Tokens of a request of `chars` characters (without media URLs) plus media."""
        return round(chars * self.tokens_per_char) + media_tokens

    def known(self, request: Measured) -> int | None:
        """The server's count of `request`, if it was counted before."""
        return self._counts.get(request.key)

    def guess(self, request: Measured) -> ContextCount:
        """An estimate of `request` (its count when it was counted before)."""
        known = self.known(request)
        if known is not None:
            return ContextCount(known, True, self.max_model_len)
        return ContextCount(self.estimate(request.chars, request.media_tokens), False, note=self.why_estimate())

    def why_estimate(self) -> str:
        """What an estimate shows instead of a count, in words."""
        if self.problem is None:
            return "counting…"
        return f"estimate: {self.problem.message}"

    async def count(self, client: ChatClient, request: Measured, *, timeout: float,
                    ask: bool = True, wait: float | None = None) -> ContextCount:
        """The prompt size of `request`: remembered, asked of the server, or estimated
        when the server can't count (or `ask` is false). `timeout`: how long the server
        may take; `wait`: how long this caller waits for it (the question goes on, and
        its answer is kept for the next caller)."""
        known = self._counts.get(request.key)
        if known is not None:
            self._counts.move_to_end(request.key)
            return ContextCount(known, True, self.max_model_len)
        if not ask or self.gave_up:
            return self.guess(request)
        # One question per distinct request: a check that needs the count the meter is
        # already waiting for waits for the same answer.
        task = self._asking.get(request.key)
        if task is None:
            task = self._asking[request.key] = asyncio.ensure_future(self._ask(client, request, timeout))
            task.add_done_callback(lambda _: self._asking.pop(request.key, None))
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait)
        except asyncio.TimeoutError:
            return replace(self.guess(request), note="estimate: the server is still counting")

    async def _ask(self, client: ChatClient, request: Measured, timeout: float) -> ContextCount:
        """Ask the server; remember the answer (and what it teaches), or why there is none."""
        try:
            answer = await tokenize(client, request.payload, timeout=timeout)
        except CountProblem as problem:
            self.problem = problem
            return self.guess(request)
        self.problem = None
        if answer.max_model_len is not None:
            self.max_model_len = answer.max_model_len
        self._counts[request.key] = answer.count
        while len(self._counts) > _CACHE_SIZE:
            self._counts.popitem(last=False)
        if request.chars >= _MIN_CHARS_TO_LEARN and answer.count > request.media_tokens:
            ratio = (answer.count - request.media_tokens) / request.chars
            self.tokens_per_char = min(1.5, max(0.05, ratio))
        return ContextCount(answer.count, True, self.max_model_len)
