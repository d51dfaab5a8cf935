"""Fixtures for MCP tests: real MCP servers (the SDK's `MCPServer`, in `servers/`), started
by the tests themselves over stdio or streamable HTTP, and a manager that is always closed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from vllm_chat.core.config import ToolsSettings
from vllm_chat.core.mcp.manager import McpManager
from vllm_chat.core.mcp.settings import McpSettings
from vllm_chat.core.tools.registry import ToolRegistry

SERVERS = Path(__file__).parent / "servers"
TOOL_SERVER = SERVERS / "tool_server.py"
SILENT_SERVER = SERVERS / "silent_server.py"


SLOW_START = 120.0
"""`connect_timeout` of the test servers: a Python MCP server takes a second to start, but
a minute on a loaded machine, and the product's 30 s would fail it."""


def stdio_server(name: str = "t", *args: str, **settings: Any) -> dict[str, Any]:
    """A `[[mcp.servers]]` entry running the test tool server over stdio."""
    return {"name": name, "command": sys.executable, "args": [str(TOOL_SERVER), *args],
            "connect_timeout": SLOW_START, **settings}


def gone(pid: int) -> bool:
    """Whether process `pid` no longer runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def wait_gone(pid: int, timeout: float = 60.0) -> bool:
    """Wait until `pid` is gone; False if it still runs after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def read_pid(path: Path, timeout: float = 60.0) -> int:
    """The pid a test server wrote to `path`, once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


ManagerFactory = Callable[..., Any]


@pytest.fixture
def make_manager(tmp_path: Path) -> Iterator[ManagerFactory]:
    """`async with make_manager(servers=[...], builtins=[...]) as (manager, registry):` starts
    the servers and always stops them."""

    @asynccontextmanager
    async def factory(servers: list[dict[str, Any]], builtins: list[str] | None = None,
                      confirm: list[str] | None = None, timeout: float = SLOW_START,
                      start: bool = True) -> AsyncIterator[tuple[McpManager, ToolRegistry]]:
        tools = ToolsSettings(builtins=builtins if builtins is not None else [], confirm=confirm or [],
                              timeout=timeout)
        registry, _ = ToolRegistry.from_settings(tools, root=tmp_path)
        manager = McpManager(McpSettings(servers=servers), registry, root=tmp_path)
        try:
            if start:
                manager.start()
            yield manager, registry
        finally:
            await manager.aclose()

    yield factory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The test tool server on streamable HTTP (its own process): `(url, state folder)`."""
    port = free_port()
    state = tmp_path / "http-state"
    process = subprocess.Popen([sys.executable, str(TOOL_SERVER), "--http", str(port), "--state", str(state),
                                "--name", "http-tools"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SLOW_START
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("the HTTP test server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp", state
    finally:
        process.terminate()
        process.wait(timeout=10)
