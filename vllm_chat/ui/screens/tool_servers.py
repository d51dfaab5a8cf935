"""ToolServersScreen: the MCP tool servers, their state and tools, and reconnecting them.

The list on the left names each configured server with its state
(connecting, ready with N tools, failed, disabled); the pane beside it shows
the highlighted server in full: how it is reached, its tools (the name the
model sees, and whether each call asks first), config notes, and for a
failed server the reason and the last lines of its stderr. The screen
redraws whenever a server's state changes; `r` connects the highlighted
server again, `R` all of them.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from vllm_chat.core.mcp.manager import ServerStatus
from vllm_chat.core.session import ChatSession
from vllm_chat.core.text import inert
from vllm_chat.ui.colors import theme_color
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog

_LOOK = {
    # state: (symbol, theme variable for its colour)
    "connecting": ("…", "tool-pending"),
    "ready": ("✓", "tool-ok"),
    "failed": ("✗", "tool-error"),
    "stopped": ("■", "text-muted"),
    "disabled": ("–", "text-muted"),
}


class ToolServersScreen(Dialog[None]):
    """Every configured MCP server; r / R reconnect, esc closes."""

    DEFAULT_CSS = """
    ToolServersScreen {
        & > Vertical { width: 110; height: 80%; }
        & Horizontal { height: 1fr; }
        & OptionList { width: 1fr; min-width: 22; max-width: 30; height: 1fr; border: none; }
        & VerticalScroll { width: 3fr; height: 1fr; padding: 0 0 0 1; }
        & .section { text-style: bold; margin: 1 0 0 0; }
        & .stderr { color: $text-muted; }
    }
    """

    BINDINGS = [
        Binding("r", "reconnect(False)", "Reconnect this server", id="reconnect-tool-server"),
        Binding("R", "reconnect(True)", "Reconnect every server", id="reconnect-tool-servers"),
        Binding("escape", "close", "Close", id="close-tool-servers"),
    ]

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        """Where the servers' state comes from and reconnects go."""
        self._statuses: list[ServerStatus] = []
        self._unwatch = lambda: None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Tool servers (MCP)", classes="title", markup=False)
            with Horizontal():
                yield OptionList(id="servers")
                with VerticalScroll(id="server-detail"):
                    yield Static("", id="detail", markup=False)
            yield Static(with_keys(self.app, "↑/↓ choose · {reconnect-tool-server} reconnect it · "
                                             "{reconnect-tool-servers} reconnect all · {close-tool-servers} close"),
                         classes="hint", markup=False)

    def on_mount(self) -> None:
        self._unwatch = self.session.watch_tool_servers(self.refresh_servers)
        self.set_interval(1.0, self.refresh_servers)  # "connecting for N s" keeps counting
        self.refresh_servers()
        self.query_one(OptionList).focus()

    def on_unmount(self) -> None:
        self._unwatch()

    @property
    def highlighted(self) -> ServerStatus | None:
        """The server whose details are shown."""
        index = self.query_one(OptionList).highlighted
        return self._statuses[index] if index is not None and index < len(self._statuses) else None

    def refresh_servers(self) -> None:
        """Redraw the list and the details from a fresh snapshot."""
        if not self.is_mounted:
            return
        self._statuses = self.session.tool_servers()
        servers = self.query_one(OptionList)
        keep = servers.highlighted or 0
        servers.clear_options()
        servers.add_options([Option(self._label(s), id=s.name) for s in self._statuses])
        if self._statuses:
            servers.highlighted = min(keep, len(self._statuses) - 1)
        self._show_detail()

    def _label(self, status: ServerStatus) -> Text:
        symbol, colour = _LOOK[status.state]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{symbol} ", style=theme_color(self.app, colour))
        text.append(inert(status.name), style="bold")
        short = f"{len([t for t in status.tools if t.offered])} tools" if status.state == "ready" else status.state
        text.append(f"  {short}", style=theme_color(self.app, colour))
        return text

    @on(OptionList.OptionHighlighted)
    def _show_detail(self) -> None:
        detail = self.query_one("#detail", Static)
        status = self.highlighted
        if status is None:
            detail.update(Text("No MCP servers are configured. Add [[mcp.servers]] entries to the config "
                               "file (config.example.toml shows how); their tools are then offered next "
                               "to the built-in ones."))
            return
        detail.update(self._detail(status))

    def _detail(self, s: ServerStatus) -> Text:
        symbol, colour = _LOOK[s.state]
        text = Text()
        text.append(f"{symbol} {inert(s.name)}", style=f"bold {theme_color(self.app, colour) or ''}".strip())
        text.append(f"  {inert(s.detail)}\n", style=theme_color(self.app, colour))
        text.append(f"{s.transport}: {inert(s.target)}\n", style="dim")
        if s.server_info:
            text.append(f"server: {inert(s.server_info)}\n", style="dim")
        for note in s.notes:
            text.append(f"note: {inert(note)}\n", style=theme_color(self.app, "warning"))
        if s.tools:
            text.append("\nTools\n", style="bold")
            for tool in s.tools:
                if not tool.offered:
                    text.append(f"  {inert(tool.remote_name)}  (left out by tools / exclude_tools)\n", style="dim")
                    continue
                renamed = f"  (its own name: {inert(tool.remote_name)})" if tool.name != tool.remote_name else ""
                ask = "asks first" if tool.needs_approval else "runs at once"
                text.append(f"  {inert(tool.name)}", style="bold")
                text.append(f"  {ask}{renamed}\n", style="dim")
                if tool.description:
                    first = inert(tool.description.strip().splitlines()[0])
                    text.append(f"    {first}\n")
        if s.stderr:
            text.append("\nLast lines of its stderr\n", style="bold")
            for line in s.stderr:
                text.append(f"  {inert(line)}\n", style=theme_color(self.app, "text-muted"))
        return text

    async def action_reconnect(self, every: bool) -> None:
        """Connect the highlighted server (or every enabled one) again, in the background."""
        status = self.highlighted
        if not every and status is None:
            return
        if not every and status is not None and status.state == "disabled":
            self.notify(f"{status.name} is disabled in the config (enabled = false).", severity="warning",
                        markup=False)
            return
        name = None if every else status.name if status is not None else None
        self.run_worker(self.session.reconnect_tool_servers(name), group="mcp-reconnect", exit_on_error=False)

    def action_close(self) -> None:
        """Back to the chat."""
        self.dismiss(None)
