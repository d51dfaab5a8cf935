"""Generation controls of the conversation: its structured-output constraint, its reasoning
controls, chat or completion mode, and a model's own chat template from the config.

Each is kept with the conversation and saved at once when it changes. While a
turn runs, this part writes down what each reply's request carried (the
reasoning controls, for its footer) and, when the reply ends, checks it
against the constraint the request carried (`Message.check`), before the
recorder saves it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.events import (
    CandidateEvent,
    CandidatesStarted,
    Event,
    TurnFinished,
    TurnStarted,
    TurnStopped,
)
from vllm_chat.core.generation.check import check_reply
from vllm_chat.core.generation.constraint import Constraint
from vllm_chat.core.generation.reasoning import ReasoningControls
from vllm_chat.core.session.base import SessionBase

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.conversation import ConversationKind, Message
    from vllm_chat.core.session.status import SessionStatus
    from vllm_chat.core.turn_request import TurnOptions


COMPLETION_TEXT_ONLY = ("Completion mode sends text only: the document a base model continues can't hold "
                        "images, video, audio or @-mentioned files. Remove them, or switch back to chat.")
"""Why a message with attachments can't be added in completion mode."""


class GenerationPart(SessionBase):
    """Constraint, reasoning controls, completion mode, chat templates."""

    _sent_constraint: Constraint | None = None  # what the running turn's requests carry

    # -- structured outputs ---------------------------------------------------------------

    @property
    def constraint(self) -> Constraint | None:
        """The constraint every reply must match (None: free text)."""
        return self.conversation.constraint

    def set_constraint(self, constraint: Constraint | None) -> None:
        """Constrain the replies from the next turn on (None: free text again); saved at once."""
        if constraint != self.conversation.constraint:
            self.conversation.constraint = constraint
            self._changed()

    # -- reasoning ------------------------------------------------------------------------

    @property
    def reasoning_controls(self) -> ReasoningControls:
        """reasoning_effort, thinking_token_budget, include_reasoning, chat_template_kwargs."""
        return self.conversation.reasoning_controls

    def set_reasoning_controls(self, controls: ReasoningControls) -> None:
        """Send `controls` from the next turn on; saved at once."""
        if controls != self.conversation.reasoning_controls:
            self.conversation.reasoning_controls = controls
            self._changed()

    # -- completion mode --------------------------------------------------------------------

    @property
    def completion_mode(self) -> bool:
        """Whether the conversation is a document the model continues (`/v1/completions`)."""
        return self.conversation.kind == "completion"

    def set_completion_mode(self, on: bool) -> None:
        """Send the conversation as a document to continue (on) or as a chat (off) from the
        next turn on; saved at once."""
        kind: ConversationKind = "completion" if on else "chat"
        if kind != self.conversation.kind:
            self.conversation.kind = kind
            self._changed()

    def document(self) -> str:
        """The text a completion-mode turn would send now (what the model continues)."""
        from vllm_chat.core.generation.completion import document

        return document(self.conversation)

    async def _with_window(self, options: TurnOptions) -> TurnOptions:
        """`options` with the model's context window, asked of the server first when a
        completion turn needs it and it is not known yet: `/v1/completions` stops after 16
        tokens unless `max_tokens` says otherwise (see `core.generation.completion`)."""
        if not self.completion_mode or options.context_window is not None or self.conversation.params.max_tokens:
            return options
        if self.context_window is None:
            try:
                await self.connect()
            except ChatErrorException:
                return options  # the turn itself will say what is wrong with the server
        return replace(options, context_window=self.context_window)

    # -- chat templates -----------------------------------------------------------------------

    # -- what front ends show ------------------------------------------------------------------

    def status(self) -> SessionStatus:
        """The session's status, with the conversation's generation controls."""
        conv = self.conversation
        return replace(super().status(), constraint=conv.constraint.tag if conv.constraint else "",
                       completion_mode=conv.kind == "completion",
                       reasoning=conv.reasoning_controls.summary())

    def _note_generation(self, event: Event) -> None:
        """Write down what a reply's request carried, and check the reply when it ends
        (called for every turn event, before the recorder sees it; each of several
        candidates or compared replies is checked like a single reply)."""
        match event:
            case CandidatesStarted():
                self._sent_constraint = self.conversation.constraint
            case TurnStarted(message=message):
                self._sent_constraint = self.conversation.constraint
                self._note_controls(message)
            case CandidateEvent(event=TurnStarted(message=message)):
                self._note_controls(message)
            case TurnFinished(message=message) | CandidateEvent(event=TurnFinished(message=message)):
                self._check(message, stopped=False)
            case TurnStopped(message=message) | CandidateEvent(event=TurnStopped(message=message)) \
                    if message is not None:
                self._check(message, stopped=True)

    def _note_controls(self, message: Message) -> None:
        controls = self.conversation.reasoning_controls
        chat = self.conversation.kind == "chat"
        message.reasoning_controls = controls.model_copy(deep=True) if chat and controls.is_set else None
        message.check = None

    def _check(self, message: Message, *, stopped: bool) -> None:
        constraint = self._sent_constraint
        if constraint is None or message.role != "assistant" or message.tool_calls:
            return
        message.check = check_reply(constraint, message.content, finish_reason=message.finish_reason,
                                    stopped=stopped)
