"""A real HTTP server that answers with a response captured from a real vLLM.

The captures in `shared/vllm-captures/` are exactly what `curl -i -N` printed.
Serving them byte for byte lets the real `openai` SDK and our engine consume
what vLLM really sent, without a GPU. A capture whose stream was cut (the
server was killed) is replayed as a cut connection: no chunked terminator.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from tests.support.paths import captures_dir

CAPTURES = captures_dir()


@dataclass(frozen=True)
class Capture:
    """One captured HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def complete(self) -> bool:
        """False when the stream was cut before `data: [DONE]`."""
        ctype = self.headers.get("content-type", "")
        return "event-stream" not in ctype or b"data: [DONE]" in self.body


def load_capture(name: str) -> Capture:
    """Parse `CAPTURES/<name>.http` (e.g. "main/25_tools_auto_hermes_stream")."""
    raw = (CAPTURES / f"{name}.http").read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    if not _:
        head, _, body = raw.partition(b"\n\n")
    lines = head.decode().splitlines()
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return Capture(status, headers, body)


class ReplayServer:
    """Serves one capture for every POST to /v1/chat/completions (switch with `.use()`)."""

    def __init__(self) -> None:
        self.capture: Capture | None = None
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def use(self, name: str) -> Capture:
        """Answer the next requests with the capture `name`."""
        self.capture = load_capture(name)
        return self.capture

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        capture = self.capture
        assert capture is not None, "call use() first"
        await request.read()
        ctype = capture.headers.get("content-type", "application/json")
        if "event-stream" not in ctype:
            return web.Response(status=capture.status, body=capture.body,
                                headers={"content-type": ctype})
        response = web.StreamResponse(status=capture.status, headers={"content-type": ctype})
        await response.prepare(request)
        for event in capture.body.split(b"\n\n"):
            if event.strip():
                await response.write(event + b"\n\n")
                await asyncio.sleep(0)
        if not capture.complete:
            assert request.transport is not None
            request.transport.abort()  # like the killed server: no chunked terminator
            return response
        await response.write_eof()
        return response

    async def __aenter__(self) -> ReplayServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
