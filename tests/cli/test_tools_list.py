"""`vllm-chat tools list [--json]` and one-shot mode with MCP servers: the installed command
against a real stdio MCP server (and the simulated vLLM for one-shot)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.tool_servers.conftest import TOOL_SERVER
from tests.support.cli import run_vllm_chat
from vllm_chat.simserver import SimConfig, SimServer


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_vllm_chat(*args, timeout=90)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mcp.toml"
    path.write_text(
        "[tools]\n"
        'builtins = ["calculator"]\n'
        "[[mcp.servers]]\n"
        'name = "t"\n'
        f"command = {sys.executable!r}\n"
        f"args = [{str(TOOL_SERVER)!r}, '--extra', 'calculator']\n"
        'confirm = ["exit_now"]\n'
        "[[mcp.servers]]\n"
        'name = "bad"\n'
        'command = "no-such-program-xyz"\n'
        "[[mcp.servers]]\n"
        'name = "off"\n'
        'url = "http://127.0.0.1:9/mcp"\n'
        "enabled = false\n"
    )
    return path


def test_tools_list_json_gives_every_tool_with_source_approval_and_schema(config: Path) -> None:
    result = run("tools", "--config", str(config), "list", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    tools = {t["name"]: t for t in doc["tools"]}
    assert tools["calculator"]["source"] == "built-in" and not tools["calculator"]["needs_approval"]
    echo = tools["echo_text"]
    assert (echo["source"], echo["server"]) == ("mcp", "t")
    assert echo["parameters"]["properties"]["text"]["type"] == "string"
    assert tools["t_calculator"]["server"] == "t"  # renamed: the built-in has the name
    assert not tools["echo_text"]["needs_approval"] and tools["exit_now"]["needs_approval"]
    servers = {s["name"]: s for s in doc["servers"]}
    assert servers["t"]["state"] == "ready"
    assert servers["bad"]["state"] == "failed"
    assert servers["bad"]["stderr"] == ["cannot start 'no-such-program-xyz': no such program"]
    assert servers["off"]["state"] == "disabled"


def test_tools_list_says_where_each_tool_comes_from_and_why_a_server_failed(config: Path) -> None:
    result = run("tools", "--config", str(config), "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["echo_text", "mcp:t", "runs"] for line in lines)
    assert any(line.split()[:3] == ["exit_now", "mcp:t", "asks"] for line in lines)
    assert "    failed: the server exited with status 127 before the MCP handshake was done" in lines
    assert "      cannot start 'no-such-program-xyz': no such program" in lines
    assert "    disabled (enabled = false)" in lines


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    server = SimServer(SimConfig(reasoning=False)).start_in_thread()
    yield server
    server.stop()


def test_one_shot_offers_mcp_tools_under_the_same_yes_rule(sim: SimServer, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[[mcp.servers]]\n" 'name = "t"\n' f"command = {sys.executable!r}\n"
                      f"args = [{str(TOOL_SERVER)!r}]\n")
    denied = run("--config", str(config), "--base-url", sim.base_url, "-p", "please echo the text hi")
    assert denied.returncode == 0, denied.stderr
    assert "[tool echo_text needs approval: denied; run with --yes to allow]" in denied.stderr
    allowed = run("--config", str(config), "--base-url", sim.base_url, "-p", "please echo the text hi", "--yes")
    assert "[tool echo_text: ok]" in allowed.stderr
    assert "echo: please echo the text hi" in allowed.stdout


def test_one_shot_says_which_mcp_server_failed_and_answers_anyway(sim: SimServer, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[mcp.servers]]\nname = "bad"\ncommand = "no-such-program-xyz"\n')
    result = run("--config", str(config), "--base-url", sim.base_url, "-p", "echo ok")
    assert result.returncode == 0 and result.stdout == "ok\n"
    assert ("vllm-chat: MCP server bad failed: the server exited with status 127 before the MCP handshake "
            "was done (its stderr ends: cannot start 'no-such-program-xyz': no such program)") in result.stderr
