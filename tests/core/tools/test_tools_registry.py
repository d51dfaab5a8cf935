"""The registry: lookup, schema checks, failures, timeouts, cancellation, output size, specs."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import (
    EchoTool,
    LoudTool,
    NoArgsTool,
    RaisingTool,
    ReportingTool,
    SlowTool,
    call,
)

from vllm_chat.core.tools import MAX_OUTPUT_CHARS, ToolOutcome, ToolRegistry
from vllm_chat.core.tools.registry import cap_output


async def test_an_unknown_tool_name_is_an_error_listing_the_available_tools():
    registry = ToolRegistry([EchoTool(), NoArgsTool()])
    outcome = await registry.execute(call("get_weather", {"city": "Paris"}))
    assert outcome == ToolOutcome(
        "error", "Error: there is no tool named 'get_weather'. Available tools: echo, ping."
    )


async def test_an_unknown_tool_in_an_empty_registry_says_no_tools_exist():
    outcome = await ToolRegistry().execute(call("anything", {}))
    assert outcome.output == "Error: there is no tool named 'anything'. No tools are available."


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"city": 3}, "'city' must be a string, got an integer (3)"),
        ({"city": "Paris", "days": "3"}, "'days' must be an integer, got a string (\"3\")"),
        ({"city": "Paris", "days": True}, "'days' must be an integer, got a boolean (true or false) (true)"),
        ({"city": "Paris", "days": 2.5}, "'days' must be an integer, got a number (2.5)"),
        ({"city": "Paris", "days": 0}, "'days' must be at least 1, got 0"),
        ({"days": 2}, "missing required property 'city'"),
        ({"city": "Paris", "unit": "k"}, "'unit' must be one of \"c\", \"f\"; got \"k\""),
        ({"city": "Paris", "colour": "red"}, "unknown property 'colour' (allowed: city, days, unit)"),
    ],
)
async def test_arguments_that_break_the_schema_are_refused_naming_the_field(arguments, problem):
    outcome = await ToolRegistry([EchoTool()]).execute(call("echo", arguments))
    assert outcome.status == "error"
    assert outcome.output.startswith(
        f"Error: invalid arguments for echo: {problem}. Send a JSON object matching the schema: "
    )


async def test_every_schema_problem_is_listed_at_once():
    outcome = await ToolRegistry([EchoTool()]).execute(call("echo", {"unit": "k", "x": 1}))
    assert "missing required property 'city'" in outcome.output
    assert "'unit' must be one of" in outcome.output
    assert "unknown property 'x'" in outcome.output


async def test_a_whole_float_counts_as_an_integer_like_json_schema_says():
    outcome = await ToolRegistry([EchoTool()]).execute(call("echo", {"city": "Rome", "days": 3.0}))
    assert outcome.status == "ok"


async def test_a_tool_that_raises_gives_the_exception_type_and_message_without_a_traceback():
    outcome = await ToolRegistry([RaisingTool()]).execute(call("boom", {}))
    assert outcome == ToolOutcome("error", "Error: boom failed: ValueError: the sky fell")


async def test_a_tool_error_is_passed_on_in_the_tools_own_words():
    outcome = await ToolRegistry([ReportingTool()]).execute(call("refuse", {}))
    assert outcome == ToolOutcome("error", "Error: the file is locked; try again later")


async def test_a_tool_running_past_its_timeout_is_stopped_and_reported():
    tool = SlowTool()
    outcome = await ToolRegistry([tool]).execute(call("slow", {}), timeout=0.2)
    assert outcome == ToolOutcome("error", "Error: slow timed out after 0.2 s and was stopped")
    assert tool.cancelled


async def test_the_tools_own_timeout_applies_when_the_call_sets_none():
    tool = SlowTool(timeout=0.1)
    outcome = await ToolRegistry([tool], default_timeout=3600).execute(call("slow", {}))
    assert outcome.output == "Error: slow timed out after 0.1 s and was stopped"


async def test_the_registry_default_timeout_applies_when_nothing_else_is_set():
    outcome = await ToolRegistry([SlowTool()], default_timeout=0.15).execute(call("slow", {}))
    assert outcome.output == "Error: slow timed out after 0.15 s and was stopped"


async def test_cancelling_execute_propagates_and_stops_the_running_tool():
    tool = SlowTool()
    task = asyncio.create_task(ToolRegistry([tool]).execute(call("slow", {})))
    await tool.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tool.cancelled


async def test_short_output_is_returned_whole():
    outcome = await ToolRegistry([LoudTool(MAX_OUTPUT_CHARS)]).execute(call("loud", {}))
    assert len(outcome.output) == MAX_OUTPUT_CHARS
    assert "characters cut" not in outcome.output


async def test_output_over_the_cap_keeps_its_start_and_end_around_a_note():
    outcome = await ToolRegistry([LoudTool(1_000_000)]).execute(call("loud", {}))
    assert outcome.status == "ok"
    assert outcome.output.startswith("Axxx")
    assert outcome.output.endswith("xxxZ")
    assert "characters cut here: the output had 1000000 characters" in outcome.output
    assert len(outcome.output) < MAX_OUTPUT_CHARS + 300


def test_cap_output_keeps_four_fifths_from_the_start_and_one_fifth_from_the_end():
    text = "".join(f"{i:06d}" for i in range(10_000))
    capped = cap_output(text, limit=1000)
    head, tail = capped.split("\n\n[... ", 1)[0], capped.rsplit("...]\n\n", 1)[1]
    assert head == text[:800]
    assert tail == text[-200:]


async def test_check_reports_calls_that_cannot_run_so_no_approval_is_asked_for_them():
    registry = ToolRegistry([EchoTool()])
    assert registry.check(call("echo", {"city": "Lima"})) is None
    assert registry.check(call("echo", {"days": 1})).status == "error"
    assert registry.check(call("nope", {})).status == "error"


def test_adding_two_tools_with_one_name_is_refused():
    registry = ToolRegistry([EchoTool()])
    with pytest.raises(ValueError, match="already registered"):
        registry.add(EchoTool())


def test_specs_have_the_shape_of_openai_function_tools():
    registry = ToolRegistry([EchoTool(), NoArgsTool()])
    specs = registry.specs()
    assert [s["function"]["name"] for s in specs] == registry.names() == ["echo", "ping"]
    for spec in specs:
        assert set(spec) == {"type", "function"}
        assert spec["type"] == "function"
        assert set(spec["function"]) == {"name", "description", "parameters"}
        assert spec["function"]["parameters"]["type"] == "object"
    json.dumps(specs)  # must be JSON as it goes on the wire


class SloppyTool(NoArgsTool):
    """A hand-written tool with bugs in the parts the registry calls."""

    name = "sloppy"

    def validate(self, arguments):
        if arguments.get("crash_in_validate"):
            raise KeyError("crash_in_validate")
        return arguments

    def run(self, arguments):  # not async: returns a plain string, which is not awaitable
        return "not a coroutine"


async def test_bugs_in_a_hand_written_tool_become_error_outcomes():
    registry = ToolRegistry([SloppyTool()])
    outcome = await registry.execute(call("sloppy", {"crash_in_validate": True}))
    assert outcome == ToolOutcome("error", "Error: sloppy failed: KeyError: 'crash_in_validate'")
    outcome = await registry.execute(call("sloppy", {}))
    assert outcome.status == "error"
    assert outcome.output.startswith("Error: sloppy failed: TypeError: ")
