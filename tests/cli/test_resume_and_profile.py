"""`--resume ID` (a unique id prefix is enough) joins a saved session, in one-shot mode
and in the TUI; a prefix that is ambiguous, unknown or names an unreadable file
stops with a message saying so. `--profile NAME` picks a server from the config."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_vllm_chat
from tests.support.paths import STRICT
from tests.support.tmux import TmuxApp
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer


@pytest.fixture(scope="module")
def sim() -> Iterator[object]:
    server = SimServer(SimConfig()).start_in_thread()
    yield server
    server.stop()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_vllm_chat(*args, timeout=60)


def saved(session_id: str, topic: str) -> Conversation:
    conv = Conversation(id=session_id, title=topic, model="sim-chat")
    conv.add(Message(role="user", content=f"echo {topic}"))
    conv.add(Message(role="assistant", content=topic, status="complete", finish_reason="stop"))
    SessionStore().save(conv)
    return conv


def messages_of(session_id: str) -> list[str]:
    return [m.content for m in SessionStore().load(session_id).messages]


# --- one-shot mode -------------------------------------------------------------------------------


def test_a_one_shot_call_joins_the_session_a_prefix_names(sim) -> None:
    saved("abc1111111", "walrus")
    saved("xyz2222222", "penguin")
    result = run("--base-url", sim.base_url, "-p", "echo and the carpenter", "--resume", "abc1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "and the carpenter\n"
    assert messages_of("abc1111111") == ["echo walrus", "walrus", "echo and the carpenter", "and the carpenter"]
    assert [m["content"] for m in sim.stats.last_request_body["messages"]][:2] == ["echo walrus", "walrus"]
    assert messages_of("xyz2222222") == ["echo penguin", "penguin"], "the other session is untouched"
    assert len(SessionStore().list()[0]) == 2, "no new session was made"


def test_an_ambiguous_prefix_lists_the_candidates_and_sends_nothing(sim) -> None:
    saved("abc1111111", "one")
    saved("abc2222222", "two")
    before = sim.stats.requests
    result = run("--base-url", sim.base_url, "-p", "hi", "--resume", "abc")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("vllm-chat: ambiguous: 'abc' matches abc1111111, abc2222222; "
                             "give more characters\n")
    assert sim.stats.requests == before


def test_an_unknown_session_id_says_how_to_find_one(sim) -> None:
    saved("abc1111111", "one")
    result = run("--base-url", sim.base_url, "-p", "hi", "--resume", "nope")
    assert result.returncode == 2
    assert result.stderr == "vllm-chat: no session matches 'nope' (`vllm-chat sessions list` lists them)\n"


def test_an_unreadable_session_file_says_why_and_is_left_alone(sim, isolated_env: Path) -> None:
    broken = isolated_env / "sessions" / "bad1234567.json"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("{not json")
    result = run("--base-url", sim.base_url, "-p", "hi", "--resume", "bad1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("vllm-chat: session bad1234567 can't be read: ")
    assert broken.read_text() == "{not json"


# --- the TUI ---------------------------------------------------------------------------------------


def test_the_tui_opens_the_session_a_prefix_names(sim, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        if STRICT:
            pytest.fail("tmux is required (apt-get install tmux)")
        pytest.skip("tmux is not installed")
    saved("abc1111111", "remember the walrus")
    saved("xyz2222222", "forget the penguin")
    env = {name: os.environ[name] for name in ("VLLM_CHAT_DATA_DIR", "XDG_CONFIG_HOME")}
    app = TmuxApp(["--base-url", sim.base_url, "--resume", "abc1"], env=env, cwd=tmp_path)
    try:
        screen = app.wait_for(r"█ remember the walrus")
        assert "echo remember the walrus" in screen and "penguin" not in screen
        app.keys("C-q")
        app.wait_for(r"__EXITED__ 0")
    finally:
        app.close()


# --- profiles --------------------------------------------------------------------------------------


def test_a_profile_from_the_config_picks_the_server_and_model(sim, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    config = tmp_path / "config.toml"
    config.write_text(f'base_url = "{nowhere}"\n\n'
                      f'[profiles.sim]\nbase_url = "{sim.base_url}"\nmodel = "sim-vision"\n')
    chosen = run("--config", str(config), "--profile", "sim", "-p", "echo via profile", "--json")
    assert chosen.returncode == 0, chosen.stderr
    doc = json.loads(chosen.stdout)
    assert (doc["model"], doc["text"]) == ("sim-vision", "via profile")

    without = run("--config", str(config), "-p", "echo hi")
    assert without.returncode == 1 and f"Can't reach the server at {nowhere}" in without.stderr

    unknown = run("--config", str(config), "--profile", "gpu-box", "-p", "echo hi")
    assert unknown.returncode == 2
    assert unknown.stderr == (f"vllm-chat: Config file {config}: profile 'gpu-box' does not exist "
                              "(profiles: sim).\n")
