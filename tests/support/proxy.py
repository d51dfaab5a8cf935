"""A real HTTP proxy in front of a server, which answers some paths itself.

Stands for what sits in front of vLLM in real deployments (a gateway that
hides `/metrics`, wants its own credentials, or answers slowly), so tests can
show the client coping with it. Every other request is passed through as it
is, streams included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from typing_extensions import Self

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class FrontProxy:
    """`async with FrontProxy(upstream_root, {"/metrics": handler}) as proxy:` then use
    `proxy.base_url` (`/v1` included) instead of the upstream's."""

    def __init__(self, upstream_root: str, answers: dict[str, Handler] | None = None) -> None:
        self.upstream_root = upstream_root.rstrip("/")
        """Where requests go (the server root, without `/v1`)."""
        self.answers = dict(answers or {})
        """Paths answered by the proxy itself."""
        self.seen: list[str] = []
        """Paths of every request, in order."""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.root = ""
        """The proxy's own root URL."""

    @property
    def base_url(self) -> str:
        """The proxy's OpenAI base URL."""
        return self.root + "/v1"

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)  # a stalled handler must not hold up teardown
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.root = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request.path)
        own = self.answers.get(request.path)
        if own is not None:
            return await own(request)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        body = await request.read()
        async with self._session.request(request.method, self.upstream_root + request.path_qs,
                                         headers=headers, data=body) as upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS})
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
