"""Structured outputs on the simulated server: replies that satisfy the constraint, vLLM's
errors for constraints it refuses, and the faults that make a server ignore or overrun one."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from .helpers import chat, user

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "email": {"type": "string", "format": "email"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3},
        "role": {"enum": ["admin", "user"]},
        "address": {"$ref": "#/$defs/address"},
        "score": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
        "nickname": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "[a-z]{2,4}[0-9]"}]},
    },
    "required": ["name", "age", "email", "tags", "role", "address", "score", "nickname"],
    "additionalProperties": False,
    "$defs": {"address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}


def content_of(reply) -> str:
    return reply.json["choices"][0]["message"]["content"]


async def test_a_json_schema_reply_is_a_valid_instance(sim, http):
    reply = await chat(http, sim, {"messages": user("describe a user"), "response_format": {
        "type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": PERSON}}})
    value = json.loads(content_of(reply))
    jsonschema.validate(value, PERSON)
    assert reply.json["choices"][0]["finish_reason"] == "stop"


async def test_structured_outputs_json_and_json_object_replies_are_json(sim, http):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    reply = await chat(http, sim, {"messages": user("a city"), "structured_outputs": {"json": schema}})
    assert json.loads(content_of(reply)) == {"city": "Paris"}
    as_text = await chat(http, sim, {"messages": user("a city"), "structured_outputs": {"json": json.dumps(schema)}})
    assert json.loads(content_of(as_text)) == {"city": "Paris"}
    anything = await chat(http, sim, {"messages": user("json please"), "response_format": {"type": "json_object"}})
    assert isinstance(json.loads(content_of(anything)), dict)


async def test_a_streamed_json_reply_is_the_same_as_the_non_streamed_one(sim, http):
    body = {"messages": user("a user"), "response_format": {
        "type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}}
    whole = content_of(await chat(http, sim, body))
    streamed = await chat(http, sim, {**body, "stream": True})
    assert streamed.text() == whole


@pytest.mark.parametrize("pattern", [
    r"[A-Z]{3}-[0-9]{2}", r"\d{3}-\d{4}", r"(yes|no)", r"https?://[a-z]+\.(com|org)(/[a-z]+)*",
    r"[^a-z]{3}", r"\w+@\w+\.com", r"(?:ab)+c?", r"[[:alpha:]]{4}", r"x{5}", "",
])
async def test_a_regex_reply_matches_the_whole_pattern(sim, http, pattern):
    reply = await chat(http, sim, {"messages": user("a code"), "structured_outputs": {"regex": pattern}})
    assert re.fullmatch(pattern.replace("[[:alpha:]]", "[A-Za-z]"), content_of(reply))


async def test_a_choice_reply_is_the_choice_the_user_mentions_else_the_first(sim, http):
    choices = {"structured_outputs": {"choice": ["positive", "negative", "neutral"]}}
    assert content_of(await chat(http, sim, {"messages": user("negative or positive?"), **choices})) == "negative"
    assert content_of(await chat(http, sim, {"messages": user("how does this feel?"), **choices})) == "positive"


@pytest.mark.parametrize(("grammar", "language"), [
    ('root ::= "yes" | "no"', {"yes", "no"}),
    ('root ::= answer ("," answer)*\nanswer ::= "yes" | "no"', None),
    ('root ::= expr\nexpr ::= expr "+" term | term\nterm ::= [0-9]', None),
    ('start: item ("," item)*\nitem: WORD\n%import common.WORD', None),
    ('start: "a" | "b"', {"a", "b"}),
])
async def test_a_grammar_reply_is_a_sentence_of_the_grammar(sim, http, grammar, language):
    content = content_of(await chat(http, sim, {"messages": user("go"), "structured_outputs": {"grammar": grammar}}))
    if language is not None:
        assert content in language
    elif "expr" in grammar:
        assert re.fullmatch(r"[0-9](\+[0-9])*", content)
    elif "WORD" in grammar:
        assert re.fullmatch(r"[A-Za-z]+(,[A-Za-z]+)*", content)
    else:
        assert re.fullmatch(r"(yes|no)(,(yes|no))*", content)


async def test_n_choices_take_different_branches_of_a_regex(sim, http):
    reply = await chat(http, sim, {"messages": user("x"), "n": 2, "structured_outputs": {"regex": "(red|blue)"}})
    assert [c["message"]["content"] for c in reply.json["choices"]] == ["red", "blue"]


async def test_a_reasoning_reply_thinks_first_then_satisfies_the_constraint(make_sim, http):
    server = await make_sim(reasoning=True)
    reply = await chat(http, server, {"messages": user("x"), "structured_outputs": {"choice": ["up", "down"]}})
    message = reply.json["choices"][0]["message"]
    assert message["reasoning"] and message["content"].strip() == "up"


async def test_removed_guided_fields_are_ignored_with_a_200(sim, http):
    reply = await chat(http, sim, {"messages": user("pick"), "guided_choice": ["red", "blue"], "max_tokens": 5})
    assert reply.status == 200 and content_of(reply) not in ("red", "blue")


async def test_the_unconstrained_fault_ignores_the_constraint(sim, http):
    reply = await chat(http, sim, {"messages": user("pick one sim:unconstrained"),
                                   "structured_outputs": {"choice": ["red", "blue"]}})
    assert reply.status == 200 and content_of(reply) not in ("red", "blue")
    by_field = await chat(http, sim, {"messages": user("pick"), "sim_fault": "unconstrained",
                                      "response_format": {"type": "json_object"}})
    with pytest.raises(json.JSONDecodeError):
        json.loads(content_of(by_field))


async def test_the_ramble_fault_pads_json_until_max_tokens_cuts_it(sim, http):
    reply = await chat(http, sim, {"messages": user("a user sim:ramble"), "max_tokens": 30, "stream": True,
                                   "response_format": {"type": "json_schema", "json_schema": {
                                       "name": "person", "schema": PERSON}}})
    assert reply.finish()["finish_reason"] == "length"
    text = reply.text()
    assert text.startswith("{") and not text.strip("{ \n")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


async def test_a_constraint_with_a_named_tool_is_refused_like_vllm(sim, http):
    reply = await chat(http, sim, {
        "messages": user("x"), "structured_outputs": {"choice": ["a", "b"]},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    })
    assert reply.status == 400
    assert reply.json == {"error": {"message": "You can only either use constraints for structured outputs or tools, "
                                               "not both.", "type": "BadRequestError", "param": None, "code": 400}}


NONE_SPECIFIED = (
    "{'json': None, 'regex': None, 'choice': None, 'grammar': None, 'json_object': None, "
    "'disable_any_whitespace': False, 'disable_additional_properties': False, 'whitespace_pattern': None, "
    "'structural_tag': None, '_backend': None, '_backend_was_auto': False}"
)


@pytest.mark.parametrize(("extra", "message"), [
    ({"structured_outputs": {"regex": "a", "choice": ["a"]}},
     "You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice')."),
    ({"structured_outputs": {}}, "You must use one kind of structured outputs constraint but none are specified: "
     + NONE_SPECIFIED),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
     "You must use one kind of structured outputs constraint but none are specified: " + NONE_SPECIFIED),
    ({"response_format": {"type": "json_schema"}},
     "When response_format type is 'json_schema', the 'json_schema' field must be provided. "
     "(parameter=response_format)"),
    ({"structured_outputs": {"grammar": "root ::= foo"}},
     "Invalid grammar specification: Failed to convert the grammar from GBNF to Lark: Rule 'foo' not found"),
    ({"structured_outputs": {"grammar": 'root ::= "a'}},
     "Invalid grammar specification: Failed to convert the grammar from GBNF to Lark: Unexpected end of input at "
     "line 1, 'root ::= \"a' ^ ''"),
    ({"structured_outputs": {"grammar": "root ::= ("}},
     "Invalid grammar specification: Failed to convert the grammar from GBNF to Lark: Expected ')' at line 1, "
     "'root ::= (' ^ ''"),
    ({"structured_outputs": {"grammar": "start: bar"}},
     'Grammar error: at 1(8): unknown name: "bar"\n   1 | start: bar\n              ^'),
    ({"structured_outputs": {"grammar": ""}}, "structured_outputs.grammar cannot be an empty string"),
    ({"structured_outputs": {"choice": []}}, "Choice '[]' cannot be an empty list"),
    ({"structured_outputs": {"json_object": False}},
     "structured_outputs.json_object must be True if set; omit structured_outputs to disable structured outputs"),
    ({"structured_outputs": {"json": {"type": "strin"}}}, "Grammar error: Invalid type: strin"),
    ({"structured_outputs": {"json": "{bad"}}, "Invalid JSON grammar specification."),
    ({"structured_outputs": {"json": {"type": "string", "format": "weird"}}}, "Grammar error: Unknown format: weird"),
    ({"structured_outputs": {"json": {"type": "array", "uniqueItems": True}}},
     'Grammar error: Unimplemented keys: ["uniqueItems"]'),
    ({"structured_outputs": {"json": {"$ref": "#/$defs/missing"}}},
     "Grammar error: Pointer '/$defs/missing' does not exist"),
])
async def test_refused_constraints_get_vllms_message(sim, http, extra, message):
    reply = await chat(http, sim, {"messages": user("x"), "max_tokens": 5, **extra})
    assert reply.status == 400, reply.raw
    assert reply.json["error"]["message"] == message


@pytest.mark.parametrize(("pattern", "caret", "what"), [
    ("[a-", "    ^", "unclosed character class"),
    ("(ab", "    ^", "unclosed group"),
    ("ab)", "      ^", "unopened group"),
    ("a(?=b)", "     ^^^", "look-around, including look-ahead and look-behind, is not supported"),
    ("(a)\\1", "       ^^", "backreferences are not supported"),
    ("a{3,1}", "     ^^^^^", "invalid repetition count range, the start must be <= the end"),
    ("*a", "    ^", "repetition operator missing expression"),
    ("a{2", "     ^^", "unclosed counted repetition"),
    ("[z-a]", "     ^^^", "invalid character class range, the start must be <= the end"),
])
async def test_an_invalid_regex_is_refused_in_vllms_layout(sim, http, pattern, caret, what):
    reply = await chat(http, sim, {"messages": user("x"), "structured_outputs": {"regex": pattern}})
    quoted = pattern.replace("\\", "\\\\")
    assert reply.json["error"]["message"] == (
        f'Grammar error: at 1(8): invalid regex "{quoted}" (in regex): regex parse error:\n    {pattern}\n'
        f"{caret}\nerror: {what}\n   1 | start: /{pattern}/\n              ^"
    )


async def test_a_word_boundary_is_refused_as_llguidance_does(sim, http):
    reply = await chat(http, sim, {"messages": user("x"), "structured_outputs": {"regex": r"\bfoo\b"}})
    assert reply.json["error"]["message"] == (
        'Grammar error: at 1(8): invalid regex "\\\\bfoo\\\\b" (in regex): lookarounds not supported yet; '
        "WordUnicode in regex /\\bfoo\\b/\n   1 | start: /\\bfoo\\b/\n              ^"
    )


async def test_what_the_simulator_cannot_generate_is_refused_the_same_way(sim, http):
    reply = await chat(http, sim, {"messages": user("x"), "structured_outputs": {"regex": "(?i)abc"}})
    assert reply.status == 400
    assert "error: inline flags are not supported by the simulated server" in reply.json["error"]["message"]


async def test_a_refused_constraint_is_an_error_event_when_streaming(sim, http):
    reply = await chat(http, sim, {"messages": user("x"), "stream": True, "structured_outputs": {"choice": []}})
    assert reply.status == 200
    assert reply.raw == (b'data: {"error": {"message": "Choice \'[]\' cannot be an empty list", "type": '
                         b'"BadRequestError", "param": null, "code": 400}}\n\ndata: [DONE]\n\n')


async def test_response_format_type_errors_list_every_union_member(sim, http):
    reply = await chat(http, sim, {"messages": user("x"), "response_format": {"type": "xml"}})
    assert reply.json["error"]["type"] == "Bad Request" and reply.json["error"]["param"] == "body.response_format.type"
    assert reply.json["error"]["message"].startswith(
        "6 validation errors:\n  {'type': 'literal_error', 'loc': 'body.response_format.type', "
        "'msg': \"Input should be 'text', 'json_object' or 'json_schema'\", 'input': 'xml'"
    )


async def test_structured_outputs_field_types_are_checked_by_pydantic(sim, http):
    reply = await chat(http, sim, {"messages": user("x"), "structured_outputs": {"choice": ["a", 1]}})
    assert reply.json["error"]["message"] == (
        "1 validation error:\n  {'type': 'string_type', 'loc': 'body.structured_outputs.choice.1', "
        "'msg': 'Input should be a valid string', 'input': '1'}"
    )
