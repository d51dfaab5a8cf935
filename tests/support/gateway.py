"""A small gateway for tests, like the ones vLLM users put in front of their servers:
it forwards every request to a backend (the simulated vLLM or a real one), and on
demand demands a header, serves TLS with a test CA, answers 429/503 with Retry-After,
and records each request's routing key.

    async with Gateway(backend_url, require={"X-Team": "ml"}, tls=ca) as gw:
        gw.base_url   # https://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate", "host", "content-length"}


@dataclass
class Seen:
    """One request the gateway passed on (or refused)."""

    method: str
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class Gateway:
    """An aiohttp reverse proxy in front of `backend` (a base URL ending in /v1)."""

    backend: str
    require: dict[str, str] = field(default_factory=dict)
    """Headers every request must carry with these values (401 otherwise)."""
    tls: Any = None
    """A `trustme.CA`: serve HTTPS with a certificate it issued for 127.0.0.1 and localhost."""
    cert: Any = None
    """With `tls`: serve this `trustme.LeafCert` instead (another host's, an expired one)."""
    routing_header: str | None = None
    """The header whose value is recorded per request (the routing key)."""
    seen: list[Seen] = field(default_factory=list)
    """Every request, in order."""
    busy: list[tuple[int, int | str]] = field(default_factory=list)
    """(status, Retry-After: seconds or an HTTP date) answers for the next chat requests, first first."""

    base_url: str = ""
    _runner: web.AppRunner | None = None
    _client: aiohttp.ClientSession | None = None

    @property
    def routing_keys(self) -> list[str | None]:
        """The routing key of each chat request, in order."""
        name = (self.routing_header or "").lower()
        return [s.headers.get(name) for s in self.seen if s.path.endswith("/chat/completions")]

    async def __aenter__(self) -> Gateway:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._client = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            (self.cert or self.tls.issue_cert("127.0.0.1", "localhost")).configure_cert(context)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        scheme = "https" if context is not None else "http"
        self.base_url = f"{scheme}://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        missing = [k for k, v in self.require.items() if headers.get(k.lower()) != v]
        if missing:
            self.seen.append(Seen(request.method, request.path, headers, 401))
            return web.json_response({"error": f"gateway: missing or wrong {', '.join(missing)}"}, status=401)
        if self.busy and request.path.endswith("/chat/completions"):
            status, retry_after = self.busy.pop(0)
            self.seen.append(Seen(request.method, request.path, headers, status))
            return web.json_response({"error": {"message": "gateway: try again later", "code": status}},
                                     status=status, headers={"Retry-After": str(retry_after)})
        root = self.backend.removesuffix("/v1")
        body = await request.read()
        forwarded = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        assert self._client is not None
        async with self._client.request(request.method, root + request.path_qs, data=body,
                                        headers=forwarded) as upstream:
            self.seen.append(Seen(request.method, request.path, headers, upstream.status))
            response = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP})
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response


class GatewayThread:
    """A `Gateway` serving from a thread of its own (for tests that run the installed app in
    a terminal, which block the test's thread): `with GatewayThread(Gateway(...)) as gw:`."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        """The gateway (read its `seen`, `routing_keys`; set its `busy`)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="gateway", daemon=True)

    def _serve(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            async with self.gateway:
                self._ready.set()
                await self._stop.wait()

        asyncio.run(main())

    def __enter__(self) -> Gateway:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the gateway did not start")
        return self.gateway

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
