"""One-shot mode: `vllm-chat -p` prints the streamed reply and exits; errors go to stderr
with the same hints as the TUI. Runs the real command against a simulated vLLM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_API_KEY
from tests.support.cli import run_vllm_chat
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer


@pytest.fixture(scope="module")
def sim() -> Iterator[object]:
    server = SimServer(SimConfig(reasoning=False)).start_in_thread()
    yield server
    server.stop()


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_vllm_chat(*args, input=stdin, cwd=cwd, timeout=60)


def test_the_reply_is_printed_to_stdout_and_the_exit_status_is_0(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "echo Hello *world*")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello *world*\n", "plain text, exactly as the model wrote it"
    assert result.stderr == ""


def test_reasoning_goes_to_stderr_only_when_asked(sim) -> None:
    quiet = run("--base-url", sim.base_url, "-p", "/think why is the sky blue")
    loud = run("--base-url", sim.base_url, "-p", "/think why is the sky blue", "--show-reasoning")
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stderr == "" and loud.stderr.strip()
    assert quiet.stdout == loud.stdout and loud.stderr.strip() not in loud.stdout


def test_json_gives_text_reasoning_usage_and_finish_reason(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "/think echo hi", "--json")
    doc = json.loads(result.stdout)
    assert doc["text"] == "hi" and doc["reasoning"]
    assert doc["finish_reason"] == "stop" and doc["model"] == "sim-chat"
    assert doc["usage"]["completion_tokens"] > 0 and doc["status"] == "complete"


def test_piped_stdin_is_the_prompt_or_is_added_to_it(sim) -> None:
    assert run("--base-url", sim.base_url, stdin="echo from a pipe\n").stdout == "from a pipe\n"
    assert run("--base-url", sim.base_url, "-p", "-", stdin="echo dash\n").stdout == "dash\n"
    both = run("--base-url", sim.base_url, "-p", "echo first", stdin="second part\n")
    assert both.stdout == "first\n\nsecond part\n"


def test_system_prompt_model_and_sampling_flags_reach_the_server(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "hello", "--system", "Be brief.", "--model", "sim-vision",
                 "--temperature", "0.2", "--top-k", "7", "--max-tokens", "30", "--seed", "3", "--no-thinking")
    assert result.returncode == 0
    body = sim.stats.last_request_body
    assert body["model"] == "sim-vision" and body["messages"][0]["content"] == "Be brief."
    assert (body["temperature"], body["top_k"], body["max_tokens"], body["seed"]) == (0.2, 7, 30, 3)
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-p", "hi", "--model", "nope"], "It serves: sim-chat, sim-vision"),
        (["-p", "sim:busy hi"], "busy (503)"),
        (["-p", "sim:drop=5 long 100"], "broke in the middle of the reply"),
    ],
)
def test_errors_go_to_stderr_with_a_hint_and_exit_1(sim, args: list[str], expected: str) -> None:
    result = run("--base-url", sim.base_url, *args)
    assert result.returncode == 1
    assert expected in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_names_the_url(sim) -> None:
    result = run("--base-url", "http://127.0.0.1:9/v1", "-p", "hi")
    assert result.returncode == 1
    assert "Can't reach the server at http://127.0.0.1:9/v1" in result.stderr and "vllm serve" in result.stderr


def test_a_key_the_server_needs_is_asked_for() -> None:
    server = SimServer(SimConfig(api_key=TEST_API_KEY)).start_in_thread()
    try:
        missing = run("--base-url", server.base_url, "-p", "hi")
        given = run("--base-url", server.base_url, "-p", "echo ok", "--api-key", TEST_API_KEY)
    finally:
        server.stop()
    assert missing.returncode == 1 and "--api-key" in missing.stderr
    assert given.returncode == 0 and given.stdout == "ok\n"


def test_tools_needing_approval_are_denied_unless_yes(sim, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[tools.shell]]\nname = "shout"\ndescription = "Shout the given text back"\n'
                      'command = ["echo", "{text}"]\n[tools.shell.parameters.text]\ntype = "string"\n')
    denied = run("--config", str(config), "--base-url", sim.base_url, "-p", "shout hello")
    assert denied.returncode == 0
    assert "needs approval: denied; run with --yes" in denied.stderr
    allowed = run("--config", str(config), "--base-url", sim.base_url, "-p", "shout hello", "--yes")
    assert "[tool shout: ok]" in allowed.stderr and "shout hello" in allowed.stdout


def test_a_one_shot_call_can_join_the_latest_session(sim) -> None:
    first = run("--base-url", sim.base_url, "-p", "echo one", "--save")
    assert first.returncode == 0
    second = run("--base-url", sim.base_url, "-p", "echo two", "--continue")
    assert second.returncode == 0
    [summary], _ = SessionStore().list()
    conv = SessionStore().load(summary.id)
    assert [m.content for m in conv.messages] == ["echo one", "one", "echo two", "two"]
    assert sim.stats.last_request_body["messages"][1]["content"] == "one", "history was sent"


def test_hints_name_command_line_steps_never_tui_keys(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "hi", "-m", "nosuchmodel")
    assert result.returncode == 1
    assert "It serves: sim-chat, sim-vision. Pick one with -m NAME." in result.stderr
    assert "ctrl+" not in result.stderr and "{" not in result.stderr
    as_json = json.loads(run("--base-url", sim.base_url, "-p", "hi", "-m", "nosuchmodel", "--json").stdout)
    assert as_json["error"]["hint"].endswith("Pick one with -m NAME.")


def test_a_session_that_cannot_be_saved_is_said_with_where_a_copy_went_and_exit_1(
        sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("the data folder can't be created under a file")
    monkeypatch.setenv("VLLM_CHAT_DATA_DIR", str(blocker / "data"))
    result = run("--base-url", sim.base_url, "-p", "echo precious", "--save")
    assert result.stdout == "precious\n", "the reply is printed all the same"
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the session was not saved" in result.stderr
    rescued = Path(result.stderr.split("A copy is in ")[1].split(";")[0])
    saved = json.loads(rescued.read_text())
    assert [m["content"] for m in saved["messages"]] == ["echo precious", "precious"]
    rescued.unlink()
    doc = json.loads(run("--base-url", sim.base_url, "-p", "echo again", "--save", "--json").stdout)
    assert doc["session_id"] is None and doc["save_error"] and doc["rescued_to"]
    Path(doc["rescued_to"]).unlink()


def test_control_sequences_in_a_reply_are_kept_when_piped(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "echo a\x1b[31mb")
    assert result.stdout == "a\x1b[31mb\n", "a pipe gets the exact text; only terminals get it made inert"


def test_attachments_go_with_the_prompt_and_bad_ones_stop_before_sending(sim, tmp_path: Path) -> None:
    from PIL import Image

    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30), (1, 2, 3)).save(photo)
    ok = run("--base-url", sim.base_url, "--model", "sim-vision", "-p", "what is this?", "--attach", str(photo))
    assert ok.returncode == 0, ok.stderr
    assert f"I received 1 image: image/png, {photo.stat().st_size} bytes" in ok.stdout
    requests = sim.stats.requests
    (tmp_path / "fake.png").write_text("text")
    bad = run("--base-url", sim.base_url, "-p", "what is this?", "--attach", str(tmp_path / "fake.png"))
    assert bad.returncode == 2 and "not an image, video or audio file" in bad.stderr
    assert sim.stats.requests == requests, "nothing was sent"


def test_a_text_only_model_says_it_cannot_see_images(sim, tmp_path: Path) -> None:
    from PIL import Image

    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30)).save(photo)
    result = run("--base-url", sim.base_url, "--model", "sim-chat", "-p", "look", "--attach", str(photo))
    assert result.returncode == 1
    assert "can't see images" in result.stderr and "hint:" in result.stderr


def test_an_empty_prompt_is_refused_however_it_is_given(sim) -> None:
    for args, stdin in (((("-p", "")), None), (("-p", "   "), None), (("-p", "-"), "")):
        result = run(*args, "--base-url", sim.base_url, stdin=stdin)
        assert result.returncode == 2 and "the prompt is empty" in result.stderr, args
        assert result.stdout == ""


def test_a_reader_that_stops_reading_ends_the_reply_quietly(sim) -> None:
    command = [sys.executable, "-m", "vllm_chat", "-p", "long 3000", "--base-url", sim.base_url]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          env={**os.environ, "VLLM_CHAT_API_KEY": TEST_API_KEY}) as child:
        assert child.stdout is not None and child.stderr is not None
        child.stdout.read(20)
        child.stdout.close()  # as `| head -c 20` does
        stderr = child.stderr.read().decode()
        child.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
    assert child.returncode == 141


def test_ctrl_c_during_a_reply_stops_without_a_traceback(sim) -> None:
    command = [sys.executable, "-m", "vllm_chat", "-p", "long 3000", "--base-url", sim.base_url]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          env={**os.environ, "VLLM_CHAT_API_KEY": TEST_API_KEY}) as child:
        assert child.stdout is not None and child.stderr is not None
        child.stdout.read(1)  # the reply has started
        child.send_signal(signal.SIGINT)
        stderr = child.stderr.read().decode()
        child.wait(timeout=60)
    assert "Traceback" not in stderr and "stopped" in stderr
    assert child.returncode == 130


def test_a_reply_cut_while_thinking_says_why_nothing_was_printed() -> None:
    server = SimServer(SimConfig(reasoning=True)).start_in_thread()
    try:
        result = run("-p", "/think about it", "--max-tokens", "5", "--base-url", server.base_url)
    finally:
        server.stop()
    assert result.returncode == 0 and result.stdout.strip() == ""
    assert "no answer text, only reasoning (--show-reasoning" in result.stderr
    assert "cut off at max_tokens" in result.stderr
