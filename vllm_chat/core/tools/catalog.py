"""Every tool the model would be offered, with where it comes from: for `vllm-chat tools list`
and anything else that shows the whole set (built-in, Python, shell and MCP tools)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vllm_chat.core.tools.base import Tool
from vllm_chat.core.tools.registry import ToolRegistry


@dataclass(frozen=True)
class ToolEntry:
    """One offered tool."""

    name: str
    """The function name the model calls."""
    source: str
    """`built-in`, `python`, `shell` or `mcp`."""
    server: str | None
    """For an MCP tool: the server's configured name."""
    needs_approval: bool
    """Whether each call asks first (before `--yes` or "allow for this session")."""
    description: str
    """What the tool does, as the model reads it."""
    parameters: dict[str, Any]
    """The JSON schema of its arguments."""


def tool_source(tool: Tool) -> tuple[str, str | None]:
    """`(source, MCP server name or None)` of a tool."""
    from vllm_chat.core.tools.python_tools import PythonFunctionTool
    from vllm_chat.core.tools.shell_tools import ShellCommandTool

    server = getattr(tool, "server", None)
    if isinstance(server, str):
        return "mcp", server
    if isinstance(tool, PythonFunctionTool):
        return "python", None
    if isinstance(tool, ShellCommandTool):
        return "shell", None
    return "built-in", None


def catalog(registry: ToolRegistry) -> list[ToolEntry]:
    """The registry's tools as entries, in the order they are offered."""
    entries = []
    for name in registry.names():
        tool = registry.get(name)
        assert tool is not None
        source, server = tool_source(tool)
        entries.append(ToolEntry(name, source, server, registry.needs_approval(name),
                                 tool.description, tool.parameters))
    return entries
