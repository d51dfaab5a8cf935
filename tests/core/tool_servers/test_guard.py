"""The guard a stdio MCP server runs under ends it, and itself, however the stop signals
come: here in bursts, as when vllm-chat quits (the SDK signals the group, the terminal
hangs up, the parent dies) — a second signal arriving while the first is handled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.core.tool_servers.conftest import wait_gone
from vllm_chat.core.mcp import guard

GUARD = Path(guard.__file__)
SERVER = [sys.executable, "-c", "import time; time.sleep(600)"]  # a server that never ends by itself


def server_of(process: subprocess.Popen[bytes]) -> int:
    """The pid of the server the guard started, once the guard is up and waiting for it
    (its main thread blocked in wait4, as it stays for as long as the server runs)."""
    main = Path(f"/proc/{process.pid}/task/{process.pid}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pids = (main / "children").read_text().split()
            waiting = (main / "wchan").read_text() == "do_wait"
        except FileNotFoundError:
            pids, waiting = [], False
        if pids and waiting and len(os.listdir(main.parent)) >= 2:
            return int(pids[0])
        time.sleep(0.02)
    raise AssertionError("the guard never started its server")


def stopped_by_a_burst(_: int) -> str:
    """Start a guarded server, send the guard SIGHUP and SIGTERM in a burst, and say what,
    if anything, is still running after the guard's grace period ("" when nothing is)."""
    process = subprocess.Popen([sys.executable, "-I", "-S", str(GUARD), *SERVER],
                               start_new_session=True, stderr=subprocess.DEVNULL)
    server = server_of(process)
    try:
        for i in range(200):
            try:
                os.kill(process.pid, signal.SIGTERM if i % 2 else signal.SIGHUP)
            except ProcessLookupError:
                break  # the guard is gone already
        try:
            process.wait(timeout=guard.GRACE + 20)
        except subprocess.TimeoutExpired:
            return "the guard"
        return "" if wait_gone(server, timeout=guard.GRACE + 20) else "the server"
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def test_a_burst_of_stop_signals_ends_the_server_and_the_guard() -> None:
    # A signal landing while the guard handled the one before, or taken by its other thread,
    # used to leave it waiting forever (most guards of a burst, some of the time: several).
    with ThreadPoolExecutor(max_workers=6) as pool:
        left = [what for what in pool.map(stopped_by_a_burst, range(24)) if what]
    assert not left, f"outlived the stop: {left}"


def test_only_the_main_thread_takes_the_stop_signals() -> None:
    # Delivered to the thread that watches the parent, a stop signal would wait for the main
    # thread to come back from waiting on the server, which may be never.
    process = subprocess.Popen([sys.executable, "-I", "-S", str(GUARD), *SERVER],
                               start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        server_of(process)
        for task in os.listdir(f"/proc/{process.pid}/task"):
            status = Path(f"/proc/{process.pid}/task/{task}/status").read_text()
            blocked = int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)
            stops = {signal.SIGTERM, signal.SIGHUP}
            if int(task) == process.pid:
                assert not any(blocked & (1 << (sig - 1)) for sig in stops), "the main thread takes them"
            else:
                assert all(blocked & (1 << (sig - 1)) for sig in stops), "the watching thread leaves them"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
