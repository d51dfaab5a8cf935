"""The second-round checks the simulated server passes, run against a real vLLM server.

`VLLM_CHAT_REAL_URL` (and `VLLM_CHAT_REAL_API_KEY`) name the main server CI starts
(`tiny-llama`, hermes tool parser). Three more servers are optional:
`VLLM_CHAT_REAL_BASE_URL` (a model without a chat template, `VR_BASE=1 start.sh`),
`VLLM_CHAT_REAL_METRICS_URL` (started with `--enable-per-request-metrics`) and the
reasoning server `VLLM_CHAT_REAL_REASONING_URL`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REAL_URL = os.environ.get("VLLM_CHAT_REAL_URL")
REAL_KEY = os.environ.get("VLLM_CHAT_REAL_API_KEY")
BASE_URL = os.environ.get("VLLM_CHAT_REAL_BASE_URL")
BASE_MODEL = os.environ.get("VLLM_CHAT_REAL_BASE_MODEL", "tiny-base")
METRICS_URL = os.environ.get("VLLM_CHAT_REAL_METRICS_URL")
REASONING_URL = os.environ.get("VLLM_CHAT_REAL_REASONING_URL")
MODEL = os.environ.get("VLLM_CHAT_REAL_MODEL", "tiny-llama")
needs_real = pytest.mark.skipif(not REAL_URL, reason="set VLLM_CHAT_REAL_URL to a real vLLM server's /v1 URL")


def _load_checks():
    path = Path(__file__).resolve().parents[1] / "simserver" / "round2_checks.py"
    spec = importlib.util.spec_from_file_location("real_vllm_round2_checks", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


checks = _load_checks()


async def _client(url: str, key: str | None = None):
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=url, api_key=key or "EMPTY", max_retries=0, timeout=120)


@pytest.fixture
async def client():
    client = await _client(REAL_URL, REAL_KEY)
    yield client
    await client.close()


@needs_real
@pytest.mark.parametrize("check", [
    "check_choice_reply", "check_regex_reply", "check_grammar_reply", "check_json_schema_reply",
    "check_removed_guided_fields_are_ignored", "check_constraint_with_named_tool_is_refused",
    "check_invalid_regex_is_refused", "check_logprobs_stream", "check_logprobs_nonstream", "check_n3_stream",
    "check_beam_search_stream", "check_completion_stream",
])
async def test_generation_features(client, check):
    await getattr(checks, check)(client, MODEL)


@needs_real
async def test_regex_reply_non_streamed(client):
    await checks.check_regex_reply(client, MODEL, stream=False)


@needs_real
@pytest.mark.parametrize(("tools", "kwargs"), [(False, None), (True, None), (False, {"enable_thinking": False})])
async def test_tokenize_counts_what_chat_reports(client, tools, kwargs):
    await checks.check_tokenize_counts_the_prompt(client, MODEL, tools=tools, kwargs=kwargs)


@needs_real
async def test_metrics_version_and_absent_lora_routes(client):
    await checks.check_metrics(client)
    await checks.check_version(client)
    await checks.check_runtime_lora_routes_absent(client)


@pytest.mark.skipif(not BASE_URL,
                    reason="set VLLM_CHAT_REAL_BASE_URL to a vLLM serving a model without a chat template")
async def test_base_model():
    client = await _client(BASE_URL)
    try:
        await checks.check_base_model(client, BASE_MODEL)
    finally:
        await client.close()


@pytest.mark.skipif(not METRICS_URL,
                    reason="set VLLM_CHAT_REAL_METRICS_URL to a vLLM run with --enable-per-request-metrics")
async def test_per_request_metrics():
    client = await _client(METRICS_URL)
    try:
        await checks.check_per_request_metrics(client, MODEL)
    finally:
        await client.close()


@pytest.mark.skipif(not REASONING_URL, reason="set VLLM_CHAT_REAL_REASONING_URL to a vLLM run with a reasoning parser")
@pytest.mark.xdist_group("real-vllm-reasoning")  # the reasoning server
async def test_reasoning_controls():
    client = await _client(REASONING_URL)
    try:
        await checks.check_reasoning_controls(client, MODEL)
    finally:
        await client.close()
