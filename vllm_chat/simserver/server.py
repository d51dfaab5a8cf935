"""`SimServer`: run the simulated vLLM server on the current event loop or in a thread.

    async with SimServer(SimConfig()) as server:      # same loop, free port
        client = AsyncOpenAI(base_url=server.base_url, api_key="EMPTY")

    server = SimServer(SimConfig()).start_in_thread()  # its own loop, daemon thread
    ...
    server.stop()                                      # synchronous here
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from vllm_chat.simserver.app import build_app
from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.metrics import SimStats

_SHUTDOWN_TIMEOUT = 1.0


class SimServer:
    """One simulated vLLM server listening on `config.host:config.port`."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.stats = SimStats()
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def root_url(self) -> str:
        """`http://HOST:PORT`, where `/health`, `/tokenize` and `/metrics` live."""
        if self.port is None:
            raise RuntimeError("the simulated server is not running")
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT/v1`, the OpenAI SDK's `base_url`."""
        return f"{self.root_url}/v1"

    async def start(self) -> SimServer:
        """Start listening on the running loop; raises OSError if the port is taken."""
        runner = web.AppRunner(
            build_app(self.config, self.stats),
            handler_cancellation=True,
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
            access_log=None,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop listening and cancel the requests in flight."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> SimServer:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 10.0) -> ThreadedSimServer:
        """Run the server on its own event loop in a daemon thread; returns once it listens.
        The handle's `stop()` is synchronous."""
        return ThreadedSimServer(self, timeout)


class ThreadedSimServer:
    """A `SimServer` running on its own loop in a daemon thread (for sync code and other loops)."""

    def __init__(self, server: SimServer, timeout: float = 10.0) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._stopped: asyncio.Event | None = None
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(server.start())
                self._stopped = asyncio.Event()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the starting thread
                failure.append(exc)
                self._loop.close()
                return
            finally:
                started.set()
            try:
                self._loop.run_until_complete(self._stopped.wait())
                self._loop.run_until_complete(server.stop())
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name="vllm-chat-sim", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise TimeoutError("the simulated server did not start in time")
        if failure:
            raise failure[0]

    @property
    def config(self) -> SimConfig:
        """The server's configuration."""
        return self.server.config

    @property
    def stats(self) -> SimStats:
        """The server's live counters."""
        return self.server.stats

    @property
    def port(self) -> int | None:
        """The port it listens on."""
        return self.server.port

    @property
    def root_url(self) -> str:
        """`http://HOST:PORT`."""
        return self.server.root_url

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT/v1`."""
        return self.server.base_url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and wait for its thread to end (safe to call twice)."""
        if self._stopped is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)

    def __enter__(self) -> ThreadedSimServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
