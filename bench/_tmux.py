"""Run a process in a real terminal: a 120x40 pane of a private tmux server.

`TmuxProbe(args, env=...)` starts `python bench/_startup_probe.py TRACE ... -- ARGS`
(the real `vllm-chat` with timing hooks) and reads its trace. `TmuxCommand`
runs any command the same way (for a launch floor). Each uses its own tmux
server socket (`tmux -L vllm-chat-bench-<random>`), killed on exit, so no
session is left behind and the user's tmux is never touched.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

PROBE = Path(__file__).resolve().parent / "_startup_probe.py"
"""The wrapper that runs vllm-chat with timing hooks."""


def tmux_available() -> bool:
    """Whether tmux is installed."""
    return shutil.which("tmux") is not None


class TmuxCommand:
    """One command in a detached 120x40 pane of a private tmux server."""

    def __init__(self, argv: list[str], *, env: dict[str, str], width: int = 120, height: int = 40) -> None:
        self.socket = f"vllm-chat-bench-{uuid.uuid4().hex[:10]}"
        keep = {k: v for k, v in env.items()
                if k.startswith(("VLLM_CHAT_", "XDG_", "PYTHON")) or k in ("HOME", "PATH", "LANG", "LC_ALL")}
        # A modern terminal: 256 colours and truecolor (tmux passes both through).
        keep.update(TERM="tmux-256color", COLORTERM="truecolor")
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in keep.items())
        shell = f"exec env {exports} {' '.join(shlex.quote(a) for a in argv)}"
        self.launched = time.time()
        """`time.time()` just before tmux was asked to start the command."""
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", "bench",
             "-x", str(width), "-y", str(height), "bash", "-c", shell],
            check=True, env={**os.environ, "TERM": "xterm-256color"}, timeout=30,
        )

    def screen(self) -> str:
        """What the pane shows now."""
        out = subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", "-t", "bench"],
                             capture_output=True, text=True, timeout=30)
        return out.stdout

    def close(self) -> None:
        """Kill the private tmux server (and the command, if still running); remove its socket."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
        folder = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (folder / self.socket).unlink(missing_ok=True)

    def __enter__(self) -> TmuxCommand:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TmuxProbe:
    """`vllm-chat ARGS` through the timing probe, in tmux; `wait_for(event)` reads the trace.

    The trace's times are `time.time()` (comparable with `launched`) and
    `perf_counter()` of the app process (`pc`).
    """

    def __init__(self, args: list[str], *, env: dict[str, str], submit: str | None = None,
                 expect_tokens: int | None = None, marker: str | None = None,
                 width: int = 120, height: int = 40) -> None:
        fd, trace = tempfile.mkstemp(prefix="vllm-chat-trace-", suffix=".jsonl")
        os.close(fd)
        self.trace = Path(trace)
        own: list[str] = []
        if submit is not None:
            own += ["--submit", submit, "--expect-tokens", str(expect_tokens or 0)]
        if marker is not None:
            own += ["--marker", marker]
        argv = [sys.executable, str(PROBE), trace, *own, "--", *args]
        self.cmd: TmuxCommand | None = None
        try:
            self.cmd = TmuxCommand(argv, env=env, width=width, height=height)
        except BaseException:
            self.trace.unlink(missing_ok=True)
            raise
        self.launched = self.cmd.launched
        """`time.time()` just before tmux was asked to start the app."""

    def events(self) -> dict[str, dict[str, Any]]:
        """The trace so far, by event name (first occurrence)."""
        out: dict[str, dict[str, Any]] = {}
        try:
            lines = self.trace.read_text().splitlines()
        except OSError:
            return out
        for line in lines:
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a line still being written
            out.setdefault(item["event"], item)
        return out

    @property
    def pid(self) -> int | None:
        """The app's process id, once it started."""
        start = self.events().get("start")
        return int(start["pid"]) if start else None

    def wait_for(self, event: str, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the trace has `event`; returns that event's fields (TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.events().get(event)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                screen = self.cmd.screen() if self.cmd else ""
                raise TimeoutError(f"no {event!r} from the app within {timeout:.0f} s; "
                                   f"trace: {sorted(self.events())}; screen:\n{screen}")
            time.sleep(0.005)

    def close(self) -> None:
        """Kill the app's tmux server; remove the trace."""
        if self.cmd is not None:
            self.cmd.close()
        self.trace.unlink(missing_ok=True)

    def __enter__(self) -> TmuxProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB, from /proc/PID/status."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]
