"""The session's view of the server: a snapshot for the server panel (version, models,
load, cache), why a reply is slow to start, the header's load indicator, and a
`/metrics` that is missing, behind auth or slow never holding up a chat."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.support.proxy import FrontProxy
from vllm_chat.core.config import load_settings
from vllm_chat.core.events import TurnFinished
from vllm_chat.core.session import ChatSession
from vllm_chat.core.telemetry.facts import server_facts
from vllm_chat.simserver import SimConfig, SimServer


def facts_of(snapshot) -> dict[str, str]:
    return {f.label: f.value for f in server_facts(snapshot)}


async def test_a_snapshot_holds_the_version_the_models_and_the_load() -> None:
    async with SimServer(SimConfig(loras={"sim-chat-terse": "sim-chat"})) as sim:
        session = ChatSession(load_settings({"base_url": sim.base_url}))
        try:
            snapshot = await session.refresh_server()
        finally:
            await session.aclose()
    facts = [(f.label, f.value) for f in server_facts(snapshot)]
    assert ("vLLM version", "0.32.0") in facts
    assert ("Model", "sim-chat · max_model_len 32768") in facts
    assert ("LoRA adapter", "sim-chat-terse (on sim-chat)") in facts
    assert ("Requests", "0 running · 0 waiting") in facts
    assert ("KV cache", "0 % used") in facts
    assert session.server_snapshot() is snapshot


async def test_a_reply_stuck_behind_other_requests_says_why_it_waits_and_the_header_says_busy() -> None:
    async with SimServer(SimConfig(tps=100.0, max_num_seqs=4, kv_cache_tokens=131072)) as sim:
        session = ChatSession(load_settings({"base_url": sim.base_url}))
        seen: list[tuple[str, str]] = []
        session.subscribe(lambda: seen.append((session.status().waiting_reason, session.status().server_load)))
        try:
            session.add_user_message("sim:load=6 hello")
            events = [event async for event in session.run()]
        finally:
            await session.aclose()
    assert isinstance(events[-1], TurnFinished)
    reasons = [reason for reason, _ in seen if reason]
    assert "2 requests ahead, 4 running, KV cache 97 %" in reasons
    assert any(load == "server busy: 3 waiting · KV 97 %" for _, load in seen)
    assert session.status().waiting_reason == ""  # the first token came: the reason went


async def test_the_panel_gets_a_fresh_snapshot_until_it_stops_watching() -> None:
    async with SimServer(SimConfig()) as sim:
        session = ChatSession(load_settings({"base_url": sim.base_url}))
        try:
            stop = session.watch_server()
            first = None
            while first is None:
                await asyncio.sleep(0.05)
                first = session.server_snapshot()
            while session.server_snapshot() is first:
                await asyncio.sleep(0.05)
            second = session.server_snapshot()
            assert second.interval is not None and "Generating" in facts_of(second)
            stop()
            assert "panel" not in session._tasks
        finally:
            await session.aclose()


async def _not_found(request: web.Request) -> web.Response:
    return web.json_response({"detail": "Not Found"}, status=404)


async def _wants_credentials(request: web.Request) -> web.Response:
    return web.Response(status=401, text="auth required")


async def _never_answers(request: web.Request) -> web.Response:
    await asyncio.sleep(60)
    return web.Response(text="")


async def test_a_missing_a_guarded_or_a_stalled_metrics_endpoint_reads_not_reported_and_chat_goes_on() -> None:
    cases = {
        "/metrics answered 404 Not Found": _not_found,
        "/metrics wants credentials (401 Unauthorized)": _wants_credentials,
        "no answer from /metrics within 2 s": _never_answers,
    }
    async with SimServer(SimConfig(tps=200.0, ttft=1.5)) as sim:
        for reason, handler in cases.items():
            async with FrontProxy(sim.root_url, {"/metrics": handler}) as proxy:
                session = ChatSession(load_settings({"base_url": proxy.base_url}))
                try:
                    snapshot = await session.refresh_server()
                    assert facts_of(snapshot)["Metrics"] == f"not reported: {reason}"
                    assert facts_of(snapshot)["vLLM version"] == "0.32.0"
                    session.subscribe(lambda: None)  # a front end listens: the waiting reader runs
                    session.add_user_message("hello")
                    events = [event async for event in session.run()]
                    assert isinstance(events[-1], TurnFinished)
                    assert session.status().server_load == "" and session.status().waiting_reason == ""
                finally:
                    await session.aclose()
