"""The context meter against a real vLLM: `/tokenize` with exactly the messages of a chat
request gives exactly that request's `usage.prompt_tokens` (without tools, with tools,
with `enable_thinking`), through `ChatSession` as the app counts; an image on a text-only
model is refused by /tokenize as by chat, so the meter says it can't count rather than
give a wrong figure; and one-shot `--count` and the refusal of a request over the window.

`VLLM_CHAT_REAL_URL` (+ `VLLM_CHAT_REAL_API_KEY`) is the server with tool calling,
`VLLM_CHAT_REAL_REASONING_URL` the one with the qwen3 reasoning parser (see
test_real_vllm.py). The model, tiny-llama, is text-only: that a count with an image
equals the chat usage can't be shown here.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Attachment
from vllm_chat.core.events import TurnFinished
from vllm_chat.core.session import ChatSession

pytestmark = pytest.mark.integration

REAL_URL = os.environ.get("VLLM_CHAT_REAL_URL")
REAL_KEY = os.environ.get("VLLM_CHAT_REAL_API_KEY") or "EMPTY"
REASONING_URL = os.environ.get("VLLM_CHAT_REAL_REASONING_URL")
needs_real = pytest.mark.skipif(not REAL_URL, reason="set VLLM_CHAT_REAL_URL to a real vLLM server's /v1 URL")
needs_reasoning = pytest.mark.skipif(not REASONING_URL, reason="set VLLM_CHAT_REAL_REASONING_URL")


async def counted_then_sent(url: str, key: str, prompt: str, **settings) -> tuple[int, int, bool]:
    """(the meter's count of the draft, the usage the same request reported, exact?)."""
    session = ChatSession(load_settings({"base_url": url, "api_key": key, "sampling": {"max_tokens": 4},
                                         "system_prompt": "You are terse.", **settings}))
    try:
        await session.connect()
        count = await session.count_now(prompt)
        session.add_user_message(prompt)
        final = None
        async for event in session.run():
            final = event
        assert isinstance(final, TurnFinished), final
        return count.tokens, final.message.usage.prompt_tokens, count.exact
    finally:
        await session.aclose()


@needs_real
@pytest.mark.parametrize("tools", [False, True], ids=["without-tools", "with-tools"])
async def test_the_count_is_the_usage_the_same_request_reports(tools: bool) -> None:
    counted, used, exact = await counted_then_sent(REAL_URL, REAL_KEY, "What is the weather in Paris?",
                                                   tools={"enabled": tools, "choice": "none"})
    assert exact and counted == used
    if tools:
        without, _, _ = await counted_then_sent(REAL_URL, REAL_KEY, "What is the weather in Paris?",
                                                tools={"enabled": False})
        assert counted - without > 500, "the tool schemas are in the count"


@needs_reasoning
@pytest.mark.xdist_group("real-vllm-reasoning")  # the reasoning server
@pytest.mark.parametrize("thinking", [True, False], ids=["thinking", "no-thinking"])
async def test_the_count_follows_enable_thinking_as_the_request_sends_it(thinking: bool) -> None:
    counted, used, exact = await counted_then_sent(REASONING_URL, "EMPTY", "hello there",
                                                   sampling={"max_tokens": 4, "enable_thinking": thinking},
                                                   tools={"enabled": False})
    assert exact and counted == used


@needs_real
async def test_an_image_on_a_text_only_model_is_not_counted_wrongly() -> None:
    session = ChatSession(load_settings({"base_url": REAL_URL, "api_key": REAL_KEY}))
    try:
        await session.connect()
        photo = Attachment(kind="image", name="cat.png", url="https://example.com/cat.png", width=448, height=448)
        count = await session.count_now("what is this?", [photo])
        assert not count.exact and "not a multimodal model" in count.note
    finally:
        await session.aclose()


@needs_real
async def test_the_meter_follows_typing_and_settles_on_the_exact_count() -> None:
    session = ChatSession(load_settings({"base_url": REAL_URL, "api_key": REAL_KEY,
                                         "context": {"recount_delay": 0.05}}))
    try:
        await session.connect()
        session.set_draft("a question about the KV cache")
        deadline = time.monotonic() + 60
        while not session.status().context_exact:
            assert time.monotonic() < deadline, "no exact count"
            await asyncio.sleep(0.05)
        status = session.status()
        assert status.context_max == 2048 and status.context_used == (await session.count_now()).tokens
    finally:
        await session.aclose()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vllm_chat", "--base-url", REAL_URL, "--api-key", REAL_KEY, *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


@needs_real
def test_one_shot_count_prints_the_exact_count_and_json_carries_the_servers_figure() -> None:
    counted = run("-p", "hello there", "--count", "--json")
    assert counted.returncode == 0, counted.stderr
    doc = json.loads(counted.stdout)
    assert doc["max_model_len"] == 2048 and doc["parts_exact"]
    sent = run("-p", "hello there", "--max-tokens", "4", "--json")
    assert json.loads(sent.stdout)["prompt_tokens"] == doc["prompt_tokens"]


@needs_real
def test_one_shot_refuses_a_prompt_over_the_window_instead_of_a_server_400() -> None:
    result = run("-p", "word " * 2500, "--json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "context_length" and "2,048-token context window" in error["message"]
    assert error["prompt_tokens"] > 2048
