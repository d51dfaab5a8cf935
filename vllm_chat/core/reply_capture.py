"""What the engine keeps of one request besides the reply's text: the request itself
(without its messages), vLLM's per-request metrics, and each token's logprobs.

The engine makes one `ReplyCapture` per request and hands it each chunk's
usage and each choice; `finish()` (on every way out: done, stopped, failed)
writes the logprobs into the message. The logprobs are packed once at the
end rather than at every periodic save: packing is linear in the reply, and
doing it every few seconds would make a long reply quadratic.
"""

from __future__ import annotations

from typing import Any

from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.logprobs import LogprobsRecorder, TokenKind
from vllm_chat.core.request_record import RequestRecord, ServerTimings


class ReplyCapture:
    """The request, metrics and logprobs of one assistant message, as its stream goes."""

    def __init__(self, message: Message, conv: Conversation, request: dict[str, Any], *,
                 continuing: bool) -> None:
        self.message = message
        """The reply being streamed."""
        earlier = [m for m in conv.messages if m is not message]
        message.request = RequestRecord.of(
            request, base_url=conv.base_url,
            upto=message.id if continuing else (earlier[-1].id if earlier else None),
            partial_chars=len(message.content) if continuing else None,
        )
        message.server_metrics = None
        wants = request.get("logprobs") is True
        top_n = int(request.get("top_logprobs") or 0)
        self._logprobs = LogprobsRecorder(top_n, message.logprobs if continuing else None) if wants else None
        if not continuing:
            message.logprobs = None

    def usage_chunk(self, chunk: Any) -> None:
        """A chunk that carries usage (vLLM puts its per-request metrics there)."""
        timings = ServerTimings.from_response(chunk)
        if timings is not None:
            self.message.server_metrics = timings

    def logprobs(self, logprobs: Any, kind: TokenKind, text: str | None) -> None:
        """A choice's `logprobs` (its `content` entries) from one chunk, and the text the
        chunk added to the reply (None for a tool call's arguments)."""
        if self._logprobs is None:
            return
        entries = logprobs.get("content") if isinstance(logprobs, dict) else getattr(logprobs, "content", None)
        if entries:
            self._logprobs.add(entries, kind, text)

    def finish(self) -> None:
        """The request is over (however it ended): keep the logprobs in the message."""
        if self._logprobs is not None:
            self.message.logprobs = self._logprobs.pack()
            self._logprobs = None
