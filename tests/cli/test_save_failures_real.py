"""A save that fails on a real disk is never silent in one-shot mode: a full file system
(a tiny tmpfs filled to the last byte) and a data folder the user can't write (run as an
ordinary user when the suite runs as root). The reply is printed all the same, stderr
says what failed and where a copy went, `--json` says it too, and the status is 1; once
the disk has room again, `--save` works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.disks import as_nobody, fill, open_folder, small_tmpfs
from tests.support.tmux import installed_command
from vllm_chat.simserver import SimConfig, SimServer


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    server = SimServer(SimConfig(reasoning=False)).start_in_thread()
    yield server
    server.stop()


def run(data: Path, *args: str, prefix: list[str] | None = None,
        extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VLLM_CHAT_DATA_DIR": str(data), **(extra or {})}
    return subprocess.run([*(prefix or []), installed_command(), *args], capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL, check=False)


def rescued_path(stderr: str) -> Path:
    return Path(stderr.split("A copy is in ")[1].split(";")[0])


def test_a_full_disk_is_said_the_exchange_rescued_and_the_status_is_1(sim: SimServer) -> None:
    with small_tmpfs() as disk:
        data = disk / "data"
        data.mkdir()
        filler = fill(disk)
        result = run(data, "--base-url", sim.base_url, "-p", "echo precious words", "--save")
        assert result.stdout == "precious words\n", "the reply is printed all the same"
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "the session was not saved" in result.stderr and "No space left on device" in result.stderr
        rescued = rescued_path(result.stderr)
        assert [m["content"] for m in json.loads(rescued.read_text())["messages"]] == \
            ["echo precious words", "precious words"], "the copy holds the whole exchange"
        rescued.unlink()
        doc = json.loads(run(data, "--base-url", sim.base_url, "-p", "echo again", "--save", "--json").stdout)
        assert doc["session_id"] is None and "No space left on device" in doc["save_error"]
        Path(doc["rescued_to"]).unlink()
        filler.unlink()  # room again
        saved = run(data, "--base-url", sim.base_url, "-p", "echo now it fits", "--save", "--json")
        doc = json.loads(saved.stdout)
        assert saved.returncode == 0 and doc["session_id"] and "save_error" not in doc
        assert list(data.rglob(f"{doc['session_id']}.json")), "the session file is on the disk"


def test_a_data_folder_the_user_cant_write_is_said_and_the_status_is_1(sim: SimServer) -> None:
    data = Path(tempfile.mkdtemp(prefix="vllm-chat-readonly-"))
    home, temp = open_folder("vllm-chat-home-"), open_folder("vllm-chat-tmp-")
    try:
        data.chmod(0o555)  # owned by whoever runs the suite: read-only for the user below
        result = run(data, "--base-url", sim.base_url, "-p", "echo kept", "--save", prefix=as_nobody(),
                     extra={"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "TMPDIR": str(temp)})
        assert result.stdout == "kept\n" and result.returncode == 1 and "Traceback" not in result.stderr
        assert "the session was not saved" in result.stderr and "Permission denied" in result.stderr
        rescued = rescued_path(result.stderr)
        assert rescued.parent == temp and json.loads(rescued.read_text())["messages"][1]["content"] == "kept"
        assert not any(data.iterdir()), "nothing half-written was left in the folder"
    finally:
        data.chmod(0o755)
        for folder in (data, home, temp):
            shutil.rmtree(folder, ignore_errors=True)
