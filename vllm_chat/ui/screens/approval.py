"""ToolApprovalScreen: ask before a tool that needs approval runs.

It opens by itself, often while the user is typing the next message, so it is
a `GuardedDialog`: until the user moves to it ({answer-dialog}, or a click),
typing goes on into the prompt and no key answers. Then y allows once, a
allows for the rest of the conversation, n denies (the model is told). Esc
stops the whole turn at any time, as it does while a reply streams.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from vllm_chat.core.conversation import ToolCall
from vllm_chat.core.text import inert
from vllm_chat.core.tools.approval import Decision
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.typing_guard import GuardedDialog
from vllm_chat.ui.widgets.tool_call_panel import arguments_preview

ANSWER_HINT = ("{approve-once} allow once · {approve-session} allow for this session · {deny-tool} deny · "
               "{stop-at-approval} stop the turn")
WAITING_HINT = ("Press {answer-dialog} (or click here) to answer; until then your typing goes on into the "
                "prompt. {stop-at-approval} stops the turn.")


class ToolApprovalScreen(GuardedDialog[Decision]):
    """Shows the call (for a shell tool the exact command, for a file that looks like a secret
    its name and why); after {answer-dialog}, y / a / n decide; esc stops."""

    DEFAULT_CSS = """
    ToolApprovalScreen {
        & > Vertical {
            width: 90;
            max-height: 85%;
            border: round $warning;
        }
        &.-waiting > Vertical { border: round $panel-lighten-2; }
        & .title { text-style: bold; color: $warning; }
        & .what { color: $text-muted; margin: 0 0 1 0; max-height: 4; }
        & .command { background: $tool-panel-background; padding: 0 1; margin: 0 0 1 0; }
        & .hint { color: $text-muted; margin: 0 0 1 0; }
        &.-waiting .hint { color: $warning; text-style: bold; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "decide('allow_once')", "Allow once", id="approve-once"),
        Binding("a", "decide('allow_session')", "Allow for this session", id="approve-session"),
        Binding("n", "decide('deny')", "Deny", id="deny-tool"),
        Binding("escape", "decide('stop')", "Stop the turn", id="stop-at-approval"),
        Binding("o", "open_arguments", "See the whole arguments", id="open-approval-arguments"),
    ]

    UNGUARDED_BINDINGS = frozenset({"answer-dialog", "stop-at-approval"})

    def __init__(self, call: ToolCall, *, description: str = "", preview: str | None = None,
                 source: str | None = None, guarded: bool = True) -> None:
        super().__init__(guarded=guarded)
        self.call = call
        """The call waiting for a decision."""
        self.description = description
        """What the tool does (its description)."""
        self.preview = preview
        """What the call will do: the exact command line for a shell tool, or why a file
        read needs approval."""
        self.source = source
        """Where the call runs when not here (`MCP server X`)."""
        self._hint = Static("", classes="hint", markup=False)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Run {inert(self.call.name)}?"), classes="title")
            # Under the title: on a small terminal the bottom of a long call is cut off, and
            # how to answer (tab first) must stay in sight.
            self._hint.update(with_keys(self.app, ANSWER_HINT if self.armed else WAITING_HINT))
            yield self._hint
            if self.description:
                yield Static(Text(inert(self.description)), classes="what")
            if self.source:
                yield Static(Text(f"Runs on {inert(self.source)}."), classes="what")
            if self.preview:
                yield Static(Text(inert(self.preview)), classes="command")
            yield Static(arguments_preview(self.app, self.call.arguments, background="surface",
                                           open_id="open-approval-arguments"), classes="args")

    def on_armed(self) -> None:
        self._hint.update(with_keys(self.app, ANSWER_HINT))

    def action_open_arguments(self) -> None:
        """Show the call's whole arguments (they may be too long for this dialog)."""
        from vllm_chat.ui.screens.text_view import TextViewScreen
        from vllm_chat.ui.widgets.tool_call_panel import pretty_arguments

        self.app.push_screen(TextViewScreen(f"Arguments of {self.call.name}",
                                            pretty_arguments(self.call.arguments)[0]))

    def action_decide(self, choice: str) -> None:
        """Answer with `choice`: allow_once, allow_session, deny or stop."""
        if not self.armed and choice != "stop":
            return  # only reachable by a binding the guard let through by mistake: never answer
        self.dismiss(Decision(choice))
