"""Drive the installed `vllm-chat` in a real terminal (tmux) and read the screen."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path


def installed_command(name: str = "vllm-chat") -> str:
    """The console script installed next to the running interpreter."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed (pip install -e .)")
    return found


class TmuxApp:
    """One app running in a detached tmux session of a fixed size."""

    def __init__(self, args: list[str], *, env: dict[str, str], width: int = 120, height: int = 40,
                 cwd: Path | None = None) -> None:
        self.session = f"vllm-chat-test-{uuid.uuid4().hex[:8]}"
        command = " ".join(shlex.quote(a) for a in [installed_command(), *args])
        # Keep the pane open after the app exits, so the exit can be observed.
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        shell = f"env {exports} {command}; echo __EXITED__ $?; sleep 30"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
             "bash", "-c", shell],
            check=True, cwd=cwd,
            env={**os.environ, "TERM": "xterm-256color"},
        )

    def keys(self, *keys: str, literal: bool = False) -> None:
        """Send keys (tmux names such as Enter, Escape, C-q; or literal text)."""
        cmd = ["tmux", "send-keys", "-t", self.session]
        if literal:
            cmd.append("-l")
        subprocess.run([*cmd, *keys], check=True)

    def type(self, text: str) -> None:
        """Type text as if on the keyboard."""
        self.keys(text, literal=True)

    def screen(self) -> str:
        """What the terminal shows now."""
        out = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.session],
                             check=True, capture_output=True, text=True)
        return out.stdout

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        """Wait until the screen matches `pattern` (a regex); returns the screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {pattern!r}; screen was:\n{screen}")

    def close(self) -> None:
        """Kill the tmux session (and the app, if still running)."""
        subprocess.run(["tmux", "kill-session", "-t", self.session], capture_output=True)
