"""Who decides whether a call may run: the registry's rules, the user's answers, `--yes`.

The engine asks `needs_prompt` before each call; when it is True the UI asks
the user and the engine passes the answer to `record`. "Allow for this
session" is remembered per tool name until `reset` (a new or another
conversation); "allow once", "deny" and "stop" are not.

A call can need approval although its tool doesn't (a read of a file that
looks like a secret, see `Tool.sensitivity`); "allow for this session" then
covers that same file for that tool, not the tool's every call.
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
        self._session_calls: set[tuple[str, str]] = set()

    @property
    def allowed_for_session(self) -> frozenset[str]:
        """Tools the user allowed for the rest of the session."""
        return frozenset(self._session)

    def needs_prompt(self, call: ToolCall | str) -> bool:
        """Whether to ask the user before running `call` (or any call to the tool named so).

        For a call this may read a few KB of the file it names (run it off the event loop)."""
        if self.auto_approve:
            return False
        name = call if isinstance(call, str) else call.name
        if not isinstance(call, str):
            reason = self.registry.sensitivity(call)
            if reason is not None:
                return (name, reason) not in self._session_calls
        return name not in self._session and self.registry.needs_approval(name)

    def record(self, call: ToolCall | str, decision: Decision) -> None:
        """Remember the user's answer (only ALLOW_SESSION has a lasting effect: for the tool,
        or for a call that needed approval on its own, for that same file)."""
        if decision is not Decision.ALLOW_SESSION:
            return
        name = call if isinstance(call, str) else call.name
        reason = None if isinstance(call, str) else self.registry.sensitivity(call)
        if reason is not None:
            self._session_calls.add((name, reason))
        else:
            self._session.add(name)

    def reset(self) -> None:
        """Forget session-wide allowances (for a new session)."""
        self._session.clear()
        self._session_calls.clear()

    def denied_outcome(self, call: ToolCall) -> ToolOutcome:
        """The outcome sent to the model when the user denied `call`."""
        return ToolOutcome(
            "denied",
            f"The user denied this call to {call.name}. Do not retry it; answer without it or ask the user.",
        )
