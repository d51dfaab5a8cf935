"""The cockpit against a real vLLM: `/metrics` parsed with the named figures found,
logprobs asked for and kept per token, the copied curl command and Python script run
as they are, and the rendered prompt.

`VLLM_CHAT_REAL_URL` (and `VLLM_CHAT_REAL_API_KEY`) as for the other integration
tests. Optional: `VLLM_CHAT_REAL_SCALE_OUT_URL`, a server started with
`--enable-per-request-metrics --enable-scale-out` (no key), for vLLM's per-request
metrics and the chat render endpoint (CI does not start one).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vllm_chat.core.config import load_settings
from vllm_chat.core.events import TurnFinished
from vllm_chat.core.session import ChatSession

pytestmark = pytest.mark.integration

REAL_URL = os.environ.get("VLLM_CHAT_REAL_URL")
REAL_KEY = os.environ.get("VLLM_CHAT_REAL_API_KEY") or ""
SCALE_OUT_URL = os.environ.get("VLLM_CHAT_REAL_SCALE_OUT_URL")
needs_real = pytest.mark.skipif(not REAL_URL, reason="set VLLM_CHAT_REAL_URL to a real vLLM server's /v1 URL")
needs_scale_out = pytest.mark.skipif(not SCALE_OUT_URL, reason="set VLLM_CHAT_REAL_SCALE_OUT_URL to a vLLM "
                                     "started with --enable-per-request-metrics --enable-scale-out")
VLLM_CHAT = str(Path(sys.executable).parent / "vllm-chat")


def session_for(url: str, key: str = "", **settings: object) -> ChatSession:
    return ChatSession(load_settings({"base_url": url, "api_key": key or "EMPTY", "tools": {"enabled": False},
                                      "system_prompt": "Be brief.", **settings}))


async def one_reply(session: ChatSession, prompt: str = "hi"):
    await session.connect()
    session.add_user_message(prompt)
    events = [event async for event in session.run()]
    assert isinstance(events[-1], TurnFinished), events[-1]
    return session.conversation.messages[-1]


@needs_real
async def test_metrics_are_parsed_and_the_named_figures_found() -> None:
    session = session_for(REAL_URL, REAL_KEY)
    try:
        await one_reply(session, "hello")
        snapshot = await session.refresh_server()
    finally:
        await session.aclose()
    m = snapshot.metrics
    assert m is not None, snapshot.sample.problem
    assert m.running is not None and m.waiting is not None and m.kv_cache is not None
    assert m.prefix_queries is not None and m.preemptions is not None
    assert m.ttft is not None and m.ttft.count >= 1 and m.itl is not None and m.e2e is not None
    assert m.generation_tokens and m.prompt_tokens
    assert snapshot.version and snapshot.models and snapshot.models[0].max_model_len


@needs_real
async def test_logprobs_are_asked_for_and_kept_for_every_token() -> None:
    session = session_for(REAL_URL, REAL_KEY, sampling={"logprobs": 3, "max_tokens": 12})
    try:
        reply = await one_reply(session)
    finally:
        await session.aclose()
    table = session.logprobs_of(reply.id)
    assert table is not None and len(table) == reply.usage.completion_tokens == 12
    # A token holding only part of a character is "\ufffd" in vLLM's logprobs (decoded alone) and
    # adds nothing to the content, which waits for whole characters (vllm-project/vllm#27300);
    # the random tiny model does sample such tokens now and then.
    assert "".join(table.texts).replace("\ufffd", "") == reply.content.replace("\ufffd", "")
    assert all(len(table[i].alternatives) == 3 for i in range(len(table)))
    assert reply.logprobs.perplexity is not None and reply.logprobs.perplexity > 1


@needs_real
def test_one_shot_logprobs_json_lists_each_token() -> None:
    args = [VLLM_CHAT, "--base-url", REAL_URL, "-p", "hi", "--no-tools", "--logprobs", "2", "--max-tokens", "5",
            "--json"]
    if REAL_KEY:
        args += ["--api-key", REAL_KEY]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["logprobs"]["tokens"]) == 5
    assert all(len(t["top"]) == 2 for t in doc["logprobs"]["tokens"])


@needs_real
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_the_copied_curl_command_and_python_script_run_against_the_server() -> None:
    session = session_for(REAL_URL, REAL_KEY, sampling={"max_tokens": 5, "logprobs": 1})
    try:
        reply = await one_reply(session)
    finally:
        await session.aclose()
    env = {**os.environ, "OPENAI_API_KEY": REAL_KEY}
    curl = session.request_as(reply.id, "curl")
    status = await asyncio.to_thread(subprocess.run, ["bash", "-c", curl.replace(
        "curl -sS -N ", "curl -sS -N -o /dev/stderr -w '%{http_code}' ", 1)],
        capture_output=True, text=True, timeout=120, env=env)
    assert status.stdout == "200", status.stderr
    assert "data: [DONE]" in status.stderr
    ran = await asyncio.to_thread(subprocess.run, ["bash", "-c", curl], capture_output=True, text=True,
                                  timeout=120, env=env)
    assert ran.returncode == 0 and ran.stdout.startswith("data: {") and "data: [DONE]" in ran.stdout
    script = session.request_as(reply.id, "python")
    python = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", script], capture_output=True,
                                     text=True, timeout=120, env=env)
    assert python.returncode == 0, python.stderr


@needs_real
async def test_the_rendered_prompt_is_what_the_template_made_of_the_conversation() -> None:
    session = session_for(REAL_URL, REAL_KEY, sampling={"max_tokens": 3})
    try:
        reply = await one_reply(session, "héllo 日本")
        rendered = await session.render_prompt(reply.id)
    finally:
        await session.aclose()
    assert rendered.text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert rendered.text.endswith("<|im_start|>assistant\n")
    assert "".join(rendered.pieces) == rendered.text
    assert len(rendered.token_ids) == reply.usage.prompt_tokens
    assert {rendered.pieces[i] for i in rendered.special} >= {"<|im_start|>", "<|im_end|>"}


@needs_scale_out
async def test_a_scale_out_server_gives_per_request_metrics_and_renders_with_its_endpoint() -> None:
    session = session_for(SCALE_OUT_URL, sampling={"max_tokens": 4})
    try:
        reply = await one_reply(session)
        rendered = await session.render_prompt(reply.id)
    finally:
        await session.aclose()
    assert reply.server_metrics is not None and reply.server_metrics.time_to_first_token_ms is not None
    assert rendered.source == "/v1/chat/completions/render" and rendered.sampling_params["max_tokens"] == 4
    assert len(rendered.token_ids) == reply.usage.prompt_tokens
