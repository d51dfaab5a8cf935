"""A real MCP server (the SDK's `MCPServer`) for the tests: stdio or streamable HTTP.

    python tool_server.py [--state DIR] [--gate FILE] [--extra NAME ...] [--name NAME]
                          [--http PORT]

Tools: echo_text (text), make_image (a PNG), fail_loudly (an isError result),
record_reading (a strict schema; writes DIR/reading),
hang_forever (never returns; writes DIR/started when it starts and DIR/cancelled when the call is cancelled),
exit_now (the process exits during the call), spawn_child (starts `sleep`,
writes its pid to DIR/child.pid). Each `--extra NAME` adds a tool called NAME
that returns `NAME from <server name>`. The server writes its pid to
DIR/server.pid and says hello on stderr. With `--gate FILE` it answers nothing (the
handshake included) until FILE exists: a server that is still connecting for as long as
the test wants, however slow the machine.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import anyio
from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError


def build(args: argparse.Namespace) -> MCPServer:
    state = Path(args.state) if args.state else None
    server = MCPServer(args.name)

    @server.tool()
    def echo_text(text: str) -> str:
        """Echo the given text back, to check that calls arrive."""
        return f"echo: {text}"

    @server.tool()
    def make_image(color: Literal["red", "green"]) -> Image:
        """Draw a small square in the given colour and return it as a PNG image."""
        from PIL import Image as PILImage

        buffer = io.BytesIO()
        PILImage.new("RGB", (8, 6), (255, 0, 0) if color == "red" else (0, 255, 0)).save(buffer, format="PNG")
        return Image(data=buffer.getvalue(), format="png")

    @server.tool()
    def fail_loudly(reason: str) -> str:
        """Always fail, with the given reason."""
        raise ToolError(f"failing on purpose: {reason}")

    @server.tool()
    async def hang_forever() -> str:
        """Never finish (until cancelled)."""
        if state is not None:
            (state / "started").write_text("started")  # a test cancels only a call that runs
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            if state is not None:
                (state / "cancelled").write_text("cancelled")
            raise
        return "unreachable"

    @server.tool()
    def exit_now(status: int) -> str:
        """Exit the server process during the call."""
        sys.stderr.write(f"exiting with status {status} as asked\n")
        sys.stderr.flush()
        os._exit(status)

    @server.tool()
    def spawn_child() -> str:
        """Start a long sleep in the background and leave it running."""
        child = subprocess.Popen(["sleep", "1000"])
        if state is not None:
            (state / "child.pid").write_text(str(child.pid))
        return f"spawned {child.pid}"

    @server.tool()
    def record_reading(city: Literal["Paris", "Oslo"], celsius: int) -> str:
        """Record today's temperature reading for a city."""
        if state is not None:
            (state / "reading").write_text(f"{city} {celsius}")
        return f"recorded {celsius} °C for {city}"

    # Strict schemas (closed, every property required), as OpenAI's strict mode wants them.
    for strict in ("record_reading", "make_image"):
        server._tool_manager.get_tool(strict).parameters["additionalProperties"] = False

    for extra in args.extra:
        def make(name: str):
            def tool() -> str:
                return f"{name} from {args.name}"
            return tool

        server.add_tool(make(extra), name=extra, description=f"The tool called {extra} of {args.name}.")
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state")
    parser.add_argument("--gate")
    parser.add_argument("--extra", action="append", default=[])
    parser.add_argument("--name", default="test-tools")
    parser.add_argument("--http", type=int)
    args = parser.parse_args()
    if args.state:
        Path(args.state).mkdir(parents=True, exist_ok=True)
        (Path(args.state) / "server.pid").write_text(str(os.getpid()))
    sys.stderr.write(f"{args.name}: hello from the test server\n")
    sys.stderr.flush()
    while args.gate and not Path(args.gate).exists():
        time.sleep(0.05)
    server = build(args)
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()


if __name__ == "__main__":
    main()
