"""The MCP tool servers of a session, and what a front end shows about every tool.

The manager (`core/mcp/manager.py`) does the work: it connects each
configured server in the background, keeps the registry in step with the
servers that are ready, and stops them on close. Chatting never waits for it:
a server's tools join the registry when it is ready.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vllm_chat.core.models import ModelInfo
from vllm_chat.core.session.base import SessionBase

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.conversation import ToolCall
    from vllm_chat.core.mcp.manager import McpManager, ServerStatus
    from vllm_chat.core.tools.catalog import ToolEntry


@dataclass(frozen=True)
class ToolInfo:
    """What an approval prompt shows about a call."""

    description: str
    """What the tool does, as the model is told."""
    preview: str | None
    """Exactly what would run (a shell tool's argv), when the tool can say."""
    source: str | None = None
    """Where it runs when not here: `MCP server X`."""


class ToolServersPart(SessionBase):
    """MCP servers, and the catalogue of every tool the model is offered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._mcp = self._build_mcp()
        if self._mcp is not None:
            # A server's tools joining or leaving changes the next request (the meter counts again).
            self._mcp.subscribe(self._status_changed)

    def _build_mcp(self) -> McpManager | None:
        if not self.settings.mcp.servers or self._engine.tools is None:
            return None
        from vllm_chat.core.mcp.manager import McpManager

        return McpManager(self.settings.mcp, self._engine.tools, root=self._root,
                          attachments=self.settings.attachments)

    async def connect(self) -> list[ModelInfo]:
        """Ask the server for its models (see `SessionBase.connect`); the MCP tool servers
        start connecting in the background first."""
        self.start_tool_servers()
        return await super().connect()

    def start_tool_servers(self) -> None:
        """Connect the configured MCP servers in the background (once; needs a running
        event loop). Chatting works meanwhile; their tools join as each server is ready."""
        if self._mcp is not None:
            self._mcp.start()

    async def wait_for_tool_servers(self) -> None:
        """Start the MCP servers if needed and wait until none is still connecting
        (each gives up after its `connect_timeout`); for one-shot runs."""
        if self._mcp is not None:
            self._mcp.start()
            await self._mcp.wait_settled()

    def tool_servers(self) -> list[ServerStatus]:
        """A snapshot of every configured MCP server: state, tools, reason, stderr tail."""
        return self._mcp.statuses() if self._mcp is not None else []

    async def reconnect_tool_servers(self, name: str | None = None) -> None:
        """Connect one MCP server (by name) or every enabled one again."""
        if self._mcp is not None:
            await self._mcp.reconnect(name)

    def watch_tool_servers(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` whenever an MCP server's state changes; returns the unsubscriber."""
        if self._mcp is None:
            return lambda: None
        return self._mcp.subscribe(listener)

    def tool_catalog(self) -> list[ToolEntry]:
        """Every tool offered now (built-in, Python, shell, MCP), with source, approval and schema."""
        from vllm_chat.core.tools.catalog import catalog

        return catalog(self._engine.tools) if self._engine.tools is not None else []

    def tool_info(self, call: ToolCall) -> ToolInfo:
        """What to show about `call` when asking whether it may run."""
        tools = self._engine.tools
        tool = tools.get(call.name) if tools is not None else None
        return ToolInfo(tool.description if tool is not None else "",
                        tools.preview(call) if tools is not None else None, self.tool_source(call.name))

    def file_tools_note(self) -> str:
        """Where the file tools reach, in one sentence for the welcome text ("" without them)."""
        tools = self._engine.tools
        return (tools.file_tools_note() if tools is not None else None) or ""

    def tool_source(self, name: str) -> str | None:
        """Where the tool the model calls `name` runs: `MCP server X`, or None for local tools."""
        tool = self._mcp.tool(name) if self._mcp is not None else None
        return f"MCP server {tool.server}" if tool is not None else None

    async def aclose(self) -> None:
        """Close the session (see `SessionBase.aclose`), then stop the MCP tool servers."""
        await super().aclose()
        if self._mcp is not None:
            await self._mcp.aclose()
