"""What the chat screen changes about generation: the constraint, reasoning_effort,
completion mode, and the offer of completion mode when a model has no chat template.

A mixin of `ChatScreen`; `generation_commands` gives the command palette's entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from vllm_chat.core.errors import ChatError
from vllm_chat.core.generation.constraint import Constraint, ConstraintKind
from vllm_chat.core.generation.form import CONSTRAINT_OPTIONS
from vllm_chat.core.generation.reasoning import REASONING_EFFORTS
from vllm_chat.ui.keys import key_hint

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.ui.screens.chat import ChatScreen


class GenerationActions:
    """Constraint, reasoning effort and completion mode from keys and the palette."""

    def action_toggle_completion_mode(self: ChatScreen) -> None:
        """Send this conversation as a document to continue (completion mode), or as a chat."""
        on = not self.session.completion_mode
        self.session.set_completion_mode(on)
        self.show_conversation()  # replies are drawn literally in completion mode, as Markdown in chat
        if on:
            self.notify("Completion mode: the conversation is one document the model continues "
                        "(/v1/completions). What you send is added to it.", title="Completion mode", markup=False)
        else:
            self.notify("Chat mode: the conversation is sent as messages.", title="Completion mode", markup=False)

    def ask_constraint(self: ChatScreen, kind: ConstraintKind) -> None:
        """Set a constraint of this kind for the conversation (asking for its value first)."""
        if kind == "json_object":
            self.use_constraint(Constraint(kind="json_object"))
            return
        from vllm_chat.ui.screens.constraint_input import ConstraintInputScreen

        def typed(constraint: Constraint | None) -> None:
            if constraint is not None:
                self.use_constraint(constraint)

        self.app.push_screen(ConstraintInputScreen(kind, self.session.constraint, base=Path.cwd()), typed)

    def use_constraint(self: ChatScreen, constraint: Constraint | None) -> None:
        """Constrain replies from the next turn on (None: free text again)."""
        self.session.set_constraint(constraint)
        if constraint is None:
            self.notify("Replies are free text again.", title="Constraint", markup=False)
        else:
            self.notify(f"Replies must match {constraint.label} from the next turn on.", title="Constraint",
                        markup=False)

    def use_reasoning_effort(self: ChatScreen, effort: str | None) -> None:
        """Send reasoning_effort = `effort` from the next turn on (None: not at all)."""
        controls = self.session.reasoning_controls.model_copy(update={"reasoning_effort": effort})
        self.session.set_reasoning_controls(controls)
        self.notify(f"reasoning_effort {effort} from the next turn." if effort else "reasoning_effort not sent.",
                    title="Reasoning", markup=False)

    def _offer_completion_mode(self: ChatScreen, error: ChatError) -> None:
        """The model has no chat template: offer to continue this conversation as a document."""
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        def answered(go: bool | None) -> None:
            if go and self.session.rewind_to_last_user():
                self.session.set_completion_mode(True)
                self.show_conversation()
                self.run_turn()

        self.app.push_screen(ConfirmScreen(
            f"{error.message} Use completion mode for this conversation?", "Completion mode", "Not now",
            detail="The conversation becomes one document the model continues (/v1/completions), with the "
                   f"same sampling settings. {key_hint(self.app, 'completion-mode')} switches back to chat.",
            destructive=False, guarded=True), answered)


def generation_commands(chat: ChatScreen) -> Iterator[SystemCommand]:
    """The command palette's entries for constraints, reasoning effort and completion mode."""
    for option in CONSTRAINT_OPTIONS:
        if option.kind is None:
            continue
        yield SystemCommand(f"Constraint: {option.label}", f"Every reply must match: {option.placeholder}",
                            lambda kind=option.kind: chat.ask_constraint(kind))
    yield SystemCommand("Clear constraint", "Replies are free text again", lambda: chat.use_constraint(None))
    for effort in REASONING_EFFORTS:
        yield SystemCommand(f"Reasoning effort: {effort}", f"Send reasoning_effort = {effort}",
                            lambda e=effort: chat.use_reasoning_effort(e))
    yield SystemCommand("Reasoning effort: default", "Don't send reasoning_effort",
                        lambda: chat.use_reasoning_effort(None))
    yield SystemCommand("Completion mode", "Send the conversation as a document to continue, or as a chat again",
                        chat.action_toggle_completion_mode)
