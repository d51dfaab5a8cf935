"""What a front end shows about a session, as one immutable snapshot.

`ChatSession.status()` returns a `SessionStatus`; the TUI draws its header
from it in one place and one-shot mode reads what it needs. Nothing in here
changes state: a new snapshot is taken whenever the session says something
changed (`ChatSession.subscribe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ConnectionState = Literal["connecting", "connected", "disconnected", "error"]
"""Where the session stands with its server.

connecting: nothing known yet; connected: the model list arrived;
disconnected: the server can't be reached (retrying); error: it answered,
but with a problem a retry won't fix (wrong key, wrong URL)."""

ActivityPhase = Literal["waiting", "thinking", "answering", "calling", "approval", "tool"]
"""What a running turn is doing: waiting for the first token, streaming
reasoning, streaming the answer, streaming a tool call's arguments, waiting
for the user's approval, or running a tool."""


@dataclass(frozen=True)
class Activity:
    """The running turn, as far as a front end needs to show it."""

    phase: ActivityPhase
    """What the turn is doing now."""
    since: float
    """`time.monotonic()` when this phase began (for "waiting 3 s")."""
    sent_at: float
    """`time.monotonic()` when the current request was sent."""
    first_token_at: float | None = None
    """`time.monotonic()` of the first token of the current request, once one came."""
    tokens: int = 0
    """Text pieces received in the current request (a token count, near enough)."""
    tool: str | None = None
    """The tool waiting for approval or running, in those phases."""

    def tokens_per_second(self, now: float) -> float | None:
        """Streaming speed so far, or None before it can be measured (under a second of
        streaming or a handful of tokens: the figure would be noise)."""
        if self.first_token_at is None or self.tokens < 8:
            return None
        span = now - self.first_token_at
        return self.tokens / span if span >= 1.0 else None


@dataclass(frozen=True)
class SessionStatus:
    """Everything the header shows about a session, at one moment."""

    server: str
    """The base URL (credentials never included)."""
    model: str
    """The model the next turn uses ('' until the server said which it serves)."""
    connection: ConnectionState
    """Where the session stands with its server."""
    connection_problem: str = ""
    """Why the server can't be used, when `connection` is disconnected or error."""
    context_used: int | None = None
    """Tokens the conversation takes now (None: not known yet)."""
    context_max: int | None = None
    """The model's context window (`max_model_len`), when the server said."""
    tools_on: bool = True
    """Whether tools are offered to the model in this conversation."""
    tool_choice: str = "auto"
    """`tool_choice` sent with the tools."""
    activity: Activity | None = None
    """The running turn (None when idle)."""
    note: str = ""
    """A standing remark about how requests are sent (e.g. attachments left out)."""
    save_problem: str = ""
    """Why the conversation can't be saved right now ('' when saving works)."""
    demo: bool = False
    """The server is the built-in simulated one."""
    queued: int = 0
    """Prompts waiting to be sent when the running turn ends."""
