"""The cockpit from the command line, through the installed `vllm-chat`: `--logprobs N`
(with `--json`: every token with its probability and alternatives), vLLM's per-request
metrics in `--json`, and `vllm-chat server [--json]`."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator

import pytest
from aiohttp import web

from tests.support.cli import run_vllm_chat
from tests.support.proxy import FrontProxy
from vllm_chat.simserver import SimConfig, SimServer


@pytest.fixture(scope="module")
def sim() -> Iterator[object]:
    server = SimServer(SimConfig(reasoning=False, per_request_metrics=True)).start_in_thread()
    yield server
    server.stop()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_vllm_chat(*args, timeout=60)


def test_logprobs_with_json_print_each_token_with_its_probability_and_alternatives(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "what is 17*23", "--no-tools", "--logprobs", "3", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    body = sim.stats.last_request_body
    assert body["logprobs"] is True and body["top_logprobs"] == 3
    logprobs = doc["logprobs"]
    tokens = logprobs["tokens"]
    assert "".join(t["token"] for t in tokens) == doc["text"]
    first = tokens[0]
    assert set(first) == {"token", "logprob", "probability", "part", "top"}
    assert 0 < first["probability"] <= 1 and first["part"] == "content"
    assert len(first["top"]) == 3 and all(set(alt) == {"token", "logprob", "probability"} for alt in first["top"])
    assert logprobs["top_n"] == 3 and logprobs["mean_logprob"] < 0 and logprobs["perplexity"] >= 1


def test_json_carries_the_client_s_ttft_and_vllm_s_per_request_metrics(sim) -> None:
    doc = json.loads(run("--base-url", sim.base_url, "-p", "hello", "--json").stdout)
    assert doc["client_timings"]["ttft_seconds"] > 0
    server = doc["server_metrics"]
    assert {"time_to_first_token_ms", "queue_time_ms", "mean_itl_ms", "tokens_per_second"} <= set(server)
    assert "logprobs" not in doc  # not asked for


def test_without_json_the_reply_s_confidence_follows_on_stderr(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "echo hi", "--logprobs", "1")
    assert result.returncode == 0 and result.stdout == "hi\n"
    assert "vllm-chat: mean logprob -" in result.stderr and "perplexity" in result.stderr


def test_too_many_alternatives_are_refused_before_anything_is_sent(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "hello", "--logprobs", "25")
    assert result.returncode == 2
    assert "sampling.logprobs" in result.stderr and "less than or equal to 20" in result.stderr


def test_server_prints_version_models_load_and_cache(sim) -> None:
    result = run("server", "--base-url", sim.base_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Server", sim.base_url]
    for label in ("vLLM version", "Model", "Requests", "KV cache", "Prefix cache", "Preemptions",
                  "TTFT (server)", "Inter-token latency"):
        assert any(line.startswith(label) for line in lines), label
    doc = json.loads(run("server", "--base-url", sim.base_url, "--json").stdout)
    assert doc["version"] == "0.32.0" and doc["models"][0]["id"] == "sim-chat"
    assert doc["metrics"]["requests_waiting"] == 0 and doc["metrics"]["kv_cache_usage"] is not None


def test_server_without_a_server_says_so_and_exits_1() -> None:
    result = run("server", "--base-url", "http://127.0.0.1:9/v1")
    assert result.returncode == 1
    assert "did not answer" in result.stderr and "--base-url" in result.stderr


async def test_server_waits_for_a_slow_version_as_long_as_for_the_rest() -> None:
    """The command gives each answer 10 s (a busy server, or a busy machine); the version
    had the header's 2 s, and read "not reported" when the rest came in time."""
    async def version(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.json_response({"version": "0.32.0"})

    async with SimServer(SimConfig()) as upstream, FrontProxy(upstream.root_url, {"/version": version}) as proxy:
        result = await asyncio.to_thread(run, "server", "--base-url", proxy.base_url)
    assert result.returncode == 0, result.stderr
    assert [line.split()[-1] for line in result.stdout.splitlines() if line.startswith("vLLM version")] == ["0.32.0"]


async def test_server_text_from_the_server_is_shown_inert() -> None:
    async def version(request: web.Request) -> web.Response:
        return web.json_response({"version": "0.32\x1b]0;owned\x07"})

    async with SimServer(SimConfig()) as upstream, FrontProxy(upstream.root_url, {"/version": version}) as proxy:
        result = await asyncio.to_thread(run, "server", "--base-url", proxy.base_url)
    assert result.returncode == 0
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "0.32␛]0;owned␇" in result.stdout
