"""`[mcp]` and `[[mcp.servers]]`: the MCP tool servers to connect to, as validated data.

Kept out of `core/config.py` (which only adds the `mcp` field) so the config
module stays small; nothing here imports the MCP SDK.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
"""What a server name may look like: it prefixes tool names, so it must be valid in one."""


class McpServerSettings(BaseModel):
    """One `[[mcp.servers]]` entry: a stdio command or an HTTP URL, and how its tools are offered."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """A short name (letters, digits, `_`, `-`), shown in panels and used as the tool prefix."""
    command: str | None = None
    """stdio: the program that runs the server (e.g. `npx`, `uvx`, `python`)."""
    args: list[str] = Field(default_factory=list)
    """stdio: the program's arguments."""
    env: dict[str, str] = Field(default_factory=dict)
    """stdio: extra environment variables (the server also gets PATH, HOME, USER, SHELL,
    TERM, LOGNAME); `${VAR}` takes the value of VAR from vllm-chat's environment."""
    cwd: str | None = None
    """stdio: the folder the server runs in (default: the folder vllm-chat started in)."""
    url: str | None = None
    """HTTP: the server's endpoint, e.g. `http://localhost:8000/mcp`."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP: extra request headers (e.g. Authorization); `${VAR}` is taken from the environment."""
    transport: Literal["auto", "streamable-http", "sse"] = "auto"
    """HTTP: `streamable-http`, or `sse` for servers that only have the older SSE transport;
    `auto` picks SSE for URLs ending in `/sse`, streamable HTTP otherwise."""
    enabled: bool = True
    """Connect to this server at all."""
    timeout: float | None = Field(default=None, gt=0)
    """Seconds a tool call may run before it is cancelled (default: `tools.timeout`)."""
    connect_timeout: float = Field(default=30.0, gt=0)
    """Seconds to start the server and finish the MCP handshake before it counts as failed."""
    confirm: bool | list[str] = True
    """Which calls need your approval: every one (true, the default), none (false), or only
    calls to the tools named in the list (the server's own tool names)."""
    tools: list[str] | None = None
    """Offer only these tools of the server (its own names); default: all of them."""
    exclude_tools: list[str] = Field(default_factory=list)
    """Never offer these tools of the server (its own names)."""

    @field_validator("name")
    @classmethod
    def _short_name(cls, value: str) -> str:
        if not SERVER_NAME.fullmatch(value):
            raise ValueError("use 1 to 40 letters, digits, '_' or '-' (the name prefixes tool names)")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (a stdio server) or url (an HTTP server), not both or neither")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError("args, env and cwd are for stdio servers (command); an HTTP server takes headers")
        if self.command is not None and (self.headers or self.transport != "auto"):
            raise ValueError("headers and transport are for HTTP servers (url); a stdio server takes env")
        return self

    @property
    def kind(self) -> Literal["stdio", "streamable-http", "sse"]:
        """The transport that will be used."""
        if self.command is not None:
            return "stdio"
        if self.transport != "auto":
            return self.transport
        assert self.url is not None
        return "sse" if self.url.rstrip("/").endswith("/sse") else "streamable-http"

    @property
    def target(self) -> str:
        """The command line or URL, for display."""
        if self.command is not None:
            import shlex

            return shlex.join([self.command, *self.args])
        return self.url or ""

    def needs_approval(self, tool: str) -> bool:
        """Whether calls to the server's tool `tool` (its own name) need approval."""
        return self.confirm if isinstance(self.confirm, bool) else tool in self.confirm

    def offers(self, tool: str) -> bool:
        """Whether the server's tool `tool` (its own name) is offered to the model."""
        return (self.tools is None or tool in self.tools) and tool not in self.exclude_tools


class McpSettings(BaseModel):
    """`[mcp]`: Model Context Protocol tool servers."""

    model_config = ConfigDict(extra="forbid")

    servers: list[McpServerSettings] = Field(default_factory=list)
    """`[[mcp.servers]]` entries, connected in the background at start."""

    @model_validator(mode="after")
    def _unique_names(self) -> McpSettings:
        seen: set[str] = set()
        for server in self.servers:
            if server.name in seen:
                raise ValueError(f"two servers are named {server.name!r}; each needs its own name")
            seen.add(server.name)
        return self
