"""How the next turns are sent: model, system prompt, sampling, tools, and who
approves tool calls. Every change is saved with the conversation at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from vllm_chat.core.engine import Approver
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.session.base import SessionBase

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.media.policy import MediaPolicy
    from vllm_chat.core.params_form import SessionSettingsResult

ToolChoice = Literal["auto", "none", "required"]


class ControlsPart(SessionBase):
    """Changing how the next turns are sent."""

    def set_model(self, name: str) -> None:
        """Use `name` from the next turn on; the conversation is kept (and saved)."""
        if name != self.conversation.model:
            self.conversation.model = name
            self._context_used = self._last_usage()
            self._changed()

    def set_system_prompt(self, text: str) -> None:
        """Send `text` as the system prompt from the next turn on ('' sends none)."""
        self.conversation.system_prompt = text.strip()
        self._changed()

    def set_params(self, params: SamplingParams) -> None:
        """Sample the next turns with `params`."""
        self.conversation.params = params
        self._changed()

    def apply_settings(self, result: SessionSettingsResult) -> None:
        """Take the settings panel's values for this conversation (from the next turn on)."""
        conv = self.conversation
        if result.model:
            conv.model = result.model
        conv.system_prompt = result.system_prompt
        conv.params = result.params
        conv.tools_enabled = result.tools_enabled
        if result.generation is not None:
            conv.kind = result.generation.kind
            conv.constraint = result.generation.constraint
            conv.reasoning_controls = result.generation.reasoning
        self._changed()

    def set_tools(self, on: bool) -> bool:
        """Offer tools in this conversation, or stop offering them (saved at once);
        returns whether tools are on now."""
        self.conversation.tools_enabled = on
        self._changed()
        return self.tools_on

    def set_tool_choice(self, choice: ToolChoice) -> None:
        """Send `tool_choice` = auto, none or required with the tools from the next turn on."""
        self.tool_choice = choice
        self._status_changed()

    def accept_media_offer(self, policy: MediaPolicy) -> None:
        """Leave media out of requests as the accepted offer says, for this conversation and
        model (the offer lapses when either changes)."""
        self._media_policy = policy
        self._status_changed()

    # -- tools -----------------------------------------------------------------------------

    def let_input_first(self, waiting: Callable[[], bool]) -> None:
        """Say how to know that the user's input is on its way to the screen (`waiting()`):
        a turn's long steps (a long history's fingerprint, its saves) wait for it to be shown."""
        self._engine.loop_share.input_waiting = waiting

    def set_approver(self, approver: Approver | None) -> None:
        """Who is asked before a call that needs approval runs (None: such calls are denied)."""
        self._engine.approver = approver

    @property
    def tools_available(self) -> bool:
        """Whether there is any tool the model could be offered."""
        tools = self._engine.tools
        return bool(tools and tools.names())

    def _forget_approvals(self) -> None:
        # "Allow for this session" means this conversation: the next one asks again.
        if self._engine.approval is not None:
            self._engine.approval.reset()
