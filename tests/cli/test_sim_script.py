"""The installed `vllm-chat-sim` console script (not `python -m`) starts the simulated
server, prints the URL to use, serves what its flags say and stops on Ctrl+C."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.tmux import installed_command


@contextmanager
def sim_script(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run the installed script on a free port; yields the base URL from its first line."""
    script = installed_command("vllm-chat-sim")
    assert Path(script).name == "vllm-chat-sim"
    process = subprocess.Popen([script, "--port", "0", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.fullmatch(r"vllm-chat-sim: serving (.+) at (http://127\.0\.0\.1:\d+/v1) \(Ctrl\+C to stop\)\n",
                             line)
        assert match, f"first line: {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        yield match.group(2), process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_the_installed_script_prints_its_url_serves_and_stops_on_ctrl_c() -> None:
    with sim_script() as (base_url, process):
        models = get_json(base_url + "/models")
        assert [m["id"] for m in models["data"]] == ["sim-chat", "sim-vision"]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert out == "vllm-chat-sim: stopped\n"


def test_the_installed_script_takes_a_pace_and_several_models() -> None:
    with sim_script("--tps", "400.5", "--model", "alpha", "beta", "--model", "gamma") as (base_url, _):
        models = get_json(base_url + "/models")
        assert [m["id"] for m in models["data"]] == ["alpha", "beta", "gamma"]
        reply = post_json(base_url + "/chat/completions",
                          {"model": "gamma", "messages": [{"role": "user", "content": "echo paced"}]})
        assert reply["model"] == "gamma" and reply["choices"][0]["message"]["content"] == "paced"
