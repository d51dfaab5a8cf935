"""Who decides whether a call may run: the registry's rules, the user's answers, `--yes`.

The engine asks `needs_prompt` before each call; when it is True the UI asks
the user and the engine passes the answer to `record`. "Allow for this
session" is remembered per tool name until `reset` (a new or another
conversation); "allow once", "deny" and "stop" are not.
"""

from __future__ import annotations

from enum import Enum

from vllm_chat.core.conversation import ToolCall
from vllm_chat.core.tools.base import ToolOutcome
from vllm_chat.core.tools.registry import ToolRegistry


class Decision(Enum):
    """The user's answer to an approval prompt."""

    ALLOW_ONCE = "allow_once"
    """Run this call; ask again next time."""
    ALLOW_SESSION = "allow_session"
    """Run this call and every later call to the same tool in this session."""
    DENY = "deny"
    """Don't run it; the model is told the user said no."""
    STOP = "stop"
    """Don't run it and stop the whole turn, as Esc does while a reply streams."""


class ApprovalPolicy:
    """Decides which calls need the user's approval, remembering session-wide answers."""

    def __init__(self, registry: ToolRegistry, *, auto_approve: bool = False) -> None:
        self.registry = registry
        """Where the per-tool rules come from."""
        self.auto_approve = auto_approve
        """`--yes`: never ask."""
        self._session: set[str] = set()

    @property
    def allowed_for_session(self) -> frozenset[str]:
        """Tools the user allowed for the rest of the session."""
        return frozenset(self._session)

    def needs_prompt(self, name: str) -> bool:
        """Whether to ask the user before running a call to `name`."""
        if self.auto_approve or name in self._session:
            return False
        return self.registry.needs_approval(name)

    def record(self, name: str, decision: Decision) -> None:
        """Remember the user's answer for `name` (only ALLOW_SESSION has a lasting effect)."""
        if decision is Decision.ALLOW_SESSION:
            self._session.add(name)

    def reset(self) -> None:
        """Forget session-wide allowances (for a new session)."""
        self._session.clear()

    def denied_outcome(self, call: ToolCall) -> ToolOutcome:
        """The outcome sent to the model when the user denied `call`."""
        return ToolOutcome(
            "denied",
            f"The user denied this call to {call.name}. Do not retry it; answer without it or ask the user.",
        )
