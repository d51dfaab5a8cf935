"""User tools that run a command (`[[tools.shell]]`), never through a shell.

The command is an argv template. Each `{name}` inside an argv item is replaced
by the text of that argument (an item may hold other text too, as in
`--max-count={n}`); an optional parameter left out drops every item that
mentions it. The values are checked against the declared type and choices
first, and the finished argv goes straight to `exec`, so `; rm -rf /` or
`$(touch x)` arrive as plain text. The command runs in the start folder, in a
process group of its own, so a timeout or the user's Esc kills it and every
process it started. Every call needs approval.

Arguments are data, never options: a value that starts with `-` is refused
where the program would read it as one (an argv item that starts with the
placeholder, before any literal `--` item), unless the parameter says
`allow_dash = true`. Templates should put `--` before the data items, as the
documented ones do.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
from pathlib import Path
from typing import Any

from vllm_chat.core.config import ShellParam, ShellTool
from vllm_chat.core.tools.base import InvalidArguments, Tool, ToolConfigError, ToolError

MAX_CAPTURE_BYTES = 1024 * 1024
"""Bytes kept of each of stdout and stderr; the rest is read and counted, not kept."""

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A `{name}` placeholder inside an argv item."""


class ShellCommandTool(Tool):
    """Runs one argv template with typed arguments."""

    confirm = True

    def __init__(
        self,
        *,
        name: str,
        description: str,
        command: list[str],
        params: dict[str, ShellParam],
        root: Path,
        timeout: float | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.command = list(command)
        """The argv template."""
        self.params = dict(params)
        """The declared parameters, by name."""
        self.root = Path(root)
        """The folder the command runs in."""
        self.timeout = timeout
        self.parameters = {
            "type": "object",
            "properties": {n: _param_schema(n, p) for n, p in self.params.items()},
            "required": [n for n, p in self.params.items() if p.required],
            "additionalProperties": False,
        }

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The schema check, then no value that would become an option (see the module doc)."""
        arguments = super().validate(arguments)
        problems = []
        for name in self._option_positions():
            if name in arguments and _as_text(arguments[name]).startswith("-") and not self.params[name].allow_dash:
                problems.append(
                    f"{name}: {_as_text(arguments[name])!r} starts with '-', so {self.command[0]} would take it "
                    "for an option; values can't start with '-' here (rephrase it, e.g. without the dash)")
        if problems:
            raise InvalidArguments(problems)
        return arguments

    def _option_positions(self) -> list[str]:
        """Parameters whose value starts an argv item before the first `--` item."""
        names = []
        for item in self.command[1:]:
            if item == "--":
                break
            found = PLACEHOLDER.match(item)
            if found:
                names.append(found.group(1))
        return names

    def argv(self, arguments: dict[str, Any]) -> list[str]:
        """The command to run for validated `arguments`."""
        out: list[str] = []
        for item in self.command:
            names = PLACEHOLDER.findall(item)
            if any(n not in arguments for n in names):
                continue
            # A function as replacement: the value is never read as a regex template.
            out.append(PLACEHOLDER.sub(lambda m: _as_text(arguments[m.group(1)]), item))
        return out

    def preview(self, arguments: dict[str, Any]) -> str | None:
        """The exact command line after a `$ `, quoted as a shell would need it (it is not run by one)."""
        return "$ " + shlex.join(self.argv(arguments))

    async def run(self, arguments: dict[str, Any]) -> str:
        """Run the command; output is stdout, labelled stderr and a non-zero exit status."""
        argv = self.argv(arguments)
        starting = asyncio.ensure_future(asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.root,
            start_new_session=True,
        ))
        try:
            proc = await asyncio.shield(starting)
        except asyncio.CancelledError:
            # Esc or a timeout while the process starts: it may already run and start others.
            # Cancelled, asyncio would kill the command alone, then wait for the pipes its
            # children hold open (as long as they live): the group goes, once it has started.
            await _stop_when_started(starting)
            raise
        except FileNotFoundError:
            raise ToolError(f"cannot run {argv[0]!r}: command not found") from None
        except PermissionError:
            raise ToolError(f"cannot run {argv[0]!r}: permission denied") from None
        except OSError as exc:
            raise ToolError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None
        try:
            (out, out_total), (err, err_total), returncode = await asyncio.gather(
                _drain(proc.stdout), _drain(proc.stderr), proc.wait()
            )
        except BaseException:
            # Timeout or Esc: the command and everything it started must go.
            await _stop_group(proc)
            raise
        return format_output(out, out_total, err, err_total, returncode)


async def _stop_when_started(starting: asyncio.Future[asyncio.subprocess.Process]) -> None:
    """Stop the process group `starting` starts, once it has."""
    try:
        proc = await asyncio.shield(starting)
    except Exception:
        return  # it never started
    await _stop_group(proc)


async def _stop_group(proc: asyncio.subprocess.Process) -> None:
    """Kill the process group `proc` leads, and wait for it to end."""
    kill_process_group(proc.pid)
    await proc.wait()


def kill_process_group(pid: int) -> None:
    """SIGKILL the process group led by `pid` (the process alone where groups don't exist)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


async def _drain(stream: asyncio.StreamReader | None) -> tuple[bytes, int]:
    """Read a pipe to its end; keep the first `MAX_CAPTURE_BYTES`, count them all."""
    kept = bytearray()
    total = 0
    if stream is None:
        return b"", 0
    while chunk := await stream.read(65536):
        total += len(chunk)
        if len(kept) < MAX_CAPTURE_BYTES:
            kept.extend(chunk[: MAX_CAPTURE_BYTES - len(kept)])
    return bytes(kept), total


def _decode(data: bytes, total: int) -> str:
    text = data.decode("utf-8", errors="replace").rstrip("\n")
    if total > len(data):
        text += f"\n[... {total - len(data)} more bytes not kept]"
    return text


def format_output(out: bytes, out_total: int, err: bytes, err_total: int, returncode: int) -> str:
    """The text the model gets: stdout, then `[stderr]`, then the exit status when not 0."""
    stdout = _decode(out, out_total)
    stderr = _decode(err, err_total)
    parts = []
    if stdout:
        parts.append(f"[stdout]\n{stdout}" if stderr else stdout)
    if stderr:
        parts.append(f"[stderr]\n{stderr}")
    if returncode < 0:
        try:
            parts.append(f"[killed by signal {signal.Signals(-returncode).name}]")
        except ValueError:
            parts.append(f"[killed by signal {-returncode}]")
    elif returncode != 0:
        parts.append(f"[exit status {returncode}]")
    return "\n".join(parts) if parts else "(no output)"


def _as_text(value: Any) -> str:
    """An argument as argv text: booleans as true/false, whole numbers without a decimal point."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _param_schema(name: str, param: ShellParam) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.type}
    if param.description:
        schema["description"] = param.description
    if param.enum is not None:
        schema["enum"] = [_typed(name, param.type, v) for v in param.enum]
    return schema


def _typed(name: str, kind: str, text: str) -> Any:
    """An enum value from the config (always text there) as the parameter's JSON type."""
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "boolean":
            return {"true": True, "false": False}[text.strip().lower()]
    except (ValueError, KeyError):
        raise ToolConfigError(f"parameters.{name}.enum", f"{text!r} is not a valid {kind}") from None
    return text


def _program_problem(program: str, root: Path) -> str | None:
    """Why the program can't be run, or None."""
    if "/" in program:
        path = Path(program) if Path(program).is_absolute() else root / program
        if not path.is_file():
            return f"program {program!r} does not exist"
        if not os.access(path, os.X_OK):
            return f"program {program!r} is not executable"
        return None
    return None if shutil.which(program) else f"program {program!r} is not on PATH"


def load_shell_tool(entry: ShellTool, *, root: Path) -> ShellCommandTool:
    """The tool for one `[[tools.shell]]` entry, or `ToolConfigError` naming the bad key."""
    if entry.timeout is not None and entry.timeout <= 0:
        raise ToolConfigError("timeout", "must be more than 0 seconds")
    for name in entry.parameters:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ToolConfigError(
                f"parameters.{name}",
                "a parameter name must be letters, digits and '_' (it is written {name} in command)",
            )
    if PLACEHOLDER.search(entry.command[0]):
        raise ToolConfigError("command[0]", "the program can't come from a parameter; name it literally")
    used: set[str] = set()
    for i, item in enumerate(entry.command):
        for name in PLACEHOLDER.findall(item):
            if name not in entry.parameters:
                declared = ", ".join(entry.parameters) or "none"
                raise ToolConfigError(
                    f"command[{i}]",
                    f"refers to {{{name}}}, but no parameter {name!r} is declared (parameters: {declared})",
                )
            used.add(name)
    for name in entry.parameters:
        if name not in used:
            raise ToolConfigError(
                f"parameters.{name}", f"is not used in command; write {{{name}}} in an argv item or remove it"
            )
    problem = _program_problem(entry.command[0], root)
    if problem:
        raise ToolConfigError("command[0]", problem)
    return ShellCommandTool(
        name=entry.name,
        description=entry.description,
        command=entry.command,
        params=entry.parameters,
        root=root,
        timeout=entry.timeout,
    )
