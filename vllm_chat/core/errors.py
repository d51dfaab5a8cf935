"""What can go wrong talking to a server, as one value a user can act on.

`ChatError` is plain data: a kind (for code), a message (what happened) and a
hint (what to do). `client.py` maps every SDK exception and every odd stream
ending onto it; the TUI and the one-shot mode show it the same way.

Hints name the user's next step without naming a key: a step a front end
offers is written as a binding id in braces (`{pick-model}`), and each front
end renders it its own way (the TUI with the key the keymap gives it, one-shot
mode with the command-line flag). `render_hint` does the substitution.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from vllm_chat.core.urls import redact_urls

ErrorKind = Literal[
    "connection",        # nothing listens at the URL (vLLM refuses while it loads)
    "timeout",           # no byte for longer than the read timeout
    "auth",              # 401: the server wants a (different) API key
    "wrong_path",        # {"detail": "Not Found"}: base URL without /v1 or a typo
    "unknown_model",     # 404 from vLLM's model check
    "context_length",    # prompt longer than max_model_len
    "tools_unsupported", # server started without --enable-auto-tool-choice
    "not_multimodal",    # media sent to a text-only model
    "too_many_media",    # more images than --limit-mm-per-prompt
    "bad_request",       # any other 400
    "busy",              # 429/503: rate limited, queue full or engine paused (maybe with Retry-After)
    "tls",               # the server's certificate can't be trusted, or the port doesn't speak TLS
    "server",            # 5xx
    "stream_error",      # an error event inside a 200 stream
    "truncated",         # the stream ended without a finish_reason
    "round_limit",       # the tool loop hit tools.max_rounds
    "bad_response",      # the server answered, but not with what the API promises
    "attachment",        # a media file the conversation refers to is missing or invalid
    "lora_disabled",     # {"detail": "Not Found"} on /v1/load_lora_adapter: no runtime LoRA updating
    "lora_failed",       # the server refused to load or unload an adapter (path, rank, name)
    "conflict",          # found before sending: a combination vLLM refuses or mishandles
    "no_chat_template",  # chat with a base model: it has no chat template (completion mode works)
    "untrusted_template",  # a request chat_template; the server lacks --trust-request-chat-template
    "internal",          # a bug on our side; shown rather than crashing
]


@dataclass(frozen=True)
class ChatError:
    """A failure described for a person: what happened and what to do about it."""

    kind: ErrorKind
    """Machine-readable category (see `ErrorKind`)."""
    message: str
    """What happened, in one sentence (server text included verbatim when useful)."""
    hint: str = ""
    """What to do about it; empty when there is nothing to suggest."""
    status: int | None = None
    """The HTTP status, when there was one."""
    retryable: bool = False
    """True when sending the same turn again may well work (timeouts, 5xx, cut streams)."""
    details: dict[str, object] = field(default_factory=dict)
    """Extra facts for the UI: e.g. `models` (served names), `max_model_len`, `url`."""

    def __post_init__(self) -> None:
        # Messages quote URLs and server text; a key inside a URL must not reach the
        # screen, stderr, --json or a session file, whoever built the error.
        for name in ("message", "hint"):
            value = getattr(self, name)
            clean = redact_urls(value)
            if clean is not value:
                object.__setattr__(self, name, clean)
        if self.details:
            object.__setattr__(self, "details", {
                k: redact_urls(v) if isinstance(v, str) else v for k, v in self.details.items()})

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()

    @property
    def actions(self) -> tuple[str, ...]:
        """The binding ids of the steps that help, best first (a front end shows their keys)."""
        if self.kind == "unknown_model":
            return ("pick-model", "retry")
        if self.kind == "context_length":
            return ("compact", "new-conversation")
        if self.kind == "tools_unsupported":
            return ("toggle-tools", "retry")
        if self.kind == "conflict":
            return ("open-settings", "retry")
        if self.kind == "no_chat_template":
            return ("completion-mode",)
        if self.kind in ("auth", "wrong_path", "internal", "untrusted_template", "tls"):
            return ()  # the fix is outside the app (a flag, the server); the hint says which
        if self.retryable or self.kind in ("bad_request", "round_limit"):
            return ("retry",)
        return ()


_STEP = re.compile(r"\{([a-z0-9]+(?:-[a-z0-9]+)*)\}")


def render_hint(text: str, steps: Mapping[str, str]) -> str:
    """`text` with each `{binding-id}` replaced by how this front end takes that step.

    An id `steps` doesn't know is left as it is, so server text that happens to
    hold braces is never mangled."""
    return _STEP.sub(lambda m: steps.get(m.group(1), m.group(0)), text)


class ChatErrorException(Exception):
    """Carries a `ChatError` through code that raises (the client's helpers)."""

    def __init__(self, error: ChatError) -> None:
        super().__init__(str(error))
        self.error = error
