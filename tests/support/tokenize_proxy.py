"""A small HTTP proxy in front of a server that can break `/tokenize` on demand.

Everything is passed through (streams included, chunk by chunk); `/tokenize`
answers as `mode` says: `pass` (forwarded), `missing` (FastAPI's 404
`{"detail": "Not Found"}`, as from a server that has no such route),
`forbidden` (403), `failing` (a 500 in vLLM's error envelope), or `slow`
(forwarded after `delay` seconds, or as soon as the test calls `release()`). It
records what went through, so tests can check how often the app counted and what a
chat request carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from typing_extensions import Self

_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding", "host"}


@dataclass
class TokenizeProxy:
    """`async with TokenizeProxy(upstream_root) as proxy:` then use `proxy.base_url`."""

    upstream: str
    """The server's root URL (no `/v1`)."""
    mode: str = "pass"
    """How `/tokenize` answers: pass, missing, forbidden, failing or slow."""
    delay: float = 5.0
    """Seconds a `slow` `/tokenize` waits before it is forwarded (unless released first)."""
    tokenize_calls: int = 0
    """`/tokenize` requests that reached the proxy."""
    chat_requests: list[dict[str, Any]] = field(default_factory=list)
    """The bodies of the chat completion requests that went through."""
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _client: aiohttp.ClientSession | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        """The OpenAI base URL to give the app."""
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> Self:
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()  # a count still held would keep the server from closing until its delay is up
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.path == "/tokenize":
            self.tokenize_calls += 1
            broken = await self._broken()
            if broken is not None:
                return broken
        elif request.path.endswith("/chat/completions") and body:
            self.chat_requests.append(json.loads(body))
        assert self._client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._client.request(request.method, self.upstream + request.path_qs, data=body,
                                        headers=headers) as upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS})
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    def release(self) -> None:
        """Let every `/tokenize` a `slow` proxy holds through now, and those after it at once:
        a test that has seen what happens while the server counts needn't wait out `delay`."""
        self._released.set()

    async def _broken(self) -> web.Response | None:
        match self.mode:
            case "missing":
                return web.json_response({"detail": "Not Found"}, status=404)
            case "forbidden":
                return web.json_response({"error": "Forbidden"}, status=403)
            case "failing":
                return web.json_response({"error": {"message": "EngineCore encountered an issue.",
                                                     "type": "InternalServerError", "param": None,
                                                     "code": 500}}, status=500)
            case "slow":
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._released.wait(), self.delay)
        return None
