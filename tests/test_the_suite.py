"""The suite's own promises, which running in parallel (pytest-xdist) must keep: every
worker scans what its tests wrote for the API key, only the tests in tests/e2e count
as e2e, the real-vLLM tests share one worker per server, and a CLI test's forked
`vllm-chat` is the installed command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

LEAKING_TESTS = '''
import os
from pathlib import Path

import pytest

from tests.conftest import TEST_API_KEY


@pytest.mark.parametrize("n", range(12))
def test_some_work(n):
    data = Path(os.environ["VLLM_CHAT_DATA_DIR"])
    if os.environ.get("PYTEST_XDIST_WORKER") == "gw1" and not (data.parent / "leaked").exists():
        (data.parent / "leaked").touch()  # one leak, by the second worker's first test
        (data / "notes.txt").write_text("key: " + TEST_API_KEY)
'''


def test_a_key_written_by_a_test_on_any_worker_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_leaks.py").write_text(LEAKING_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path),
         "-p", "tests.conftest", "-p", "no:cacheprovider", "-n", "2", "--basetemp", str(tmp_path / "runs"),
         str(tmp_path / "test_leaks.py")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "12 passed, 1 error" in out, out
    assert "the secret was written to:" in out and "popen-gw1" in out and "notes.txt" in out, out


def test_only_the_tests_in_tests_e2e_are_marked_e2e(request: pytest.FixtureRequest) -> None:
    marked = [item.nodeid for item in request.session.items if item.get_closest_marker("e2e")]
    assert all(nodeid.startswith("tests/e2e/") for nodeid in marked), marked


GROUP_REPORT = '''
import json
import os


def pytest_collection_finish(session):
    groups = {item.nodeid: sorted({mark.args[0] if mark.args else mark.kwargs["name"]
                                   for mark in item.iter_markers("xdist_group")})
              for item in session.items}
    marked = {item.nodeid: item.get_closest_marker("integration") is not None for item in session.items}
    with open(os.environ["GROUP_REPORT"], "w") as out:
        json.dump({"groups": groups, "marked": marked}, out)
'''


def test_each_real_vllm_test_runs_on_the_worker_of_its_server(tmp_path: Path) -> None:
    from tests.integration.conftest import GROUPS

    # Collected on its own (this test may run alone, or on a worker that has other items).
    (tmp_path / "group_report.py").write_text(GROUP_REPORT)
    report = tmp_path / "groups.json"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}", "GROUP_REPORT": str(report)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "group_report",
         "-p", "no:cacheprovider", "tests/integration"],
        capture_output=True, text=True, timeout=300, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(report.read_text())
    assert len(found["groups"]) > 50, "the real-vLLM tests are collected (they skip without a server)"
    # xdist joins the names of several groups into a new one: a test marked with two groups
    # would share a worker with neither and meet the other tests' requests on its server.
    wrong = {nodeid: names for nodeid, names in found["groups"].items()
             if len(names) != 1 or not set(names) <= set(GROUPS)}
    assert not wrong, f"not in exactly one real-vLLM group: {wrong}"
    unmarked = [nodeid for nodeid, marked in found["marked"].items() if not marked]
    assert not unmarked, f"not marked integration: {unmarked}"


@pytest.mark.parametrize("args, stdin, status", [
    (["--version"], None, 0),
    (["--no-such-flag"], None, 2),
    (["sessions", "list"], None, 0),
    (["--base-url", "http://127.0.0.1:9/v1", "--api-key", "k", "-p", "-"], "a prompt on stdin", 1),
    (["--base-url", "http://127.0.0.1:9/v1", "-p", "hi", "--json-schema", "missing.json"], None, 2),
], ids=["version", "bad-flag", "sessions", "stdin-no-server", "missing-file"])
def test_a_forked_cli_run_answers_as_the_installed_command_does(args: list[str], stdin: str | None, status: int,
                                                                  tmp_path: Path) -> None:
    """The CLI tests run `vllm-chat` forked from a process that has imported it
    (tests/support/cli.py): its output, exit status, folder and environment are those
    of the installed command started anew."""
    from tests.support.cli import run_vllm_chat
    from tests.support.tmux import installed_command

    env = {**os.environ, "VLLM_CHAT_DATA_DIR": str(tmp_path / "data")}
    forked = run_vllm_chat(*args, input=stdin, env=env, cwd=tmp_path, timeout=60)
    started = subprocess.run([installed_command(), *args], input=stdin, capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=60, stdin=None if stdin else subprocess.DEVNULL)
    assert (forked.returncode, forked.stdout, forked.stderr) == (started.returncode, started.stdout, started.stderr)
    assert forked.returncode == status


def test_a_cli_run_whose_environment_changes_how_python_starts_is_started_anew(tmp_path: Path) -> None:
    """`PYTHON*` and locale variables act before any of the command's code: such a run is
    not forked but started as a new process, so they act."""
    from tests.support.cli import run_vllm_chat
    from vllm_chat import __version__

    (tmp_path / "sitecustomize.py").write_text("import sys; print('a new interpreter', file=sys.stderr)\n")
    result = run_vllm_chat("--version", env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert (result.returncode, result.stdout, result.stderr) == (0, f"vllm-chat {__version__}\n", "a new interpreter\n")
