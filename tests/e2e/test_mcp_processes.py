"""No MCP server outlives vllm-chat: the installed app in tmux with a real stdio MCP
server (which has started a child of its own), ended by ctrl+q, SIGTERM or SIGKILL."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.core.tool_servers.conftest import SLOW_START, TOOL_SERVER, read_pid, wait_gone


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def start_with_server(run_app, sim_url: str, tmp_path: Path):
    state = tmp_path / "state"
    config = tmp_path / "mcp.toml"
    config.write_text(
        "[[mcp.servers]]\n"
        'name = "t"\n'
        f"command = {sys.executable!r}\n"
        f"args = [{str(TOOL_SERVER)!r}, '--state', {str(state)!r}]\n"
        f"connect_timeout = {SLOW_START}\n"
    )
    app = run_app("--config", str(config), "--base-url", sim_url)
    app.wait_for("Message")
    server = read_pid(state / "server.pid")
    app.keys("C-p")  # the servers panel, from the command palette, says when its tools are in
    app.wait_for("Search")
    app.type("Tool servers")
    app.wait_for("MCP servers: state")
    app.keys("Enter")
    app.wait_for("ready · 7 tools")
    app.keys("Escape")
    app.wait_gone(r"Tool servers \(MCP\)")  # keys typed before would go to the panel
    # The server starts a child of its own (through approval, as a user would allow it).
    app.type("spawn child please")
    app.keys("Enter")
    app.wait_for("Run spawn_child")
    app.keys("Tab")  # the approval opened by itself: move to it first, as a user must
    app.keys("y")
    child = read_pid(state / "child.pid")
    guard = parent_of(server)
    vllm_chat = parent_of(guard)
    assert "vllm-chat" in Path(f"/proc/{vllm_chat}/cmdline").read_text()
    return app, vllm_chat, [guard, server, child]


@pytest.mark.parametrize("how", ["ctrl+q", "SIGTERM", "SIGKILL"])
def test_the_server_and_its_children_end_with_the_app(run_app, sim_url: str, tmp_path: Path, how: str) -> None:
    app, vllm_chat, processes = start_with_server(run_app, sim_url, tmp_path)
    if how == "ctrl+q":
        app.keys("C-q")
    else:
        os.kill(vllm_chat, getattr(signal, how))
    app.wait_for("__EXITED__")
    left = [pid for pid in processes if not wait_gone(pid)]
    assert not left, f"still running after {how}: {left}"
