"""What a front end shows about a session, as one immutable snapshot.

`ChatSession.status()` returns a `SessionStatus`; the TUI draws its header
from it in one place and one-shot mode reads what it needs. Nothing in here
changes state: a new snapshot is taken whenever the session says something
changed (`ChatSession.subscribe`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from vllm_chat.core.candidates import CandidateStatus

ConnectionState = Literal["connecting", "connected", "disconnected", "error"]
"""Where the session stands with its server.

connecting: nothing known yet; connected: the model list arrived;
disconnected: the server can't be reached (retrying); error: it answered,
but with a problem a retry won't fix (wrong key, wrong URL)."""

ActivityPhase = Literal["waiting", "thinking", "answering", "calling", "approval", "tool", "busy"]
"""What a running turn is doing: waiting for the first token, streaming
reasoning, streaming the answer, streaming a tool call's arguments, waiting
for the user's approval, running a tool, or waiting to send the request again
because the server said it is busy (429/503 with Retry-After)."""


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
    task: Literal["reply", "compact"] = "reply"
    """What the turn is for: a reply, or the summary of a compaction."""
    retry_at: float | None = None
    """In the busy phase: `time.monotonic()` when the request goes again."""

    def at(self, now: float) -> Activity:
        """This activity as it stands at `now`: once a busy server's wait is over the request
        has gone again, and the turn waits for its first token (timed from then)."""
        if self.phase == "busy" and self.retry_at is not None and now >= self.retry_at:
            return replace(self, phase="waiting", since=self.retry_at, sent_at=self.retry_at, retry_at=None)
        return self

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
    """The prompt the next request would send, draft included, in tokens: the server's
    count when `context_exact`, else an estimate (None: not known yet)."""
    context_max: int | None = None
    """The model's context window (`max_model_len`), when the server said."""
    context_exact: bool = False
    """Whether `context_used` is the server's own count (`/tokenize`) of the request as it
    would be sent now; False while a count is under way or when the server can't count."""
    context_note: str = ""
    """Why `context_used` is an estimate, in words ('' when exact)."""
    context_problem: str = ""
    """Why the server gives no exact count, in a few words ("no /tokenize", "/tokenize
    slow", ...); '' while it counts (or is only about to)."""
    context_min_reply: int = 0
    """The least room a reply needs; a request with less is not sent without asking."""
    context_notice: str = ""
    """A remark to make once about the context (tool schemas taking a large share of the
    window), with steps as `{binding-id}`; '' when there is none."""
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
    insecure: bool = False
    """TLS certificates are not checked (`insecure = true`): the header warns."""
    profile: str = ""
    """The config profile the server comes from ('' when none was chosen)."""
    constraint: str = ""
    """The structured-output constraint replies must match, in short (`json: person`; '' for none)."""
    completion_mode: bool = False
    """The conversation is a document the model continues (`/v1/completions`)."""
    reasoning: str = ""
    """The reasoning controls that are set, in short (`effort low · budget 512`; '' for none)."""
    server_load: str = ""
    """The server's load in a few words while it is busy, from its `/metrics`
    ("server busy: 3 waiting · KV 97 %"; '' when it isn't, or can't say)."""
    waiting_reason: str = ""
    """While a reply waits for its first token: why, when the server's metrics say
    ("3 requests ahead, KV cache 97 %"; '' otherwise)."""
    queued: int = 0
    """Prompts waiting to be sent when the running turn ends."""
    candidates: tuple[CandidateStatus, ...] = ()
    """The replies of the last N-candidates or comparison run, while it streams and until
    one is picked or the group is closed (empty otherwise)."""

    @property
    def context_share(self) -> float | None:
        """How much of the window the next request takes (None: unknown)."""
        if self.context_used is None or not self.context_max:
            return None
        return self.context_used / self.context_max

    @property
    def context_over(self) -> bool:
        """Whether the next request would leave less room than a reply needs."""
        if self.context_used is None or not self.context_max:
            return False
        return self.context_used + self.context_min_reply > self.context_max
