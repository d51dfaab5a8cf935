"""Fixtures for the tool tests: a start folder, small tools, and a way to make calls."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from vllm_chat.core.conversation import ToolCall
from vllm_chat.core.tools import Tool, ToolError

HERE = Path(__file__).parent


def call(name: str, arguments: Any = None, *, raw: str | None = None) -> ToolCall:
    """A call as the model would send it: `arguments` JSON-encoded, or `raw` exactly as given."""
    text = raw if raw is not None else ("" if arguments is None else json.dumps(arguments))
    return ToolCall(id="chatcmpl-tool-0123456789abcdef", name=name, arguments=text)


async def wait_until(predicate, what: str, limit: float = 60.0) -> None:
    """Poll `predicate` until it holds; fail naming `what` if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)


def process_gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


class EchoTool(Tool):
    """Returns its arguments as sorted JSON; `city` is required, `unit` a choice."""

    name = "echo"
    description = "Echo the arguments."
    parameters = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "minimum": 1},
            "unit": {"type": "string", "enum": ["c", "f"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    }

    async def run(self, arguments: dict[str, Any]) -> str:
        return json.dumps(arguments, sort_keys=True)


class NoArgsTool(Tool):
    """Takes nothing and says so."""

    name = "ping"
    description = "Reply pong."
    parameters = {"type": "object", "properties": {}, "additionalProperties": False}

    async def run(self, arguments: dict[str, Any]) -> str:
        return "pong"


class RaisingTool(NoArgsTool):
    """Raises an unexpected exception."""

    name = "boom"

    async def run(self, arguments: dict[str, Any]) -> str:
        raise ValueError("the sky fell")


class ReportingTool(NoArgsTool):
    """Fails the way a tool reports a problem in words."""

    name = "refuse"

    async def run(self, arguments: dict[str, Any]) -> str:
        raise ToolError("the file is locked; try again later")


class SlowTool(NoArgsTool):
    """Sleeps far longer than any test waits, recording start and cancellation."""

    name = "slow"

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = timeout
        self.started = asyncio.Event()
        self.cancelled = False

    async def run(self, arguments: dict[str, Any]) -> str:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return "woke up"


class LoudTool(NoArgsTool):
    """Returns far more text than may be sent to a model."""

    name = "loud"

    def __init__(self, size: int) -> None:
        self.size = size

    async def run(self, arguments: dict[str, Any]) -> str:
        return "A" + "x" * (self.size - 2) + "Z"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The folder the app was "started in"; tests put files here."""
    folder = tmp_path / "start"
    folder.mkdir()
    return folder


@pytest.fixture
def sample_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the sample modules beside these tests importable by name."""
    monkeypatch.syspath_prepend(str(HERE))
    yield
    for name in ("sample_tool_functions", "sample_broken_tool_module"):
        sys.modules.pop(name, None)
