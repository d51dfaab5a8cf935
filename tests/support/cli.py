"""`vllm-chat` for the CLI tests: run as a user runs it, with its arguments, input,
environment and folder, and read back its output and exit status.

A run is forked from a process that has already imported what `vllm-chat` imports as
it starts (`tests.support.cli_zygote`): that is three quarters of the CPU of a one-shot
run, and the CLI tests start hundreds of them. What runs after the fork is the
installed command's own code, from `main()` to the interpreter's ending.

A run whose environment changes how the interpreter itself starts (`PYTHON*`, the
locale) is started as a new process instead, as are the tests that need one (the
console script, a terminal, signals): those call `subprocess` themselves."""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.paths import REPO
from tests.support.tmux import installed_command

_STARTUP_VARIABLES = ("PYTHON", "LANG", "LC_")
"""Environment variables the interpreter reads as it starts, before any `vllm-chat` code."""


class _Zygote:
    """The process runs are forked from: one per test process, started at the first run."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="vc-cli-")
        self.path = os.path.join(self.folder, "socket")
        self.env = dict(os.environ)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.cli_zygote", self.path, installed_command()],
                                     cwd=REPO, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the CLI tests' zygote did not start")
        atexit.register(self.stop)

    def starts_the_same(self, env: Mapping[str, str]) -> bool:
        """Whether a run with `env` starts its interpreter as this process's did."""
        def startup(values: Mapping[str, str]) -> dict[str, str]:
            return {k: v for k, v in values.items() if k.startswith(_STARTUP_VARIABLES)}
        return startup(env) == startup(self.env)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()
        for name in os.listdir(self.folder):
            os.unlink(os.path.join(self.folder, name))
        os.rmdir(self.folder)


_zygote: _Zygote | None = None
_lock = threading.Lock()


def run_vllm_chat(*args: str | bytes, input: str | bytes | None = None, env: Mapping[str, str] | None = None,
                  cwd: str | Path | None = None, timeout: float = 120,
                  text: bool = True) -> subprocess.CompletedProcess[Any]:
    """`vllm-chat ARGS` as `subprocess.run(..., capture_output=True)` would run it (stdin
    empty unless `input` is given), with its output as text (universal newlines) unless
    `text` is false. Raises `subprocess.TimeoutExpired` after `timeout` seconds, the run
    killed."""
    global _zygote
    env = dict(os.environ if env is None else env)
    cwd = str(cwd or os.getcwd())
    command = [installed_command(), *[os.fsdecode(a) for a in args]]
    with _lock:
        if _zygote is None:
            _zygote = _Zygote()
    if _zygote.starts_the_same(env):
        stdout, stderr, code = _forked(_zygote.path, command, _bytes(input), env, cwd, timeout)
    else:
        started = subprocess.run(command, input=_bytes(input), capture_output=True, timeout=timeout, env=env, cwd=cwd,
                                 stdin=None if input is not None else subprocess.DEVNULL)
        stdout, stderr, code = started.stdout, started.stderr, started.returncode
    if text:
        return subprocess.CompletedProcess(command, code, _text(stdout), _text(stderr))
    return subprocess.CompletedProcess(command, code, stdout, stderr)


def _forked(path: str, command: Sequence[str], input: bytes | None, env: dict[str, str], cwd: str,
            timeout: float) -> tuple[bytes, bytes, int]:
    deadline = time.monotonic() + timeout
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(path)
        header = json.dumps({"args": list(command[1:]), "env": env, "cwd": cwd}).encode()
        socket.send_fds(connection, [header], [stdin_r, out_w, err_w])
        for fd in (stdin_r, out_w, err_w):
            os.close(fd)
        outputs = {out_r: bytearray(), err_r: bytearray()}
        workers = [threading.Thread(target=_drain, args=(fd, buffer), daemon=True) for fd, buffer in outputs.items()]
        workers.append(threading.Thread(target=_feed, args=(stdin_w, input or b""), daemon=True))
        for worker in workers:
            worker.start()
        lines = connection.makefile("rb")
        pid = int(lines.readline())
        connection.settimeout(max(0.0, deadline - time.monotonic()))
        try:
            status = lines.readline()
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(list(command), timeout) from None
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        if any(worker.is_alive() for worker in workers):  # a child of the run holds its output open
            raise subprocess.TimeoutExpired(list(command), timeout)
    return bytes(outputs[out_r]), bytes(outputs[err_r]), int(status)


def _drain(fd: int, into: bytearray) -> None:
    with open(fd, "rb", buffering=0) as stream:
        while chunk := stream.read(65536):
            into += chunk


def _feed(fd: int, data: bytes) -> None:
    with open(fd, "wb", buffering=0) as stream:
        try:
            stream.write(data)
        except BrokenPipeError:
            pass


def _bytes(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _text(data: bytes) -> str:
    """As `subprocess` decodes text: UTF-8 here, newlines of every kind as `\\n`."""
    return data.decode().replace("\r\n", "\n").replace("\r", "\n")
