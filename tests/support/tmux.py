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
    """One app running in a detached tmux session of a fixed size, on a tmux server of
    its own (`tmux -L`): tests running in parallel, and anyone else's tmux, never share
    a server, its environment or its session names."""

    def __init__(self, args: list[str], *, env: dict[str, str], width: int = 120, height: int = 40,
                 cwd: Path | None = None) -> None:
        self.session = f"vllm-chat-test-{uuid.uuid4().hex[:8]}"
        self.socket = self.session
        command = " ".join(shlex.quote(a) for a in [installed_command(), *args])
        # Keep the pane open after the app exits, so the exit can be observed.
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        shell = f"env {exports} {command}; echo __EXITED__ $?; sleep 30"
        subprocess.run(
            [*self._tmux, "new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
             "bash", "-c", shell],
            check=True, cwd=cwd,
            env={**os.environ, "TERM": "xterm-256color"},
        )

    @property
    def _tmux(self) -> list[str]:
        # -f /dev/null: the user's ~/.tmux.conf (key tables, status line) stays out.
        return ["tmux", "-f", "/dev/null", "-L", self.socket]

    def keys(self, *keys: str, literal: bool = False) -> None:
        """Send keys (tmux names such as Enter, Escape, C-q; or literal text)."""
        cmd = [*self._tmux, "send-keys", "-t", self.session]
        if literal:
            cmd.append("-l")
        subprocess.run([*cmd, *keys], check=True)

    def type(self, text: str) -> None:
        """Type text as if on the keyboard."""
        self.keys(text, literal=True)

    def screen(self) -> str:
        """What the terminal shows now."""
        out = subprocess.run([*self._tmux, "capture-pane", "-p", "-t", self.session],
                             check=True, capture_output=True, text=True)
        return out.stdout

    def wait_for(self, *patterns: str, timeout: float = 60.0) -> str:
        """Wait until the screen matches every one of `patterns` (regexes) at once; returns
        that screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(re.search(pattern, screen) for pattern in patterns):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {patterns!r}; screen was:\n{screen}")

    def wait_gone(self, pattern: str, timeout: float = 60.0) -> str:
        """Wait until the screen no longer matches `pattern` (a dialog closed); returns the screen."""
        deadline = time.monotonic() + timeout
        screen = self.screen()
        while re.search(pattern, screen):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {pattern!r} to go; screen was:\n{screen}")
            time.sleep(0.1)
            screen = self.screen()
        return screen

    def close(self) -> None:
        """Stop this app's tmux server (and the app, if still running)."""
        subprocess.run([*self._tmux, "kill-server"], capture_output=True)
