"""Fixtures for the simulated server's tests: servers on free ports, SDK clients, raw HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from vllm_chat.simserver import SimConfig, SimServer


@pytest.fixture
async def make_sim() -> AsyncIterator[Callable[..., Any]]:
    """Start simulated servers with `await make_sim(**SimConfig fields)`; all stop at teardown."""
    servers: list[SimServer] = []

    async def start(**overrides: Any) -> SimServer:
        server = await SimServer(SimConfig(**overrides)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def sim(make_sim: Callable[..., Any]) -> SimServer:
    """A simulated server with the default configuration (sim-chat, sim-vision)."""
    return await make_sim()


@pytest.fixture
async def openai_client() -> AsyncIterator[Callable[..., Any]]:
    """`openai_client(base_url, **kwargs)`: an AsyncOpenAI without retries, closed at teardown."""
    from openai import AsyncOpenAI

    clients: list[Any] = []

    def make(base_url: str, api_key: str = "EMPTY", **kwargs: Any) -> Any:
        client = AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, for byte-level checks."""
    async with aiohttp.ClientSession() as session:
        yield session
