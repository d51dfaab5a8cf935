"""ToolApprovalScreen: ask before a tool marked `confirm` runs.

y allows once, a allows for the rest of the conversation, n denies (the model
is told), and Esc stops the whole turn, as it does while a reply streams.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from vllm_chat.core.conversation import ToolCall
from vllm_chat.core.text import inert
from vllm_chat.core.tools.approval import Decision
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog
from vllm_chat.ui.widgets.tool_call_panel import json_syntax, pretty_arguments


class ToolApprovalScreen(Dialog[Decision]):
    """Shows the call (and, for a shell tool, the exact command); y / a / n decide, esc stops."""

    DEFAULT_CSS = """
    ToolApprovalScreen {
        & > Vertical {
            width: 90;
            max-height: 85%;
            border: round $warning;
        }
        & .title { text-style: bold; color: $warning; }
        & .what { color: $text-muted; margin: 0 0 1 0; }
        & .command { background: $tool-panel-background; padding: 0 1; margin: 0 0 1 0; }
        & .hint { color: $text-muted; margin: 1 0 0 0; }
    }
    """

    BINDINGS = [
        Binding("y", "decide('allow_once')", "Allow once", id="approve-once"),
        Binding("a", "decide('allow_session')", "Allow for this session", id="approve-session"),
        Binding("n", "decide('deny')", "Deny", id="deny-tool"),
        Binding("escape", "decide('stop')", "Stop the turn", id="stop-at-approval"),
    ]

    def __init__(self, call: ToolCall, *, description: str = "", preview: str | None = None,
                 source: str | None = None) -> None:
        super().__init__()
        self.call = call
        """The call waiting for a decision."""
        self.description = description
        """What the tool does (its description)."""
        self.preview = preview
        """The exact command line, for shell tools."""
        self.source = source
        """Where the call runs when not here (`MCP server X`)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Run {inert(self.call.name)}?"), classes="title")
            if self.description:
                yield Static(Text(inert(self.description)), classes="what")
            if self.source:
                yield Static(Text(f"Runs on {inert(self.source)}."), classes="what")
            if self.preview:
                yield Static(Text("$ " + inert(self.preview)), classes="command")
            pretty, valid = pretty_arguments(self.call.arguments)
            body = json_syntax(self.app, pretty, background="surface") if valid else Text(inert(pretty))
            yield Static(body, classes="args")
            yield Static(with_keys(self.app, "{approve-once} allow once · {approve-session} allow for this "
                                             "session · {deny-tool} deny · {stop-at-approval} stop the turn"),
                         classes="hint", markup=False)

    def action_decide(self, choice: str) -> None:
        """Answer with `choice`: allow_once, allow_session, deny or stop."""
        self.dismiss(Decision(choice))
