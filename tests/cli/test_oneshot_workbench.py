"""One-shot mode as a workbench: `-p "review @src/app.py"` sends the file with the prompt,
bad mentions stop before anything is sent, and `--prompt NAME --var key=value` fills in a
saved prompt. Runs the real command against a simulated vLLM."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_vllm_chat
from vllm_chat.simserver import SimConfig, SimServer


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    server = SimServer(SimConfig(reasoning=False)).start_in_thread()
    yield server
    server.stop()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return 42\n")
    (root / ".env").write_text("TOKEN=abc\n")
    return root


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_vllm_chat("--no-tools", *args, input=stdin, cwd=cwd, timeout=60)


def test_a_mentioned_file_is_sent_with_the_prompt(sim: SimServer, project: Path) -> None:
    result = run("--base-url", sim.base_url, "-p", "review @src/app.py", cwd=project)
    assert result.returncode == 0, result.stderr
    sent = sim.stats.last_request_body["messages"][-1]["content"]
    assert sent.startswith("review @src/app.py\n\nsrc/app.py:\n```\ndef main():\n    return 42\n```")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("look at @nope.py", "no such file"),
        ("look at @../../etc/passwd", "outside the folder"),
    ],
)
def test_a_bad_mention_stops_before_sending_with_exit_2(sim: SimServer, project: Path, prompt: str,
                                                        expected: str) -> None:
    before = sim.stats.requests
    result = run("--base-url", sim.base_url, "-p", prompt, cwd=project)
    assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr
    assert sim.stats.requests == before, "nothing was sent"


def test_a_secret_looking_file_needs_yes(sim: SimServer, project: Path) -> None:
    refused = run("--base-url", sim.base_url, "-p", "use @.env", cwd=project)
    assert refused.returncode == 2 and "look like secrets" in refused.stderr and "--yes" in refused.stderr
    allowed = run("--base-url", sim.base_url, "-p", "use @.env", "--yes", cwd=project)
    assert allowed.returncode == 0
    assert "TOKEN=abc" in sim.stats.last_request_body["messages"][-1]["content"]


def test_a_saved_prompt_is_filled_in_and_its_system_prompt_applies(sim: SimServer, project: Path) -> None:
    result = run("--base-url", sim.base_url, "--prompt", "translate", "--var", "text=hola", cwd=project)
    assert result.returncode == 0, result.stderr
    body = sim.stats.last_request_body
    assert body["messages"][0]["role"] == "system" and "translate faithfully" in body["messages"][0]["content"]
    assert body["messages"][-1]["content"] == "Translate into English:\n\nhola", "the default fills {{language}}"


def test_a_variable_can_come_from_stdin_or_a_file(sim: SimServer, project: Path) -> None:
    piped = run("--base-url", sim.base_url, "--prompt", "commit-message", "--var", "diff=@-", cwd=project,
                stdin="+ new line\n")
    assert piped.returncode == 0, piped.stderr
    assert sim.stats.last_request_body["messages"][-1]["content"].endswith("this change:\n\n+ new line")
    from_file = run("--base-url", sim.base_url, "--prompt", "review", "--var", "code=@src/app.py", cwd=project)
    assert from_file.returncode == 0
    assert "return 42" in sim.stats.last_request_body["messages"][-1]["content"]


def test_a_missing_variable_or_unknown_prompt_is_named_and_nothing_is_sent(sim: SimServer, project: Path) -> None:
    before = sim.stats.requests
    missing = run("--base-url", sim.base_url, "--prompt", "translate", cwd=project)
    assert missing.returncode == 2 and "needs a value for: text" in missing.stderr and "--var text=" in missing.stderr
    unknown = run("--base-url", sim.base_url, "--prompt", "nope", "--json", cwd=project)
    assert unknown.returncode == 2
    assert "no saved prompt named 'nope'" in json.loads(unknown.stdout)["error"]["message"]
    bad = run("--base-url", sim.base_url, "--prompt", "translate", "--var", "oops", cwd=project)
    assert bad.returncode == 2 and "NAME=VALUE" in bad.stderr
    assert sim.stats.requests == before
