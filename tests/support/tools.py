"""The project's own checkers (import-linter, ruff, mypy), run as the command line runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO


def tool_path(name: str) -> str:
    """The console script `name` installed beside this Python (the test extra brings it),
    else the one on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


def run_tool(name: str, *args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the tool `name` with `args` in `cwd` and return what it printed."""
    return subprocess.run([tool_path(name), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    """Everything a tool printed, for an assertion message."""
    return f"{result.stdout}\n{result.stderr}".strip()
