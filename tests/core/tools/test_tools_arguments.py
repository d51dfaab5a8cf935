"""Whatever a model sends as `arguments`, execute answers with an outcome the model can act on."""

from __future__ import annotations

import json

import pytest
from conftest import EchoTool, NoArgsTool, call

from vllm_chat.core.tools import ToolRegistry

HINT = "Send a JSON object matching the schema: "


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry([EchoTool(), NoArgsTool()])


def schema_in(output: str) -> dict:
    """The schema quoted at the end of an error output."""
    assert HINT in output
    return json.loads(output.split(HINT, 1)[1])


async def test_a_valid_object_padded_with_hundreds_of_spaces_is_accepted(registry):
    raw = " " * 300 + '{"city": "Paris"}' + " \n\t" * 200
    outcome = await registry.execute(call("echo", raw=raw))
    assert outcome.status == "ok"
    assert json.loads(outcome.output) == {"city": "Paris"}


@pytest.mark.parametrize("raw", ["Infinity", "-Infinity", "NaN", '{"city": "Paris", "days": Infinity}'])
async def test_infinity_and_nan_are_not_json_and_the_model_is_told_so(registry, raw):
    outcome = await registry.execute(call("echo", raw=raw))
    assert outcome.status == "error"
    assert outcome.output.startswith("Error: arguments are not valid JSON (")
    assert "is not a JSON number" in outcome.output
    assert schema_in(outcome.output) == EchoTool.parameters


async def test_a_number_too_large_for_a_float_is_refused(registry):
    outcome = await registry.execute(call("echo", raw='{"city": "x", "days": 1e999}'))
    assert outcome.status == "error"
    assert "not valid JSON (1e999 is too large for a number)" in outcome.output


@pytest.mark.parametrize("raw", ['{"city": "Par', '{"city": "Paris"', '{"city": }', "{'city': 'Paris'}"])
async def test_truncated_or_broken_json_says_where_parsing_failed(registry, raw):
    outcome = await registry.execute(call("echo", raw=raw))
    assert outcome.status == "error"
    assert outcome.output.startswith("Error: arguments are not valid JSON (")
    assert "line 1 column" in outcome.output
    assert schema_in(outcome.output) == EchoTool.parameters


async def test_the_error_for_a_non_json_value_matches_the_documented_wording(registry):
    outcome = await registry.execute(call("echo", raw="hello"))
    assert outcome.output.startswith(
        "Error: arguments are not valid JSON (Expecting value: line 1 column 1). "
        'Send a JSON object matching the schema: {"type":"object",'
    )


@pytest.mark.parametrize(
    ("raw", "described"),
    [
        ("-0.0", "a number (-0.0)"),
        ("42", "an integer (42)"),
        ('"Paris"', 'a string ("Paris")'),
        ('["Paris"]', 'an array (["Paris"])'),
        ("true", "a boolean (true)"),
        ("null", "null"),
    ],
)
async def test_json_that_is_not_an_object_is_refused_naming_what_came(registry, raw, described):
    outcome = await registry.execute(call("echo", raw=raw))
    assert outcome.status == "error"
    assert outcome.output.startswith(f"Error: arguments must be a JSON object, got {described}. {HINT}")


async def test_an_object_encoded_twice_as_a_json_string_is_unwrapped(registry):
    raw = json.dumps(json.dumps({"city": "Oslo"}))
    outcome = await registry.execute(call("echo", raw=raw))
    assert outcome.status == "ok"
    assert json.loads(outcome.output) == {"city": "Oslo"}


@pytest.mark.parametrize("raw", ["", "   ", "\n\t "])
async def test_empty_arguments_mean_no_arguments_when_nothing_is_required(registry, raw):
    outcome = await registry.execute(call("ping", raw=raw))
    assert outcome == outcome.ok("pong")


@pytest.mark.parametrize("raw", ["", "  "])
async def test_empty_arguments_are_an_error_when_a_property_is_required(registry, raw):
    outcome = await registry.execute(call("echo", raw=raw))
    assert outcome.status == "error"
    assert outcome.output.startswith(f"Error: the arguments are empty, but 'city' is required. {HINT}")


async def test_deeply_nested_json_is_an_error_not_a_crash(registry):
    outcome = await registry.execute(call("echo", raw="[" * 100_000 + "]" * 100_000))
    assert outcome.status == "error"
    assert "not valid JSON" in outcome.output
