"""The tools of a run, and the one place a call is checked and executed.

`ToolRegistry.from_settings` builds the built-ins and the user's tools from
`[tools]`; anything wrong with the config becomes a message naming the key,
and the broken tool is left out. `execute` turns a `ToolCall` into a
`ToolOutcome` whatever happens (bad JSON, unknown tool, schema mismatch, a tool
that raises or hangs), except for cancellation, which propagates so the user
can stop a running tool.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vllm_chat.core.config import ToolsSettings
from vllm_chat.core.conversation import ToolCall
from vllm_chat.core.tools.arguments import BadArguments, parse_arguments
from vllm_chat.core.tools.base import (
    InvalidArguments,
    Tool,
    ToolConfigError,
    ToolError,
    ToolOutcome,
    ToolReply,
)
from vllm_chat.core.tools.builtins import builtin_tool
from vllm_chat.core.tools.files import RootedTool
from vllm_chat.core.tools.python_tools import load_python_tool
from vllm_chat.core.tools.shell_tools import load_shell_tool

MAX_OUTPUT_CHARS = 100_000
"""Longest tool output sent to the model; longer output keeps its start and end around a note."""

DEFAULT_TIMEOUT = 30.0
"""Seconds a tool may run when neither the call, the tool nor the registry says otherwise."""

_VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def cap_output(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """`text`, or its first four fifths and last fifth around a note when it is longer than `limit`."""
    if len(text) <= limit:
        return text
    head = limit * 4 // 5
    tail = limit - head
    cut = len(text) - head - tail
    note = (
        f"\n\n[... {cut} characters cut here: the output had {len(text)} characters, "
        f"and only the first {head} and the last {tail} are shown ...]\n\n"
    )
    return text[:head] + note + text[-tail:]


class ToolRegistry:
    """The tools offered to the model, by name."""

    def __init__(
        self,
        tools: Iterable[Tool] = (),
        *,
        confirm: Iterable[str] = (),
        default_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self.changes = 0
        """How many times a tool was added or removed (the tool schemas a request carries changed)."""
        self._confirm = set(confirm)
        self.default_timeout = default_timeout
        """Seconds a call may run when neither `execute` nor the tool sets a limit."""
        for tool in tools:
            self.add(tool)

    @classmethod
    def from_settings(cls, tools: ToolsSettings, *, root: Path) -> tuple[ToolRegistry, list[str]]:
        """The registry for `[tools]`, and the problems found (each naming its config key).

        `root` is the folder the app was started in: file tools stay inside it
        and shell tools run in it. Problems are never raised; the tool they
        concern is left out. `tools.enabled` and `tools.choice` are the
        engine's business and are not looked at here.
        """
        registry = cls(confirm=tools.confirm, default_timeout=tools.timeout)
        problems: list[str] = []
        origin: dict[str, str] = {}

        def admit(tool: Tool, key: str) -> None:
            if not _VALID_NAME.fullmatch(tool.name):
                problems.append(
                    f"{key}: {tool.name!r} is not a valid tool name (use letters, digits, '_' and '-', "
                    "at most 64 characters); the tool is skipped"
                )
            elif tool.name in origin:
                problems.append(
                    f"{key}: a tool named {tool.name!r} already exists ({origin[tool.name]}); "
                    "this one is skipped"
                )
            else:
                origin[tool.name] = key
                registry.add(tool)

        for i, builtin in enumerate(tools.builtins):
            admit(builtin_tool(builtin, root=root, secret_files=tuple(tools.secret_files)), f"tools.builtins[{i}]")
        for i, entry in enumerate(tools.python):
            try:
                admit(load_python_tool(entry), f"tools.python[{i}]")
            except ToolConfigError as exc:
                problems.append(f"tools.python[{i}].{exc.field}: {exc}; the tool is skipped")
            except Exception as exc:  # whatever a user's function object may throw at inspection
                problems.append(
                    f"tools.python[{i}].function: cannot load it ({type(exc).__name__}: {exc}); "
                    "the tool is skipped"
                )
        for i, shell_entry in enumerate(tools.shell):
            try:
                admit(load_shell_tool(shell_entry, root=root), f"tools.shell[{i}]")
            except ToolConfigError as exc:
                problems.append(f"tools.shell[{i}].{exc.field}: {exc}; the tool is skipped")
        for name in tools.confirm:
            if name not in registry._tools:
                known = ", ".join(registry.names()) or "none"
                problems.append(f"tools.confirm: no tool is named {name!r} (tools: {known})")
        return registry, problems

    def add(self, tool: Tool) -> None:
        """Offer one more tool; a second tool with the same name is a `ValueError`."""
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        self.changes += 1

    def remove(self, name: str) -> None:
        """Stop offering the tool called `name` (an MCP server's tool, when its server goes)."""
        if self._tools.pop(name, None) is not None:
            self.changes += 1

    def names(self) -> list[str]:
        """Tool names, in the order they were added."""
        return list(self._tools)

    def get(self, name: str) -> Tool | None:
        """The tool called `name`, if there is one."""
        return self._tools.get(name)

    def file_tools_note(self) -> str | None:
        """Where the file tools reach, in one sentence for the welcome text (None without them)."""
        tool = next((t for t in self._tools.values() if isinstance(t, RootedTool)), None)
        if tool is None:
            return None
        note = f"File tools read only inside {tool.root}"
        if tool.ask_every_read:
            return note + ", and every read asks you first."
        return note + "; secret-looking files ask first."

    def specs(self) -> list[dict[str, Any]]:
        """The request's `tools` list."""
        return [tool.spec() for tool in self._tools.values()]

    def needs_approval(self, name: str) -> bool:
        """Whether a call to `name` must be approved: shell tools, `tools.confirm`, `confirm = true`.

        An unknown name needs no approval: nothing will run, the call just fails.
        """
        tool = self._tools.get(name)
        return tool is not None and (tool.confirm or name in self._confirm)

    def check(self, call: ToolCall) -> ToolOutcome | None:
        """The error outcome for a call that can't run (unknown tool, bad arguments), else None.

        Lets the engine skip asking for approval of a call that would fail anyway.
        """
        prepared = self._prepare(call)
        return prepared if isinstance(prepared, ToolOutcome) else None

    def preview(self, call: ToolCall) -> str | None:
        """One line saying what the call will do (e.g. the exact argv of a shell tool), or why
        it needs approval (a file that looks like a secret), if known."""
        prepared = self._prepare(call)
        if isinstance(prepared, ToolOutcome):
            return None
        tool, arguments = prepared
        return tool.preview(arguments) or tool.sensitivity(arguments)

    def sensitivity(self, call: ToolCall) -> str | None:
        """Why this call needs approval although its tool doesn't (see `Tool.sensitivity`);
        None for a call that can't run anyway. May read a few KB of a file."""
        prepared = self._prepare(call)
        if isinstance(prepared, ToolOutcome):
            return None
        tool, arguments = prepared
        return tool.sensitivity(arguments)

    async def execute(self, call: ToolCall, *, timeout: float | None = None) -> ToolOutcome:
        """Run a call and say how it went. Never raises, except `asyncio.CancelledError`.

        The time limit is `timeout` if given, else the tool's own, else
        `default_timeout`. On cancellation the tool is stopped (a shell
        command's whole process group is killed) before the error propagates.
        """
        prepared = self._prepare(call)
        if isinstance(prepared, ToolOutcome):
            return prepared
        tool, arguments = prepared
        limit = timeout if timeout is not None else (tool.timeout or self.default_timeout)
        try:
            task = asyncio.ensure_future(tool.run(arguments))
        except Exception as exc:  # a `run` that is not a coroutine function, and raised or returned junk
            return _failure(tool, exc)
        try:
            done, _ = await asyncio.wait({task}, timeout=limit)
        except asyncio.CancelledError:
            await _stop(task)
            raise
        if not done:
            await _stop(task)
            return ToolOutcome.error(f"{tool.name} timed out after {limit:g} s and was stopped")
        return _outcome(tool, task)

    def _prepare(self, call: ToolCall) -> tuple[Tool, dict[str, Any]] | ToolOutcome:
        tool = self._tools.get(call.name)
        if tool is None:
            available = ", ".join(self.names())
            listing = f"Available tools: {available}." if available else "No tools are available."
            return ToolOutcome.error(f"there is no tool named {call.name!r}. {listing}")
        hint = "Send a JSON object matching the schema: " + json.dumps(
            tool.parameters, ensure_ascii=False, separators=(",", ":")
        )
        try:
            raw = parse_arguments(call.arguments, tool.parameters)
        except BadArguments as exc:
            return ToolOutcome.error(f"{exc}. {hint}")
        try:
            arguments = tool.validate(raw)
        except InvalidArguments as exc:
            return ToolOutcome.error(f"invalid arguments for {tool.name}: {'; '.join(exc.problems)}. {hint}")
        except Exception as exc:
            return _failure(tool, exc)
        return tool, arguments


async def _stop(task: asyncio.Future[Any]) -> None:
    """Cancel a running tool and wait until it has cleaned up."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as unhandled


def _outcome(tool: Tool, task: asyncio.Future[Any]) -> ToolOutcome:
    """The outcome of a finished run task."""
    if task.cancelled():
        return ToolOutcome.error(f"{tool.name} was cancelled from inside and did not finish")
    exc = task.exception()
    if exc is None:
        result = task.result()
        if isinstance(result, ToolReply):
            return ToolOutcome("ok", cap_output(result.text), result.attachments)
        return ToolOutcome.ok(cap_output(result if isinstance(result, str) else str(result)))
    if isinstance(exc, Exception):
        return _failure(tool, exc)
    raise exc  # KeyboardInterrupt and the like are not the tool's to swallow


def _failure(tool: Tool, exc: Exception) -> ToolOutcome:
    """A tool's exception as an error outcome: its own words for `ToolError`, else type and message."""
    if isinstance(exc, ToolError):
        return ToolOutcome.error(cap_output(str(exc)))
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return ToolOutcome.error(cap_output(f"{tool.name} failed: {detail}"))
