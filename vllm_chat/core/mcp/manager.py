"""`McpManager`: every configured MCP server, its state, and its tools in the registry.

`start` connects each enabled server in the background and returns at once;
whenever a server's state changes, the manager recomputes the names of all
MCP tools (`names.assign_names`), puts the ready servers' tools into the
`ToolRegistry` (and takes the others out), and calls its listeners, so a
front end can redraw. `statuses()` is the snapshot front ends show;
`reconnect` starts servers again; `aclose` stops them all (stdio servers'
processes included).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vllm_chat.core.config import AttachmentSettings
from vllm_chat.core.mcp.connection import ServerConnection
from vllm_chat.core.mcp.names import assign_names
from vllm_chat.core.mcp.settings import McpServerSettings, McpSettings
from vllm_chat.core.mcp.tool import McpTool
from vllm_chat.core.tools.registry import ToolRegistry
from vllm_chat.core.urls import redact_urls

StatusState = Literal["disabled", "connecting", "ready", "failed", "stopped"]


@dataclass(frozen=True)
class ToolInfo:
    """One tool of a server, as offered (or not) to the model."""

    name: str
    """The name the model sees (may carry the server prefix)."""
    remote_name: str
    """The tool's own name on the server."""
    description: str
    """What the server says the tool does."""
    needs_approval: bool
    """Whether each call asks first (`confirm`, `tools.confirm`)."""
    offered: bool = True
    """False for tools left out by `tools` / `exclude_tools`."""


@dataclass(frozen=True)
class ServerStatus:
    """A snapshot of one server for the servers panel and `vllm-chat tools list`."""

    name: str
    """The configured name."""
    transport: str
    """`stdio`, `streamable-http` or `sse`."""
    target: str
    """The command line or the URL."""
    state: StatusState
    """disabled, connecting, ready, failed or stopped."""
    detail: str
    """One line: `ready · 5 tools`, the failure reason, `connecting for 3 s`..."""
    tools: tuple[ToolInfo, ...] = ()
    """The server's tools (state ready)."""
    stderr: tuple[str, ...] = ()
    """The last lines the server wrote to stderr (stdio) or the transport's errors."""
    server_info: str | None = None
    """How the server introduced itself (name and version)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Config problems worth knowing (e.g. a `confirm` entry naming no tool of the server)."""

    def __post_init__(self) -> None:
        # A server URL may carry a key (http://user:KEY@host/mcp), and transport errors quote
        # it: the panel, `tools list` and its --json must show it without.
        object.__setattr__(self, "target", redact_urls(self.target))
        object.__setattr__(self, "detail", redact_urls(self.detail))
        object.__setattr__(self, "stderr", tuple(redact_urls(line) for line in self.stderr))


class McpManager:
    """The MCP servers of one run."""

    def __init__(
        self,
        settings: McpSettings,
        registry: ToolRegistry,
        *,
        root: Path,
        attachments: AttachmentSettings | None = None,
    ) -> None:
        self.settings = settings
        """The `[mcp]` table."""
        self.registry = registry
        """Where the ready servers' tools are offered."""
        self._root = root
        self._attachments = attachments or AttachmentSettings()
        self._connections: dict[str, ServerConnection] = {}
        self._started: dict[str, float] = {}
        self._offered: dict[str, McpTool] = {}
        self._listeners: list[Callable[[], None]] = []
        self.started = False
        """Whether `start` was called."""

    @property
    def servers(self) -> list[McpServerSettings]:
        """Every configured server, enabled or not, in config order."""
        return list(self.settings.servers)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` after every state change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def start(self) -> None:
        """Connect every enabled server in the background (once; see `reconnect`)."""
        if self.started:
            return
        self.started = True
        for server in self.settings.servers:
            if server.enabled:
                self._connect(server)

    def _connect(self, server: McpServerSettings) -> None:
        connection = ServerConnection(server, root=self._root, on_change=self._changed)
        self._connections[server.name] = connection
        self._started[server.name] = time.monotonic()
        connection.start()
        self._changed(connection)

    async def reconnect(self, name: str | None = None) -> None:
        """Stop and connect again one server (by name) or every enabled one."""
        self.started = True
        targets = [s for s in self.settings.servers if s.enabled and (name is None or s.name == name)]
        for server in targets:
            old = self._connections.pop(server.name, None)
            if old is not None:
                await old.stop()
            self._connect(server)

    async def wait_settled(self, timeout: float | None = None) -> None:
        """Wait until no server is connecting any more (each has its own connect timeout)."""
        waits = [c.wait_settled() for c in self._connections.values()]
        if waits:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)

    async def aclose(self) -> None:
        """Stop every server (stdio processes are ended) and take their tools away."""
        connections = list(self._connections.values())
        await asyncio.gather(*(c.stop() for c in connections), return_exceptions=True)
        for name in list(self._offered):
            self.registry.remove(name)
        self._offered.clear()

    # -- state --------------------------------------------------------------------------------

    def _changed(self, _: ServerConnection) -> None:
        self._sync_registry()
        for listener in list(self._listeners):
            listener()

    def _sync_registry(self) -> None:
        for name in self._offered:
            self.registry.remove(name)
        local = self.registry.names()
        ready = [c for c in self._ordered() if c.state == "ready"]
        names = assign_names(local, [(c.name, [t.name for t in c.tools if c.settings.offers(t.name)])
                                     for c in ready])
        offered: dict[str, McpTool] = {}
        for connection in ready:
            for remote in connection.tools:
                key = (connection.name, remote.name)
                if key in names:
                    tool = McpTool(connection, remote, names[key], attachments=self._attachments)
                    self.registry.add(tool)
                    offered[tool.name] = tool
        self._offered = offered

    def _ordered(self) -> list[ServerConnection]:
        return [self._connections[s.name] for s in self.settings.servers if s.name in self._connections]

    def tool(self, name: str) -> McpTool | None:
        """The MCP tool the model knows as `name`, if there is one."""
        return self._offered.get(name)

    def statuses(self) -> list[ServerStatus]:
        """Every configured server, in config order, as it stands now."""
        out = []
        by_remote = {(t.server, t.remote_name): t for t in self._offered.values()}
        for server in self.settings.servers:
            connection = self._connections.get(server.name)
            if connection is None:
                state: StatusState = "disabled" if not server.enabled else "stopped"
                detail = "disabled (enabled = false)" if not server.enabled else "not started"
                out.append(ServerStatus(name=server.name, transport=server.kind, target=server.target,
                                        state=state, detail=detail))
                continue
            tools = []
            for remote in connection.tools if connection.state == "ready" else []:
                offered = by_remote.get((server.name, remote.name))
                tools.append(ToolInfo(
                    name=offered.name if offered else remote.name,
                    remote_name=remote.name,
                    description=remote.description or "",
                    needs_approval=(self.registry.needs_approval(offered.name) if offered
                                    else server.needs_approval(remote.name)),
                    offered=offered is not None,
                ))
            out.append(ServerStatus(
                state=connection.state,
                detail=self._detail(connection, tools),
                tools=tuple(tools),
                stderr=tuple(connection.stderr),
                server_info=connection.server_info,
                notes=tuple(self._notes(connection)),
                name=server.name,
                transport=server.kind,
                target=server.target,
            ))
        return out

    def _detail(self, connection: ServerConnection, tools: list[ToolInfo]) -> str:
        if connection.state == "connecting":
            return f"connecting for {time.monotonic() - self._started[connection.name]:.0f} s"
        if connection.state == "ready":
            offered = sum(t.offered for t in tools)
            left_out = len(tools) - offered
            text = f"ready · {offered} tool{'s' if offered != 1 else ''}"
            return text + (f" ({left_out} left out by tools / exclude_tools)" if left_out else "")
        if connection.state == "failed":
            return f"failed: {connection.error}"
        return "stopped"

    @staticmethod
    def _notes(connection: ServerConnection) -> list[str]:
        if connection.state != "ready":
            return []
        s = connection.settings
        known = {t.name for t in connection.tools}
        notes = []
        for key, names in (("confirm", s.confirm if isinstance(s.confirm, list) else []),
                           ("tools", s.tools or []), ("exclude_tools", s.exclude_tools)):
            unknown = [n for n in names if n not in known]
            if unknown:
                notes.append(f"{key} names no tool of this server: {', '.join(unknown)}")
        return notes
