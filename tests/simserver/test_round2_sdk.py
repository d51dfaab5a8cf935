"""The simulated server passes the same second-round checks as the real vLLM
(`round2_checks.py`, also run by `tests/integration/test_real_vllm_round2.py`)."""

from __future__ import annotations

import pytest

from . import round2_checks as checks

MODEL = "sim-chat"


@pytest.fixture
async def client(sim, openai_client):
    return openai_client(sim.base_url)


@pytest.mark.parametrize("check", [
    "check_choice_reply", "check_regex_reply", "check_grammar_reply", "check_json_schema_reply",
    "check_removed_guided_fields_are_ignored", "check_constraint_with_named_tool_is_refused",
    "check_invalid_regex_is_refused", "check_logprobs_stream", "check_logprobs_nonstream", "check_n3_stream",
    "check_beam_search_stream", "check_completion_stream",
])
async def test_generation_features(client, check):
    await getattr(checks, check)(client, MODEL)


async def test_regex_reply_non_streamed(client):
    await checks.check_regex_reply(client, MODEL, stream=False)


@pytest.mark.parametrize(("tools", "kwargs"), [(False, None), (True, None), (False, {"enable_thinking": False})])
async def test_tokenize_counts_what_chat_reports(client, tools, kwargs):
    await checks.check_tokenize_counts_the_prompt(client, MODEL, tools=tools, kwargs=kwargs)


async def test_metrics_version_and_absent_lora_routes(client):
    await checks.check_metrics(client)
    await checks.check_version(client)
    await checks.check_runtime_lora_routes_absent(client)


async def test_base_model(make_sim, openai_client):
    server = await make_sim(base_models=("sim-base",))
    await checks.check_base_model(openai_client(server.base_url), "sim-base")


async def test_per_request_metrics(make_sim, openai_client):
    server = await make_sim(per_request_metrics=True)
    await checks.check_per_request_metrics(openai_client(server.base_url), MODEL)


async def test_reasoning_controls(make_sim, openai_client):
    server = await make_sim(reasoning=True)
    await checks.check_reasoning_controls(openai_client(server.base_url), MODEL)


async def test_metrics_need_no_key_on_a_server_with_one(make_sim, openai_client):
    server = await make_sim(api_key="secret")
    await checks.check_metrics(openai_client(server.base_url, api_key="secret"))
