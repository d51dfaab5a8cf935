"""A server behind a company gateway: the extra headers it demands reach it on every
request (models, chat, /tokenize, /version, /metrics, LoRA), their values come from the
environment and are never shown, copied or saved, and a copied request runs as it is.

Every request goes over HTTP through `tests.support.gateway.Gateway` (an aiohttp
reverse proxy) to the simulated vLLM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.gateway import Gateway
from tests.support.secrets import assert_no_secret_in_tree
from vllm_chat.core.config import ConfigError, load_settings
from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.events import TurnFinished
from vllm_chat.core.request_view import shown
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer

SECRET = "gw-s3cret-7c1e9a55"
"""The gateway's token: it must reach the gateway and nothing else."""
REQUIRED = {"X-Team": "ml", "Authorization": f"Bearer {SECRET}"}
HEADERS = {"X-Team": "ml", "Authorization": "Bearer ${GW_TOKEN}"}
"""The settings' headers: the token from the environment."""


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TOKEN", SECRET)


def session_for(base_url: str, *, store: SessionStore | None = None, **settings: object) -> ChatSession:
    return ChatSession(load_settings({"base_url": base_url, **settings}), store=store)


async def test_every_request_carries_the_gateways_headers() -> None:
    async with SimServer(SimConfig(runtime_lora=True)) as sim, Gateway(sim.base_url, require=REQUIRED) as gw:
        session = session_for(gw.base_url, headers=HEADERS)
        try:
            await session.connect()
            session.add_user_message("echo through the gateway")
            events = [event async for event in session.run()]
            count = await session.count_now("how long is this?")
            snapshot = await session.refresh_server()
            runtime_lora = await session.runtime_lora()
        finally:
            await session.aclose()
    assert isinstance(events[-1], TurnFinished) and events[-1].message.content == "through the gateway"
    assert count.exact, "the /tokenize count went through the gateway"
    assert snapshot.version == "0.32.0" and snapshot.metrics is not None
    assert runtime_lora is True
    assert [s for s in gw.seen if s.status == 401] == []
    paths = {s.path for s in gw.seen}
    assert {"/v1/models", "/v1/chat/completions", "/tokenize", "/version", "/metrics"} <= paths
    assert any(p.endswith("_lora_adapter") for p in paths)


async def test_a_gateway_refusing_a_request_without_its_header_says_how_to_send_one() -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, require=REQUIRED) as gw:
        session = session_for(gw.base_url)
        try:
            with pytest.raises(ChatErrorException) as caught:
                await session.connect()
        finally:
            await session.aclose()
    error = caught.value.error
    assert error.kind == "auth" and error.status == 401
    assert "--header 'Name: value'" in error.hint and "[headers]" in error.hint


async def test_the_gateways_authorization_wins_over_the_api_key() -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, require=REQUIRED) as gw:
        session = session_for(gw.base_url, headers=HEADERS, api_key="sk-not-for-the-gateway")
        try:
            await session.connect()
            snapshot = await session.refresh_server()
        finally:
            await session.aclose()
    assert snapshot.metrics is not None
    assert [s.status for s in gw.seen if s.status == 401] == []


def test_a_header_whose_variable_is_not_set_stops_the_start_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GW_TOKEN")
    with pytest.raises(ConfigError, match="GW_TOKEN is not set"):
        load_settings({"headers": HEADERS})
    with pytest.raises(ConfigError, match="not a valid header name"):
        load_settings({"headers": {"Bad Name": "x"}})


async def test_header_values_are_never_shown_copied_or_saved(isolated_env: Path) -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, require=REQUIRED) as gw:
        session = session_for(gw.base_url, headers=HEADERS, store=SessionStore())
        try:
            session.add_user_message("echo keep it secret")
            events = [event async for event in session.run()]
            reply = events[-1].message
            view = shown(session.request_of(reply.id))
            curl = session.request_as(reply.id, "curl")
            script = session.request_as(reply.id, "python")
            status = session.status()
        finally:
            await session.aclose()
        for text in (view, curl, script, repr(status), repr(session.settings)):
            assert SECRET not in text
        assert "Authorization: •••" in view and "X-Team: •••" in view
        assert '-H "Authorization: Bearer ${GW_TOKEN}"' in curl
        assert '-H "X-Team: ${VLLM_CHAT_HEADER_X_TEAM}"' in curl
        assert "# Needs VLLM_CHAT_HEADER_X_TEAM, GW_TOKEN set" in curl
        assert_no_secret_in_tree(isolated_env, SECRET)

        # The copies run as they are, reading the values from the environment.
        env = {**os.environ, "GW_TOKEN": SECRET, "VLLM_CHAT_HEADER_X_TEAM": "ml"}
        ran = await _run(["bash", "-c", curl], env)
        assert ran.returncode == 0 and "data: [DONE]" in ran.stdout, ran.stderr
        ran = await _run([sys.executable, "-c", script], env)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == "keep it secret"
    assert [s.status for s in gw.seen] == [200, 200, 200], "the gateway let the turn and both copies through"


async def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a copied command in a thread (the gateway answers on this loop meanwhile)."""
    import asyncio

    return await asyncio.to_thread(subprocess.run, argv, env=env, capture_output=True, text=True, timeout=60,
                                   check=False)


async def test_requests_go_through_the_proxy_the_environment_names_unless_no_proxy_says_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url.removesuffix("/v1"))  # it forwards what it is sent
        session = session_for(sim.base_url)
        try:
            session.add_user_message("echo by way of the proxy")
            events = [event async for event in session.run()]
            facts = dict(session.connection_facts())
        finally:
            await session.aclose()
        assert isinstance(events[-1], TurnFinished)
        assert "/v1/chat/completions" in {s.path for s in proxy.seen}, "the turn went through the proxy"
        assert facts["Proxy"] == f"{proxy.base_url.removesuffix('/v1')} (from HTTP_PROXY)"

        through = len(proxy.seen)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        session = session_for(sim.base_url)
        try:
            session.add_user_message("echo straight there")
            events = [event async for event in session.run()]
            facts = dict(session.connection_facts())
        finally:
            await session.aclose()
        assert isinstance(events[-1], TurnFinished)
        assert len(proxy.seen) == through, "NO_PROXY: nothing went through the proxy"
        assert facts["Proxy"] == "none: direct (NO_PROXY=127.0.0.1)"
