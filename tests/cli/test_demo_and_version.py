"""`vllm-chat --version` prints the package version, and `vllm-chat --demo` talks to the
built-in simulated server with one of its own models, whatever model the user's
config or environment names for their real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from tests.support.tmux import installed_command
from vllm_chat import __version__


def run(*args: str, env: dict[str, str] | None = None,
        command: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(command or [sys.executable, "-m", "vllm_chat"]), *args], capture_output=True,
                          check=False, text=True, timeout=60, env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL)


def test_version_prints_the_package_version() -> None:
    expected = f"vllm-chat {version('vllm-chat')}\n"
    assert __version__ == version("vllm-chat")
    for result in (run("--version"), run("--version", command=[installed_command("vllm-chat")]),
                   run("--demo", "--version")):
        assert result.returncode == 0 and result.stdout == expected and result.stderr == ""


def test_the_demo_ignores_a_model_set_in_the_environment_or_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('model = "qwen-72b-from-config"\n')
    for extra in ({"VLLM_CHAT_MODEL": "llama-70b-from-env"}, {"VLLM_CHAT_CONFIG": str(config)}):
        result = run("--demo", "-p", "echo hi", "--json", env=extra)
        assert result.returncode == 0, result.stdout + result.stderr
        doc = json.loads(result.stdout)
        assert (doc["model"], doc["text"], doc["status"]) == ("sim-chat", "hi", "complete")
        assert result.stderr == ""


def test_the_demo_uses_a_model_flag_the_simulated_server_serves() -> None:
    result = run("--demo", "--model", "sim-vision", "-p", "echo seen", "--json",
                 env={"VLLM_CHAT_MODEL": "llama-70b-from-env"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"] == "sim-vision" and result.stderr == ""


def test_the_demo_says_so_when_the_model_flag_names_a_model_it_does_not_serve() -> None:
    result = run("--demo", "--model", "gpt-9", "-p", "echo still works")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "still works\n"
    assert result.stderr == ("vllm-chat: the demo server does not serve 'gpt-9'; using 'sim-chat' "
                             "(it serves sim-chat, sim-vision, sim-base, sim-chat-terse).\n")
