"""StatusBar: server, model, connection state, context use and live speed, on one line."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from vllm_chat.core import format as fmt
from vllm_chat.core.redact import url_host
from vllm_chat.core.text import inert
from vllm_chat.ui.colors import theme_color

STATE_LABELS = {
    "connecting": ("◌", "connecting…"),
    "connected": ("●", "connected"),
    "disconnected": ("○", "disconnected"),
    "error": ("✗", "server problem"),
    "streaming": ("●", "streaming"),
}


class StatusBar(Static):
    """The line at the top: where we are connected and how the last reply went."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $status-bar-background;
        color: $text-muted;
    }
    """

    server: reactive[str] = reactive("")
    """The base URL (only its host is shown, without credentials)."""
    model: reactive[str] = reactive("")
    """The model for the next turn."""
    state: reactive[str] = reactive("connecting")
    """connecting, connected, disconnected, error or streaming."""
    context_used: reactive[int | None] = reactive(None)
    """Tokens the conversation took at the last reply (prompt + completion)."""
    context_max: reactive[int | None] = reactive(None)
    """The model's context window."""
    detail: reactive[str] = reactive("")
    """Extra text on the right (e.g. last reply stats or live speed)."""
    demo: reactive[bool] = reactive(False)
    """Talking to the built-in simulated server."""
    tools: reactive[bool] = reactive(True)
    """Whether tools are offered to the model."""
    tool_choice: reactive[str] = reactive("auto")
    """`tool_choice` sent with the tools (shown when it is not "auto")."""

    def render(self) -> Text:
        icon, label = STATE_LABELS.get(self.state, ("?", self.state))
        variable = {"connected": "success", "streaming": "warning", "disconnected": "error",
                    "error": "error"}.get(self.state)
        style = theme_color(self.app, variable) if variable else ""
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(icon + " ", style=style)
        text.append(inert(self.model) or "no model", style="bold")
        host = url_host(self.server)  # never the user:password@ part
        text.append(f"  @ {inert(host)}")
        if self.demo:
            text.append("  (demo)", style="italic")
        text.append(f"  · {label}")
        if self.context_max:
            used = self.context_used or 0
            text.append(f"  · ctx {fmt.count(used)}/{fmt.count(self.context_max)}")
        if not self.tools:
            text.append("  · tools off")
        elif self.tool_choice != "auto":
            text.append(f"  · tools: {self.tool_choice}")
        if self.detail:
            text.append(f"  · {inert(self.detail)}")
        return text
