"""Structured-output constraints: made from what a user gives, sent the way vLLM 0.32 reads
them, and checked on arrival (a reply cut at max_tokens is not a reply that does not match)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_chat.core.generation.check import check_reply, pretty_json
from vllm_chat.core.generation.constraint import Constraint, schema_name
from vllm_chat.core.generation.constraint_input import (
    ConstraintError,
    choice_constraint,
    grammar_constraint,
    json_object_constraint,
    regex_constraint,
    schema_constraint,
)

PERSON = {"title": "person", "type": "object", "properties": {"name": {"type": "string"},
                                                                "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


# -- what goes on the wire --------------------------------------------------------------------


def test_a_schema_goes_in_response_format_json_schema_with_its_name() -> None:
    body = schema_constraint(json.dumps(PERSON)).body_fields()
    assert body == {"response_format": {"type": "json_schema", "json_schema": {
        "name": "person", "schema": PERSON, "strict": True}}}


def test_any_json_object_goes_in_response_format() -> None:
    assert json_object_constraint().body_fields() == {"response_format": {"type": "json_object"}}


def test_regex_choice_and_grammar_go_in_structured_outputs_and_never_in_guided_fields(tmp_path: Path) -> None:
    (tmp_path / "yn.ebnf").write_text('root ::= "yes" | "no"\n')
    bodies = [regex_constraint("[A-Z]{3}-[0-9]{2}").body_fields(), choice_constraint("red, blue").body_fields(),
              grammar_constraint("yn.ebnf", base=tmp_path).body_fields()]
    assert bodies == [{"structured_outputs": {"regex": "[A-Z]{3}-[0-9]{2}"}},
                      {"structured_outputs": {"choice": ["red", "blue"]}},
                      {"structured_outputs": {"grammar": 'root ::= "yes" | "no"\n'}}]
    assert not any(key.startswith("guided") for body in bodies for key in json.dumps(body).split('"'))


def test_a_schema_name_is_made_safe_for_every_server() -> None:
    assert schema_name("my person (v2)") == "my_person_v2"
    assert schema_name("   ") == "schema"
    assert len(schema_name("x" * 100)) == 64


def test_a_constraint_holds_the_value_of_its_own_kind_only() -> None:
    with pytest.raises(ValueError, match="needs regex"):
        Constraint(kind="regex")
    with pytest.raises(ValueError, match="has no choices"):
        Constraint(kind="regex", regex="x", choices=["a"])


# -- from what the user gives ---------------------------------------------------------------


def test_a_schema_file_is_read_and_named_after_its_title_else_the_file(tmp_path: Path) -> None:
    (tmp_path / "person.json").write_text(json.dumps(PERSON))
    untitled = {k: v for k, v in PERSON.items() if k != "title"}
    (tmp_path / "user-record.json").write_text(json.dumps(untitled))
    titled = schema_constraint("person.json", base=tmp_path)
    assert (titled.name, titled.json_schema, titled.source) == ("person", PERSON, str(tmp_path / "person.json"))
    assert schema_constraint(str(tmp_path / "user-record.json")).name == "user-record"


def test_openai_wrappers_around_a_schema_are_unwrapped_with_their_name() -> None:
    wrapped = {"name": "card", "schema": PERSON, "strict": True}
    assert schema_constraint(json.dumps(wrapped)).name == "card"
    response_format = {"type": "json_schema", "json_schema": wrapped}
    made = schema_constraint(json.dumps(response_format))
    assert (made.name, made.json_schema) == ("card", PERSON)


@pytest.mark.parametrize(("given", "says"), [
    ("nowhere.json", "There is no schema file"),
    ('{"type": "object",', "is not valid JSON: Expecting property name enclosed in double quotes at line 1"),
    ('{"type": 5}', "not a valid JSON schema"),
    ("", "The JSON schema is empty"),
])
def test_a_schema_that_cannot_be_used_is_refused_with_the_reason(tmp_path: Path, given: str, says: str) -> None:
    with pytest.raises(ConstraintError, match=says):
        schema_constraint(given, base=tmp_path)


def test_a_schema_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConstraintError, match="a JSON schema here is a JSON object, not list"):
        schema_constraint("list.json", base=tmp_path)


def test_choices_are_split_at_commas_trimmed_and_kept_once() -> None:
    assert choice_constraint(" red ,blue,, red ").choices == ["red", "blue"]
    with pytest.raises(ConstraintError, match="empty"):
        choice_constraint(" , ")


def test_a_regex_python_cannot_compile_is_refused_before_sending() -> None:
    with pytest.raises(ConstraintError, match=r"The regex '\[A-Z' is not valid"):
        regex_constraint("[A-Z")


def test_a_grammar_comes_from_a_file_that_exists_and_has_text(tmp_path: Path) -> None:
    (tmp_path / "empty.ebnf").write_text("  \n")
    with pytest.raises(ConstraintError, match="is empty"):
        grammar_constraint("empty.ebnf", base=tmp_path)
    with pytest.raises(ConstraintError, match="There is no grammar file"):
        grammar_constraint("missing.ebnf", base=tmp_path)


# -- checking replies -------------------------------------------------------------------------


def test_a_reply_that_matches_its_schema_is_valid_against_the_schema_name() -> None:
    check = check_reply(schema_constraint(json.dumps(PERSON)), '{"name": "Ada", "age": 36}', finish_reason="stop")
    assert check.outcome == "valid" and check.badge == "valid against person"


def test_a_reply_that_breaks_its_schema_names_the_first_error_and_that_the_server_ignored_it() -> None:
    check = check_reply(schema_constraint(json.dumps(PERSON)), '{"name": "Ada", "age": "old"}',
                        finish_reason="stop")
    assert check.outcome == "invalid"
    assert check.badge == "does not match: $.age: 'old' is not of type 'integer'"
    assert check.server_ignored is not None and "ignored it" in check.server_ignored
    assert "vLLM older than 0.12" in check.server_ignored and "structured-output backend" in check.server_ignored


def test_a_reply_cut_at_max_tokens_is_not_called_a_mismatch() -> None:
    check = check_reply(schema_constraint(json.dumps(PERSON)), '{\n      "name": "Ad', finish_reason="length")
    assert check.outcome == "cut" and check.server_ignored is None
    assert check.badge == "not checked against person: cut at max_tokens before it was complete"


def test_a_reply_the_user_stopped_is_not_called_a_mismatch() -> None:
    check = check_reply(regex_constraint("[0-9]+"), "12", finish_reason=None, stopped=True)
    assert check.outcome == "valid"
    check = check_reply(regex_constraint("[0-9]+x"), "12", finish_reason=None, stopped=True)
    assert (check.outcome, check.detail) == ("cut", "stopped before it was complete")


def test_regex_and_choice_replies_are_matched_whole_with_blank_space_around_forgiven() -> None:
    code = regex_constraint("[A-Z]{3}-[0-9]{2}")
    assert check_reply(code, "\n\nPLL-23", finish_reason="stop").outcome == "valid"
    assert check_reply(code, "PLL-234", finish_reason="stop").detail == \
        "'PLL-234' is not matched by the regex [A-Z]{3}-[0-9]{2}"
    colours = choice_constraint("red,blue")
    assert check_reply(colours, "blue", finish_reason="stop").outcome == "valid"
    assert check_reply(colours, "green", finish_reason="stop").detail == "'green' is not one of red, blue"


def test_json_object_wants_an_object_and_a_grammar_is_not_checked_here() -> None:
    assert check_reply(json_object_constraint(), "[1]", finish_reason="stop").detail == "a JSON list, not an object"
    assert check_reply(json_object_constraint(), "nope", finish_reason="stop").detail.startswith("not JSON (")
    grammar = Constraint(kind="grammar", grammar='root ::= "a"', name="a.ebnf")
    assert check_reply(grammar, "zzz", finish_reason="stop").outcome == "unchecked"


def test_an_empty_reply_that_finished_does_not_match() -> None:
    check = check_reply(choice_constraint("a,b"), "", finish_reason="stop")
    assert (check.outcome, check.detail) == ("invalid", "the reply is empty")


def test_json_is_pretty_printed_for_showing_and_other_text_is_not() -> None:
    assert pretty_json('{"a":1,"b":[true]}') == '{\n  "a": 1,\n  "b": [\n    true\n  ]\n}'
    assert pretty_json("{ unfinished") is None
