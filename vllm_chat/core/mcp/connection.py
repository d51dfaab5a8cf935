"""One MCP server: its connection, its state, and the calls made to it.

A `ServerConnection` runs in a task of its own (`start`): it imports the SDK
(in a thread, the first time), starts the server (stdio, under the guard) or
opens the HTTP transport, does the MCP handshake, lists the tools, and then
waits until it is stopped or the server goes away. The SDK's transports and
sessions must be entered and left by the same task, which is why calls
(`call`) come from other tasks while this one only holds the connection.

Its state is always one of `connecting`, `ready` (with the tools), `failed`
(with the reason and the last lines the server wrote to stderr) or
`stopped`; every change calls `on_change`, so the manager can update the
tool registry and front ends can redraw.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
from collections import deque
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from vllm_chat.core.mcp.guard import EXIT_MARK
from vllm_chat.core.mcp.settings import McpServerSettings
from vllm_chat.core.tools.base import ToolError

if TYPE_CHECKING:  # pragma: no cover
    from mcp_types import CallToolResult
    from mcp_types import Tool as RemoteTool

ServerState = Literal["connecting", "ready", "failed", "stopped"]

STDERR_POLL = 0.25
"""Seconds between reads of a stdio server's stderr file."""

STDERR_LINES = 20
"""Lines of a server's stderr kept for the servers panel and `vllm-chat tools list`."""

_GUARD = Path(__file__).with_name("guard.py")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConnectError(Exception):
    """Why a server could not be connected, in words for the servers panel."""


def import_sdk() -> Any:
    """The SDK modules the client needs (slow: about a second, so call it in a thread)."""
    import mcp.client.client
    import mcp.client.sse
    import mcp.client.stdio
    import mcp.client.streamable_http
    import mcp.shared._httpx_utils
    import mcp.shared.exceptions
    import mcp_types  # noqa: F401

    return mcp


def expand(value: str, where: str) -> str:
    """`value` with each `${VAR}` replaced from the environment (ConnectError if VAR is unset)."""

    def var(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConnectError(f"{where} uses ${{{name}}}, but {name} is not set in vllm-chat's environment")
        return os.environ[name]

    return _VAR.sub(var, value)


class ServerConnection:
    """The connection to one configured server, held by a task of its own."""

    def __init__(
        self,
        settings: McpServerSettings,
        *,
        root: Path,
        on_change: Callable[[ServerConnection], None],
    ) -> None:
        self.settings = settings
        """The `[[mcp.servers]]` entry."""
        self.state: ServerState = "connecting"
        """Where the connection stands."""
        self.error: str | None = None
        """Why it failed (state `failed`)."""
        self.tools: list[RemoteTool] = []
        """The server's tools, as it listed them (state `ready`)."""
        self.server_info: str | None = None
        """The server's name and version, as it introduced itself."""
        self.stderr: deque[str] = deque(maxlen=STDERR_LINES)
        """The last lines the server wrote to stderr (stdio) or the transport's errors (HTTP)."""
        self.exit_status: int | None = None
        """The stdio server's exit status, once it has exited."""
        self._root = root
        self._on_change = on_change
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._stderr_done = asyncio.Event()
        self._stopping = False
        self._timed_out = False

    @property
    def name(self) -> str:
        """The server's configured name."""
        return self.settings.name

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (needs a running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"mcp-{self.name}")

    async def stop(self) -> None:
        """Disconnect (a stdio server is stopped) and wait until it is done."""
        self._stopping = True
        self._closing.set()
        task = self._task
        if task is None or task.done():
            return
        if self.state == "connecting":
            task.cancel()  # a handshake in progress is abandoned; the transport still cleans up
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=10.0)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            task.cancel()

    async def wait_settled(self) -> None:
        """Wait until the server is ready, failed or stopped."""
        while self.state == "connecting" and self._task is not None and not self._task.done():
            await asyncio.sleep(0.05)

    def _set(self, state: ServerState, error: str | None = None) -> None:
        self.state, self.error = state, error
        self._on_change(self)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.call_later(self.settings.connect_timeout, self._give_up)
        try:
            sdk = await asyncio.to_thread(import_sdk)
            async with AsyncExitStack() as stack:
                transport = self._transport(sdk, stack)
                from mcp_types import Implementation

                from vllm_chat import __version__

                client = sdk.client.client.Client(
                    transport,
                    client_info=Implementation(name="vllm-chat", version=__version__),
                    message_handler=self._on_message,
                    cache=None,
                )
                await stack.enter_async_context(client)
                tools = await self._list_tools(client)
                deadline.cancel()
                info = client.server_info
                self.server_info = f"{info.name} {info.version}".strip() if info is not None else None
                self._client, self.tools = client, tools
                self._set("ready")
                await self._closing.wait()
                self._client = None
        except asyncio.CancelledError:
            if not self._timed_out:
                self._set("stopped")
                raise
            self._set("failed", f"it did not finish the MCP handshake within "
                                f"{self.settings.connect_timeout:g} s (connect_timeout)")
            return
        except ConnectError as exc:
            self._set("failed", str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - whatever the SDK or a transport raised is shown
            if not connection_closed(exc):
                self._set("failed", describe_failure(exc))
            elif self.exit_status is not None:
                self._set("failed", f"the server exited with status {self.exit_status} "
                                    "before the MCP handshake was done")
            else:
                self._set("failed", "the server closed the connection before the MCP handshake was done")
            return
        finally:
            deadline.cancel()
            self._client = None
        if self._stopping:
            self._set("stopped")
        elif self.exit_status is not None:
            self._set("failed", f"the server exited with status {self.exit_status}")
        else:
            self._set("failed", "the connection to the server was lost")

    def _give_up(self) -> None:
        if self.state == "connecting" and self._task is not None and not self._task.done():
            self._timed_out = True
            self._task.cancel()

    async def _exit_reason(self, reason: str) -> str:
        """`reason`, or how the stdio server exited if it did (its guard says so within a moment)."""
        if self.settings.kind == "stdio":
            try:
                await asyncio.wait_for(self._stderr_done.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
        return f"it exited with status {self.exit_status}" if self.exit_status is not None else reason

    # -- transports -----------------------------------------------------------------------

    def _transport(self, sdk: Any, stack: AsyncExitStack) -> Any:
        s = self.settings
        if s.kind == "stdio":
            return self._stdio_transport(sdk, stack)
        headers = {k: expand(v, f"headers.{k}") for k, v in s.headers.items()}
        assert s.url is not None
        if s.kind == "sse":
            return sdk.client.sse.sse_client(s.url, headers=headers or None)
        http = sdk.shared._httpx_utils.create_mcp_http_client(headers=headers or None)
        return sdk.client.streamable_http.streamable_http_client(s.url, http_client=http)

    def _stdio_transport(self, sdk: Any, stack: AsyncExitStack) -> Any:
        s = self.settings
        assert s.command is not None
        env = {k: expand(v, f"env.{k}") for k, v in s.env.items()}
        cwd = Path(s.cwd).expanduser() if s.cwd else self._root
        if not cwd.is_dir():
            raise ConnectError(f"cwd {str(cwd)!r} is not a folder")
        if sys.platform == "win32":  # pragma: no cover - the guard is POSIX-only
            command, args = s.command, list(s.args)
        else:
            command, args = sys.executable, ["-I", "-S", str(_GUARD), s.command, *s.args]
        params = sdk.client.stdio.StdioServerParameters(command=command, args=args, env=env, cwd=cwd)
        # A file, not a pipe: the server can never block on a full pipe, and nothing
        # depends on who else holds a pipe end. It is read every STDERR_POLL seconds.
        errlog = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the connection
        stack.callback(errlog.close)
        tail = _StderrTail(self, errlog.fileno())
        poller = asyncio.get_running_loop().create_task(tail.poll(), name=f"mcp-{self.name}-stderr")

        def last_read() -> None:
            poller.cancel()
            tail.read()  # what the server wrote last (often why it failed) is read before the file goes

        stack.callback(last_read)
        return sdk.client.stdio.stdio_client(params, errlog=errlog)

    def _process_ended(self) -> None:
        self._stderr_done.set()
        if self.state == "ready":
            self._closing.set()  # the server exited: the task leaves the connection and says so

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):  # a transport problem the SDK reports on the side
            self.stderr.append(f"[transport] {describe_failure(message)}")

    # -- tools --------------------------------------------------------------------------------

    @staticmethod
    async def _list_tools(client: Any) -> list[RemoteTool]:
        tools: list[RemoteTool] = []
        cursor = None
        for _ in range(100):  # a server that pages forever can't hang the connection
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call the server's tool `tool`; `ToolError` says in words why it could not be done.

        Cancelling the caller cancels the call on the server (the SDK sends
        `notifications/cancelled`).
        """
        client = self._client
        if client is None or self.state != "ready":
            raise ToolError(f"the MCP server {self.name} is not connected ({self.state}"
                            f"{': ' + self.error if self.error else ''}); the call was not made")
        from mcp.shared.exceptions import MCPError
        from mcp_types import CONNECTION_CLOSED

        try:
            result: CallToolResult = await client.call_tool(tool, arguments)
            return result
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self._closing.set()  # the runner leaves the connection and reports the loss
                reason = await self._exit_reason("it closed the connection")
                raise ToolError(f"the MCP server {self.name} stopped during the call: {reason}") from None
            raise ToolError(f"the MCP server {self.name} refused the call: {exc.error.message}") from None
        except (OSError, RuntimeError, ValueError) as exc:
            raise ToolError(f"the call to the MCP server {self.name} failed: {describe_failure(exc)}") from None


class _StderrTail:
    """Reads what a stdio server appends to its stderr file, line by line."""

    def __init__(self, connection: ServerConnection, fd: int) -> None:
        self.connection = connection
        self.fd = fd
        self.offset = 0
        self.partial = b""

    async def poll(self) -> None:
        while True:
            if not self.read():
                await asyncio.sleep(STDERR_POLL)

    def read(self) -> bool:
        """Take in what was written since the last read; False if nothing was."""
        try:
            chunk = os.pread(self.fd, 1 << 16, self.offset)
        except OSError:
            return False
        if not chunk:
            return False
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        if len(self.partial) > 4096:  # a line without an end: keep its start
            lines.append(self.partial[:4096])
            self.partial = b""
        for line in lines:
            text = line.decode("utf-8", "replace").rstrip()
            if text.startswith(EXIT_MARK):
                try:
                    self.connection.exit_status = int(text[len(EXIT_MARK):].strip())
                except ValueError:
                    self.connection.exit_status = -1
                self.connection._process_ended()
            else:
                self.connection.stderr.append(text)
        return True


def connection_closed(exc: BaseException) -> bool:
    """Whether `exc` (or the first real error in an exception group) says the connection closed."""
    group = getattr(exc, "exceptions", None)
    if isinstance(group, tuple):
        leaves = [e for e in group if not isinstance(e, asyncio.CancelledError)]
        return bool(leaves) and connection_closed(leaves[0])
    from mcp_types import CONNECTION_CLOSED

    return getattr(getattr(exc, "error", None), "code", None) == CONNECTION_CLOSED


def describe_failure(exc: BaseException) -> str:
    """An exception from the SDK or a transport as one readable sentence."""
    group = getattr(exc, "exceptions", None)  # an (anyio) exception group: its first real error
    if isinstance(group, tuple):
        leaves = [e for e in group if not isinstance(e, asyncio.CancelledError)]
        if leaves:
            return describe_failure(leaves[0])
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None) or str(exc) or type(exc).__name__
    kind = type(exc).__name__
    if kind in ("ConnectError", "ConnectTimeout") or isinstance(exc, ConnectionRefusedError):
        return f"could not connect: {message}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return message if kind in ("MCPError", "McpError", "RuntimeError") else f"{kind}: {message}"
