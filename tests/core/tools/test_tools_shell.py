"""Shell tools: argv from a template, never a shell; typed values; timeouts and Esc kill the group."""

from __future__ import annotations

import asyncio
import shlex
import sys

import pytest
from conftest import call, process_gone, wait_until

from vllm_chat.core.config import ShellParam, ShellTool
from vllm_chat.core.tools import ToolConfigError, ToolRegistry
from vllm_chat.core.tools.shell_tools import MAX_CAPTURE_BYTES, load_shell_tool

PY = sys.executable


def shell(root, command, timeout=None, **parameters):
    entry = ShellTool(name="cmd", description="Run it.", command=command, parameters=parameters, timeout=timeout)
    return load_shell_tool(entry, root=root)


async def run(root, command, arguments=None, **parameters):
    return await ToolRegistry([shell(root, command, **parameters)]).execute(call("cmd", arguments or {}))


def test_a_placeholder_inside_an_argv_item_is_filled_and_absent_optionals_drop_their_items(root):
    tool = shell(
        root,
        ["grep", "-rn", "--max-count={n}", "--type={kind}", "{pattern}", "."],
        pattern=ShellParam(),
        n=ShellParam(type="integer", required=False),
        kind=ShellParam(required=False, enum=["py", "md"]),
    )
    assert tool.argv({"pattern": "TODO", "n": 5}) == ["grep", "-rn", "--max-count=5", "TODO", "."]
    assert tool.argv({"pattern": "x y"}) == ["grep", "-rn", "x y", "."]
    argv = tool.argv({"pattern": "p", "n": 2.0, "kind": "md"})
    assert argv == ["grep", "-rn", "--max-count=2", "--type=md", "p", "."]


def test_the_schema_declares_types_choices_and_what_is_required(root):
    tool = shell(
        root,
        ["echo", "{a}", "{b}", "{c}", "{d}"],
        a=ShellParam(description="Text."),
        b=ShellParam(type="integer", enum=["1", "2"], required=False),
        c=ShellParam(type="number", required=False),
        d=ShellParam(type="boolean", required=False),
    )
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "a": {"type": "string", "description": "Text."},
            "b": {"type": "integer", "enum": [1, 2]},
            "c": {"type": "number"},
            "d": {"type": "boolean"},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    assert tool.argv({"a": "x", "c": 2.5, "d": False}) == ["echo", "x", "2.5", "false"]


def test_shell_tools_always_need_approval_and_preview_the_exact_command(root):
    registry = ToolRegistry([shell(root, ["echo", "{text}"], text=ShellParam())])
    assert registry.needs_approval("cmd")
    assert registry.preview(call("cmd", {"text": "a b; c"})) == "$ echo 'a b; c'"
    assert registry.preview(call("cmd", {"text": 3})) is None  # invalid: it won't run


@pytest.mark.parametrize(
    "text", ["; touch pwned", "$(touch pwned)", "`touch pwned`", "| touch pwned", "&& touch pwned"]
)
async def test_shell_syntax_in_a_value_is_passed_literally_and_runs_nothing(root, text):
    outcome = await run(root, ["echo", "{text}"], {"text": text}, text=ShellParam())
    assert outcome.status == "ok"
    assert outcome.output == text
    assert not (root / "pwned").exists()


async def test_a_value_with_a_regex_backreference_is_not_interpreted(root):
    outcome = await run(root, ["echo", "x={text}"], {"text": r"\1 \g<0>"}, text=ShellParam())
    assert outcome.output == r"x=\1 \g<0>"


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"n": "5; rm -rf /"}, "'n' must be an integer, got a string"),
        ({"n": 5, "mode": "fast"}, "'mode' must be one of \"quick\", \"full\"; got \"fast\""),
        ({}, "missing required property 'n'"),
        ({"n": 1, "extra": "x"}, "unknown property 'extra' (allowed: n, mode)"),
    ],
)
async def test_values_are_checked_against_the_declared_type_and_choices_first(root, arguments, problem):
    outcome = await run(
        root,
        ["echo", "{n}", "{mode}"],
        arguments,
        n=ShellParam(type="integer"),
        mode=ShellParam(required=False, enum=["quick", "full"]),
    )
    assert outcome.status == "error"
    assert outcome.output.startswith(f"Error: invalid arguments for cmd: {problem}")


async def test_the_command_runs_in_the_start_folder(root):
    outcome = await run(root, [PY, "-c", "import os; print(os.getcwd())"])
    assert outcome.output == str(root)


async def test_output_is_stdout_then_labelled_stderr_then_a_non_zero_exit_status(root):
    script = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    assert (await run(root, [PY, "-c", script])).output == "[stdout]\nout\n[stderr]\nerr\n[exit status 3]"
    assert (await run(root, [PY, "-c", "print('only out')"])).output == "only out"
    assert (await run(root, [PY, "-c", "pass"])).output == "(no output)"
    killed = await run(root, [PY, "-c", "import os; os.kill(os.getpid(), 9)"])
    assert killed.output == "[killed by signal SIGKILL]"


async def test_huge_output_is_read_to_the_end_but_only_partly_kept(root):
    outcome = await run(root, [PY, "-c", f"import sys; sys.stdout.write('y' * {3 * MAX_CAPTURE_BYTES})"])
    assert outcome.status == "ok"
    assert "characters cut here" in outcome.output
    assert outcome.output.endswith(f"[... {2 * MAX_CAPTURE_BYTES} more bytes not kept]")


async def test_a_program_that_vanished_after_loading_is_reported(root):
    program = root / "tool.sh"
    program.write_text("#!/bin/sh\necho hi\n")
    program.chmod(0o755)
    registry = ToolRegistry([shell(root, ["./tool.sh"])])
    assert (await registry.execute(call("cmd", {}))).output == "hi"
    program.unlink()
    assert (await registry.execute(call("cmd", {}))).output == "Error: cannot run './tool.sh': command not found"


GROUP_SCRIPT = (
    "import os, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "open('pids.tmp', 'w').write(f'{os.getpid()} {child.pid}')\n"
    "os.replace('pids.tmp', 'pids')\n"
    "time.sleep(600)\n"
)


def pids(root):
    return [int(p) for p in (root / "pids").read_text().split()]


async def test_a_timeout_kills_the_command_and_every_process_it_started(root):
    # Long enough for the script to start its child and write the pids on a loaded machine.
    registry = ToolRegistry([shell(root, [PY, "-c", GROUP_SCRIPT], timeout=10)])
    outcome = await registry.execute(call("cmd", {}))
    assert outcome.output == "Error: cmd timed out after 10 s and was stopped"
    leader, child = pids(root)
    await wait_until(lambda: process_gone(leader) and process_gone(child), "both processes are gone")


async def test_cancelling_a_running_command_kills_its_process_group(root):
    registry = ToolRegistry([shell(root, [PY, "-c", GROUP_SCRIPT])], default_timeout=600)
    task = asyncio.create_task(registry.execute(call("cmd", {})))
    await wait_until(lambda: (root / "pids").exists(), "the command started its child")
    leader, child = pids(root)
    assert not process_gone(child)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: process_gone(leader) and process_gone(child), "both processes are gone")


async def test_cancelling_while_the_command_is_still_starting_kills_what_it_started(root, monkeypatch):
    # On a loaded machine the command may run, and start others, before the event loop has
    # finished starting it (its pipes): Esc then must still stop them all.
    start = asyncio.create_subprocess_exec

    async def slow_to_finish_starting(*args, **kwargs):
        proc = await start(*args, **kwargs)
        while not (root / "pids").exists():
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", slow_to_finish_starting)
    registry = ToolRegistry([shell(root, [PY, "-c", GROUP_SCRIPT])], default_timeout=600)
    task = asyncio.create_task(registry.execute(call("cmd", {})))
    await wait_until(lambda: (root / "pids").exists(), "the command started its child")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    leader, child = pids(root)
    await wait_until(lambda: process_gone(leader) and process_gone(child), "both processes are gone", limit=20)


@pytest.mark.parametrize(
    ("command", "parameters", "field", "message"),
    [
        (
            ["{prog}", "x"],
            {"prog": ShellParam()},
            "command[0]",
            "the program can't come from a parameter; name it literally",
        ),
        (
            ["echo", "{a}"],
            {"a": ShellParam(), "b": ShellParam()},
            "parameters.b",
            "is not used in command; write {b} in an argv item or remove it",
        ),
        (
            ["echo", "{n}"],
            {"n": ShellParam(type="integer", enum=["1", "two"])},
            "parameters.n.enum",
            "'two' is not a valid integer",
        ),
        (
            ["echo", "x"],
            {"my-param": ShellParam()},
            "parameters.my-param",
            "a parameter name must be letters, digits and '_' (it is written {name} in command)",
        ),
        (["no-such-program-4711", "x"], {}, "command[0]", "program 'no-such-program-4711' is not on PATH"),
        (["./missing.sh"], {}, "command[0]", "program './missing.sh' does not exist"),
    ],
)
def test_template_mistakes_are_config_errors_naming_the_key(root, command, parameters, field, message):
    with pytest.raises(ToolConfigError) as info:
        shell(root, command, **parameters)
    assert (info.value.field, str(info.value)) == (field, message)


def test_a_non_positive_timeout_is_a_config_error(root):
    with pytest.raises(ToolConfigError) as info:
        shell(root, ["echo"], timeout=-1)
    assert info.value.field == "timeout"


def test_literal_braces_that_are_not_placeholders_stay_as_they_are(root):
    tool = shell(root, ["awk", "{print $1}", "{}", "{file}"], file=ShellParam())
    assert tool.argv({"file": "a.txt"}) == ["awk", "{print $1}", "{}", "a.txt"]
    assert shlex.split(tool.preview({"file": "a b"})) == ["$", "awk", "{print $1}", "{}", "a b"]
