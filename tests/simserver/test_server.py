"""`SimServer` on the test's loop and in its own thread, `SimConfig` checks, and the
`vllm-chat-sim` command."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from vllm_chat.simserver import SimConfig, SimServer


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def test_server_runs_on_the_current_loop_on_a_free_port():
    async with SimServer(SimConfig()) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.root_url == f"http://127.0.0.1:{server.port}"
        body = await asyncio.get_running_loop().run_in_executor(None, _get, server.root_url + "/version")
        assert json.loads(body) == {"version": "0.32.0"}
    with pytest.raises(OSError):
        await asyncio.get_running_loop().run_in_executor(None, _get, server.root_url + "/health")
    with pytest.raises(RuntimeError, match="not running"):
        _ = SimServer().base_url


def test_server_runs_in_its_own_thread_for_synchronous_code():
    server = SimServer(SimConfig(models=("m",))).start_in_thread()
    try:
        reply = _post(server.base_url + "/chat/completions", {"messages": [{"role": "user", "content": "echo hi"}]})
        assert reply["choices"][0]["message"]["content"] == "hi"
        assert server.stats.completed == 1
        assert server.stats.last_request_body["messages"][0]["content"] == "echo hi"
    finally:
        server.stop()
    with pytest.raises(OSError):
        _get(server.root_url + "/health")
    server.stop()


def test_two_servers_cannot_share_a_port():
    first = SimServer(SimConfig()).start_in_thread()
    try:
        with pytest.raises(OSError):
            SimServer(SimConfig(port=first.port)).start_in_thread()
    finally:
        first.stop()


@pytest.mark.parametrize(("fields", "message"), [
    ({"models": ()}, "at least one model"),
    ({"reasoning_field": "thoughts"}, "reasoning_field"),
    ({"max_model_len": 4}, "max_model_len"),
    ({"tps": -1}, "must not be negative"),
    ({"fault": "explode"}, "unknown fault 'explode'"),
    ({"fault": "stall=soon"}, "must be a number"),
    ({"loras": {"x": "nope"}}, "parent 'nope'"),
])
def test_bad_configuration_is_refused_with_a_clear_message(fields, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SimConfig(**fields)


def test_config_is_frozen_and_documents_every_field():
    import dataclasses
    import inspect

    config = SimConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.tps = 3  # type: ignore[misc]
    source = inspect.getsource(SimConfig)
    for field in dataclasses.fields(SimConfig):
        assert re.search(rf"\n    {field.name}: .*\n    \"\"\"", source), f"{field.name} has no docstring"


# --- the command line -----------------------------------------------------------------------------


def _start_cli(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "vllm_chat.simserver.cli", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = process.stdout.readline()
    match = re.search(r"at (http://127\.0\.0\.1:\d+/v1) \(Ctrl\+C to stop\)", line)
    assert match, line + process.stderr.read()
    return process, match.group(1)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_prints_its_url_serves_and_stops_on_a_signal(sig):
    process, base_url = _start_cli("--model", "demo-model", "--max-model-len", "4096")
    try:
        models = json.loads(_get(base_url + "/models"))
        assert [m["id"] for m in models["data"]] == ["demo-model"]
        assert models["data"][0]["max_model_len"] == 4096
        process.send_signal(sig)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill() if process.poll() is None else None
    assert process.returncode == 0, err
    assert "stopped" in out


def test_cli_options_reach_the_server():
    process, base_url = _start_cli("--reasoning", "--reasoning-field", "reasoning_content", "--lora", "sql=sim-chat",
                                   "--multimodal", "sim-chat", "--api-key", "k")
    try:
        request = urllib.request.Request(
            base_url + "/chat/completions",
            data=json.dumps({"model": "sql", "messages": [{"role": "user", "content": "hi"}]}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer k"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            reply = json.loads(response.read())
        assert reply["model"] == "sql" and reply["choices"][0]["message"]["reasoning_content"]
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_cli_serves_the_second_round_features_on_request():
    process, base_url = _start_cli("--base-model", "sim-base", "--per-request-metrics", "--max-num-seqs", "2",
                                   "--trust-request-chat-template", "--kv-cache-tokens", "65536")
    try:
        cards = json.loads(_get(base_url + "/models"))["data"]
        assert [c["id"] for c in cards] == ["sim-chat", "sim-vision", "sim-base"]
        status, body = _post_status(base_url + "/chat/completions", {"model": "sim-base", "messages": [
            {"role": "user", "content": "hi"}], "chat_template": "{{ messages[0].content }}", "max_tokens": 3})
        assert status == 200 and body["metrics"]["tokens_per_second"] > 0
        assert _post_status(base_url + "/load_lora_adapter", {"lora_name": "x", "lora_path": "/x"})[0] == 404
        metrics = _get(base_url.removesuffix("/v1") + "/metrics")
        assert b'kv_cache_size_tokens="65536"' in metrics
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_cli_enables_runtime_lora_by_flag_or_by_vllms_variable(monkeypatch):
    monkeypatch.setenv("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "True")
    process, base_url = _start_cli()
    try:
        status, body = _post_status(base_url + "/load_lora_adapter", {"lora_name": "x", "lora_path": "/nonexistent"})
        assert status == 404 and body["error"]["message"] == "Loading lora x failed: No adapter found for /nonexistent"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def _post_status(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(("args", "message"), [
    (["--lora", "nonsense"], "expected NAME=PARENT"),
    (["--kv-cache-tokens", "100"], "kv_cache_tokens must hold at least one full context"),
    (["--fault", "explode"], "unknown fault"),
    (["--multimodal", "ghost"], "not a served model"),
])
def test_cli_rejects_bad_options_with_a_message(args, message):
    result = subprocess.run([sys.executable, "-m", "vllm_chat.simserver.cli", "--port", "0", *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and message in result.stderr


def test_cli_reports_a_port_in_use():
    server = SimServer(SimConfig()).start_in_thread()
    try:
        result = subprocess.run([sys.executable, "-m", "vllm_chat.simserver.cli", "--port", str(server.port)],
                                capture_output=True, text=True, timeout=30)
    finally:
        server.stop()
    assert result.returncode == 1 and "cannot listen on" in result.stderr


def test_the_default_kv_cache_grows_to_hold_one_full_context():
    assert SimConfig(max_model_len=1_000_000).kv_cache_tokens == 1_000_000
    with pytest.raises(ValueError, match="at least one full context"):
        SimConfig(max_model_len=4096, kv_cache_tokens=1024)
