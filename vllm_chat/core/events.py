"""The closed set of events the engine emits while it runs a turn.

Every consumer (the TUI, the one-shot printer, the session recorder) sees the
same events in the same order. The engine has already applied each event to
the conversation when it is emitted, so a consumer may read the conversation
and never has to rebuild state from events.

Order for one user turn, which may span several rounds when tools are used::

    TurnStarted  (one per assistant message / round)
      ServerBusy*                       (the server said 429/503 with Retry-After: sent again after the wait)
      ReasoningDelta* ContentDelta* ToolCallDelta* UsageUpdated?
    ToolCallReady*                      (when the round asked for tools)
      ToolApprovalNeeded? ToolRunning ToolResult   (per call)
    TurnStarted ...                     (the next round)
    TurnFinished | TurnStopped | TurnFailed        (exactly one, last)

Several replies to one turn (N candidates, a model comparison; see
`core/candidates.py`) come as::

    CandidatesStarted
      CandidateEvent(slot, TurnStarted | ReasoningDelta | ContentDelta |
                     ToolCallDelta | UsageUpdated)*     (slots interleave)
      CandidateEvent(slot, TurnFinished | TurnFailed | TurnStopped)  (one per slot)
    CandidatesDone                                     (exactly one, last)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vllm_chat.core.conversation import Message, ToolCall, Usage
from vllm_chat.core.errors import ChatError

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.candidates import CandidateRun


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """A request was sent; `message` is the new (empty) assistant message, or the reply being
    continued."""

    message: Message
    round: int
    """1 for the first request of the turn, 2 after the first tool results, ..."""
    content: str = ""
    """What the reply's text was when the request was sent (a continued reply's earlier text).
    A view of the reply starts from this, not from `message`: by the time a front end shows
    this event, the message may have taken in text whose deltas are still to come to it."""
    reasoning: str = ""
    """The same for the reply's reasoning."""

    @classmethod
    def of(cls, message: Message, round: int) -> TurnStarted:
        """The event for a request of `message` sent now, with what the reply holds now."""
        return cls(message, round, message.content, message.reasoning or "")


@dataclass(frozen=True, slots=True)
class ServerBusy:
    """The server turned the request away (429 or 503) and asked to wait (`Retry-After`):
    it goes again after `wait` seconds, unless the turn is stopped first."""

    error: ChatError
    """The server's answer (kind `busy`, with its status and message)."""
    wait: float
    """Seconds until the request is sent again."""


@dataclass(frozen=True, slots=True)
class ContentDelta:
    """A piece of the answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the reasoning text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call: the first for an index carries id and name."""

    index: int
    id: str | None
    name: str | None
    arguments_fragment: str


@dataclass(frozen=True, slots=True)
class UsageUpdated:
    """The server reported token usage for the current request."""

    usage: Usage


@dataclass(frozen=True, slots=True)
class ToolCallReady:
    """A call's arguments are complete; it will be checked and run next."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class ToolApprovalNeeded:
    """The call needs the user's approval; the engine waits for the approver."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class ToolRunning:
    """The tool started running (approval, if any, was given)."""

    call: ToolCall
    started_at: float
    """`time.monotonic()` when it started, for an elapsed-time display."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A call ended; `message` is the tool message appended to the conversation."""

    call: ToolCall
    message: Message


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """The turn ended normally; `message` is the last assistant message."""

    message: Message


@dataclass(frozen=True, slots=True)
class TurnStopped:
    """The user stopped the turn; `message` (kept, marked stopped) may be partial."""

    message: Message | None


@dataclass(frozen=True, slots=True)
class TurnFailed:
    """The turn failed; `partial` is the assistant message (kept, marked failed), if any."""

    error: ChatError
    partial: Message | None


@dataclass(frozen=True, slots=True)
class CandidatesStarted:
    """Several replies to the same turn start streaming side by side. `run` holds them:
    their messages (the first is shown, the others are its alternatives), labels and live
    figures (`CandidateRun.status`)."""

    run: CandidateRun


@dataclass(frozen=True, slots=True)
class CandidateEvent:
    """An event of one of the replies (`slot`, 0-based), as a plain turn would emit it."""

    slot: int
    event: Event


@dataclass(frozen=True, slots=True)
class CandidatesDone:
    """Every reply of a `CandidatesStarted` ended (`stopped`: the user stopped them)."""

    messages: tuple[Message, ...]
    stopped: bool = False


Event = (
    TurnStarted
    | ServerBusy
    | ContentDelta
    | ReasoningDelta
    | ToolCallDelta
    | UsageUpdated
    | ToolCallReady
    | ToolApprovalNeeded
    | ToolRunning
    | ToolResult
    | TurnFinished
    | TurnStopped
    | TurnFailed
    | CandidatesStarted
    | CandidateEvent
    | CandidatesDone
)
"""Any engine event."""

TURN_ENDS = (TurnFinished, TurnStopped, TurnFailed)
"""The events that end a turn (exactly one comes, last), for `isinstance`."""
