"""Python functions as tools: schema from the signature and docstring, pydantic checks, threads."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from conftest import call

from vllm_chat.core.config import PythonTool
from vllm_chat.core.tools import ToolConfigError, ToolRegistry
from vllm_chat.core.tools.python_tools import (
    PythonFunctionTool,
    load_python_tool,
    parse_docstring,
)

pytestmark = pytest.mark.usefixtures("sample_modules")


def tool_for(function: str, **entry):
    return load_python_tool(PythonTool(function=f"sample_tool_functions:{function}", **entry))


def registry_for(*tools) -> ToolRegistry:
    return ToolRegistry(tools)


def test_the_schema_comes_from_type_hints_defaults_and_the_args_section():
    tool = tool_for("add")
    assert tool.name == "add"
    assert tool.description == "Add two whole numbers.\n\nUse this for sums."
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "The first number."},
            "b": {"type": "integer", "default": 2, "description": "The second number, added to the first."},
        },
        "required": ["a"],
        "additionalProperties": False,
    }


def test_literal_becomes_an_enum_and_optional_allows_null():
    weather = tool_for("weather").parameters["properties"]
    assert weather["unit"]["enum"] == ["c", "f"]
    assert weather["city"] == {"type": "string", "description": 'City name, e.g. "Paris".'}
    greet = tool_for("greet").parameters
    assert greet["properties"]["name"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert "required" not in greet


def test_annotated_field_constraints_and_descriptions_are_kept():
    count = tool_for("repeat").parameters["properties"]["count"]
    assert count == {"type": "integer", "minimum": 1, "maximum": 5, "description": "How many times"}


def test_pydantic_models_as_parameters_are_described_without_titles():
    parameters = tool_for("norm").parameters
    assert '"title"' not in json.dumps(parameters)
    assert parameters["properties"]["p"] == {"$ref": "#/$defs/Point"}
    assert parameters["$defs"]["Point"]["properties"] == {"x": {"type": "number"}, "y": {"type": "number"}}
    assert "title" not in parameters["$defs"]["Point"]


def test_the_config_may_rename_describe_confirm_and_time_a_tool():
    tool = tool_for("add", name="sum_two", description="Sums.", confirm=True, timeout=3)
    assert (tool.name, tool.description, tool.confirm, tool.timeout) == ("sum_two", "Sums.", True, 3)
    assert tool.spec()["function"]["name"] == "sum_two"


def test_a_function_without_a_docstring_has_an_empty_description():
    assert tool_for("repeat").description == ""


def test_google_docstrings_split_into_description_and_arguments():
    summary, args = parse_docstring(
        """Fetch a page.

        Args:
            url (str): The address.
            timeout: Seconds to wait,
                at most 60.
            **headers: Extra headers.

        Raises:
            ValueError: never mind.
        """
    )
    assert summary == "Fetch a page."
    assert args == {"url": "The address.", "timeout": "Seconds to wait, at most 60.", "headers": "Extra headers."}


async def test_a_sync_function_runs_in_a_worker_thread_and_returns_json():
    outcome = await registry_for(tool_for("add")).execute(call("add", {"a": 40}))
    assert outcome.output == "42"
    name = (await registry_for(tool_for("where_am_i")).execute(call("where_am_i", {}))).output
    assert name != threading.current_thread().name


async def test_an_async_function_is_awaited_and_a_dict_comes_back_as_json():
    outcome = await registry_for(tool_for("weather")).execute(call("weather", {"city": "Paris", "unit": "f"}))
    assert json.loads(outcome.output) == {"city": "Paris", "temperature": 64, "unit": "f"}


async def test_strings_are_returned_as_they_are_and_none_as_null():
    registry = registry_for(tool_for("greet"), tool_for("nothing"))
    assert (await registry.execute(call("greet", {"name": "Ada"}))).output == "Hello, Ada!"
    assert (await registry.execute(call("greet", raw=""))).output == "Hello, stranger!"
    assert (await registry.execute(call("nothing", {}))).output == "null"


async def test_arguments_are_converted_the_way_pydantic_converts_them():
    registry = registry_for(tool_for("add"), tool_for("norm"))
    assert (await registry.execute(call("add", {"a": "3", "b": 4.0}))).output == "7"
    assert (await registry.execute(call("norm", {"p": {"x": 3, "y": "4"}}))).output == "5.0"


@pytest.mark.parametrize(
    ("function", "arguments", "problem"),
    [
        (
            "add",
            {"a": "three"},
            "'a': Input should be a valid integer, unable to parse string as an integer (got \"three\")",
        ),
        ("add", {"b": 1}, "missing required property 'a'"),
        ("add", {"a": 1, "c": 2}, "unknown property 'c' (allowed: a, b)"),
        ("weather", {"city": "Oslo", "unit": "k"}, "'unit': Input should be 'c' or 'f' (got \"k\")"),
        ("repeat", {"count": 9}, "'count': Input should be less than or equal to 5 (got 9)"),
        ("norm", {"p": {"x": 1}}, "missing required property 'p.y'"),
    ],
)
async def test_invalid_arguments_name_the_field(function, arguments, problem):
    outcome = await registry_for(tool_for(function)).execute(call(function, arguments))
    assert outcome.status == "error"
    assert outcome.output.startswith(f"Error: invalid arguments for {function}: {problem}. Send a JSON object")


async def test_an_exception_in_the_function_is_reported_by_type_and_message():
    outcome = await registry_for(tool_for("fail")).execute(call("fail", {"reason": "tests"}))
    assert outcome.output == "Error: fail failed: RuntimeError: failed because tests"


async def test_sys_exit_in_a_tool_does_not_end_the_app():
    outcome = await registry_for(tool_for("quit_app")).execute(call("quit_app", {}))
    assert outcome.output == "Error: quit_app tried to exit the program (SystemExit: 3)"


async def test_a_blocking_sync_function_past_its_timeout_is_abandoned_and_the_loop_stays_free():
    registry = registry_for(tool_for("block", timeout=0.2))
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    outcome = await registry.execute(call("block", {"seconds": 0.8}))
    ticking.cancel()
    assert outcome.output == "Error: block timed out after 0.2 s and was stopped"
    assert ticks > 0


def test_a_function_whose_signature_cannot_be_described_is_a_config_error():
    def takes_a_lock(lock: threading.Lock) -> None:
        """Uses a lock."""

    with pytest.raises(ToolConfigError) as info:
        PythonFunctionTool(takes_a_lock)
    assert info.value.field == "function"
    assert str(info.value).startswith("cannot build a schema from the signature of takes_a_lock: ")


def test_a_non_positive_timeout_is_a_config_error():
    with pytest.raises(ToolConfigError) as info:
        tool_for("add", timeout=0)
    assert (info.value.field, str(info.value)) == ("timeout", "must be more than 0 seconds")
