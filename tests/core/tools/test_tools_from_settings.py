"""Building the registry from `[tools]`: every config problem is reported by key, never raised."""

from __future__ import annotations

import pytest

from vllm_chat.core.config import (
    BUILTIN_TOOLS,
    PythonTool,
    ShellParam,
    ShellTool,
    ToolsSettings,
)
from vllm_chat.core.tools import ToolRegistry

pytestmark = pytest.mark.usefixtures("sample_modules")


def build(root, **settings):
    return ToolRegistry.from_settings(ToolsSettings(**settings), root=root)


def test_by_default_all_builtins_are_offered_with_no_problems(root):
    registry, problems = build(root)
    assert problems == []
    assert registry.names() == list(BUILTIN_TOOLS)


def test_only_the_listed_builtins_are_offered(root):
    registry, problems = build(root, builtins=["calculator"])
    assert problems == []
    assert registry.names() == ["calculator"]


def test_the_registry_default_timeout_comes_from_tools_timeout(root):
    registry, _ = build(root, timeout=7.5)
    assert registry.default_timeout == 7.5


def test_a_python_tool_whose_module_is_missing_is_reported_and_skipped(root):
    registry, problems = build(root, builtins=[], python=[PythonTool(function="mymod:weather")])
    assert registry.names() == []
    assert problems == [
        "tools.python[0].function: cannot import 'mymod': No module named 'mymod' "
        "(is it installed, or its folder on PYTHONPATH?); the tool is skipped"
    ]


def test_a_python_tool_whose_module_fails_on_import_is_reported(root):
    _, problems = build(root, builtins=[], python=[PythonTool(function="sample_broken_tool_module:f")])
    assert problems == [
        "tools.python[0].function: cannot import 'sample_broken_tool_module': "
        "RuntimeError: broken on purpose; the tool is skipped"
    ]


def test_a_missing_function_and_a_non_callable_are_reported(root):
    _, problems = build(
        root,
        builtins=[],
        python=[
            PythonTool(function="sample_tool_functions:nope"),
            PythonTool(function="sample_tool_functions:not_a_function"),
        ],
    )
    assert problems == [
        "tools.python[0].function: 'sample_tool_functions' has no attribute 'nope'; the tool is skipped",
        "tools.python[1].function: 'sample_tool_functions:not_a_function' is not callable; the tool is skipped",
    ]


def test_a_duplicate_name_keeps_the_first_tool_and_reports_the_second(root):
    registry, problems = build(
        root,
        builtins=["calculator"],
        python=[PythonTool(function="sample_tool_functions:add", name="calculator")],
    )
    assert registry.names() == ["calculator"]
    assert type(registry.get("calculator")).__name__ == "Calculator"
    assert problems == [
        "tools.python[0]: a tool named 'calculator' already exists (tools.builtins[0]); this one is skipped"
    ]


@pytest.mark.parametrize("name", ["add numbers", "add\n", "x" * 65, "wetter.heute"])
def test_a_name_the_api_would_refuse_is_reported(root, name):
    entry = PythonTool(function="sample_tool_functions:add", name=name)
    registry, problems = build(root, builtins=[], python=[entry])
    assert registry.names() == []
    assert problems == [
        f"tools.python[0]: {name!r} is not a valid tool name (use letters, digits, '_' and '-', "
        "at most 64 characters); the tool is skipped"
    ]


def test_a_shell_template_referring_to_an_undeclared_parameter_is_reported(root):
    shell = ShellTool(
        name="grep", command=["grep", "-rn", "{pattern}", "{path}"], parameters={"pattern": ShellParam()}
    )
    registry, problems = build(root, builtins=[], shell=[shell])
    assert registry.names() == []
    assert problems == [
        "tools.shell[0].command[3]: refers to {path}, but no parameter 'path' is declared "
        "(parameters: pattern); the tool is skipped"
    ]


def test_a_confirm_entry_naming_no_tool_is_reported(root):
    _, problems = build(root, builtins=["calculator"], confirm=["calculater"])
    assert problems == ["tools.confirm: no tool is named 'calculater' (tools: calculator)"]


def test_good_tools_survive_beside_broken_ones(root):
    registry, problems = build(
        root,
        builtins=["datetime"],
        python=[PythonTool(function="nope_module:f"), PythonTool(function="sample_tool_functions:add")],
        shell=[ShellTool(name="say", command=["echo", "{text}"], parameters={"text": ShellParam()})],
    )
    assert registry.names() == ["datetime", "add", "say"]
    assert len(problems) == 1


def test_approval_is_needed_for_shell_tools_confirm_entries_and_confirming_python_tools(root):
    registry, problems = build(
        root,
        builtins=["datetime", "calculator"],
        confirm=["calculator"],
        python=[
            PythonTool(function="sample_tool_functions:add", confirm=True),
            PythonTool(function="sample_tool_functions:greet"),
        ],
        shell=[ShellTool(name="say", command=["echo", "{text}"], parameters={"text": ShellParam()})],
    )
    assert problems == []
    assert {n: registry.needs_approval(n) for n in registry.names()} == {
        "datetime": False,
        "calculator": True,
        "add": True,
        "greet": False,
        "say": True,
    }
    assert registry.needs_approval("no_such_tool") is False


def test_builtin_specs_are_strict_ready_function_specs(root):
    registry, _ = build(root)
    for spec in registry.specs():
        function = spec["function"]
        assert spec["type"] == "function"
        assert function["description"].strip()
        parameters = function["parameters"]
        assert parameters["type"] == "object"
        assert parameters["additionalProperties"] is False
        assert set(parameters.get("required", [])) <= set(parameters["properties"])
        for prop in parameters["properties"].values():
            assert prop["description"].strip()

