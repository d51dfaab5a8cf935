"""A real vLLM behind a gateway that terminates TLS with a private CA, demands a header of
its own besides vLLM's API key, records routing keys and answers 429 with Retry-After
before letting a request through: one conversation end to end (models, /tokenize,
/metrics, two turns), then the installed `vllm-chat` one-shot through the same gateway.

`VLLM_CHAT_REAL_URL` (and `VLLM_CHAT_REAL_API_KEY`) as for the other integration tests.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from tests.support.gateway import Gateway
from vllm_chat.core.config import load_settings
from vllm_chat.core.events import ServerBusy, TurnFinished
from vllm_chat.core.session import ChatSession

pytestmark = pytest.mark.integration

REAL_URL = os.environ.get("VLLM_CHAT_REAL_URL")
REAL_KEY = os.environ.get("VLLM_CHAT_REAL_API_KEY") or ""
needs_real = pytest.mark.skipif(not REAL_URL, reason="set VLLM_CHAT_REAL_URL to a real vLLM server's /v1 URL")
VLLM_CHAT = str(Path(sys.executable).parent / "vllm-chat")
TOKEN = "real-gw-token-93b1f0"


@needs_real
async def test_a_real_vllm_behind_a_tls_gateway_with_its_own_header_and_a_router(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch
                                                                                ) -> None:
    assert REAL_URL is not None
    monkeypatch.setenv("GW_TOKEN", TOKEN)
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    async with Gateway(REAL_URL, require={"X-Gateway-Token": TOKEN}, tls=ca, routing_header="x-user-id") as gw:
        gw.busy = [(429, 1)]
        session = ChatSession(load_settings({
            "base_url": gw.base_url, "api_key": REAL_KEY or "EMPTY", "ca_bundle": str(bundle),
            "headers": {"X-Gateway-Token": "${GW_TOKEN}"}, "routing_header": "x-user-id",
            "tools": {"enabled": False}, "sampling": {"max_tokens": 16}}))
        try:
            await session.connect()
            assert session.models and session.models[0].id == "tiny-llama"
            count = await session.count_now("hello there")
            snapshot = await session.refresh_server()
            turns = []
            for prompt in ("hello", "and again"):
                session.add_user_message(prompt)
                turns.append([event async for event in session.run()])
        finally:
            await session.aclose()
        keys = list(gw.routing_keys)
        env = {**os.environ, "GW_TOKEN": TOKEN}
        oneshot = await asyncio.to_thread(
            subprocess.run, [VLLM_CHAT, "--base-url", gw.base_url, "--api-key", REAL_KEY or "EMPTY",
                             "--ca-bundle", str(bundle), "-H", "X-Gateway-Token: ${GW_TOKEN}", "--no-tools",
                             "--max-tokens", "8", "-p", "hi"],
            env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert count.exact and count.max_model_len == 2048, "vLLM's /tokenize counted through the gateway"
    assert snapshot.version and snapshot.metrics is not None, "/version and /metrics too"
    assert [type(e) for e in turns[0] if isinstance(e, ServerBusy)] == [ServerBusy], "the 429 was waited for"
    assert all(isinstance(t[-1], TurnFinished) and t[-1].message.usage for t in turns)
    assert keys == [session.conversation.id] * 3, "the refused request, then both turns: one key"
    assert [s for s in gw.seen if s.status == 401] == [], "the gateway's header and vLLM's key on every request"
    assert oneshot.returncode == 0, oneshot.stderr
    assert TOKEN not in oneshot.stdout + oneshot.stderr
