"""What a turn sends with the generation controls set: the constraint and reasoning controls
in the chat body, a model's own chat template, the completion request of completion mode,
and the combinations refused before anything is sent."""

from __future__ import annotations

import pytest

from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.generation.completion import document
from vllm_chat.core.generation.constraint_input import (
    choice_constraint,
    regex_constraint,
)
from vllm_chat.core.generation.preflight import wire_body
from vllm_chat.core.generation.reasoning import (
    ReasoningControls,
    TemplateKwargsError,
    format_template_kwargs,
    parse_template_kwargs,
)
from vllm_chat.core.generation.requests import request_problem
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.turn_request import TurnOptions, build_request

NAMED = {"type": "function", "function": {"name": "lookup"}}
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


def conv(*texts: tuple[str, str], **fields) -> Conversation:
    c = Conversation(model="m", **fields)
    for role, text in texts:
        c.add(Message(role=role, content=text))
    return c


def body(c: Conversation, options: TurnOptions | None = None, tools=None) -> dict:
    return wire_body(build_request(c, options or TurnOptions(), c.to_openai(), tools))


def test_a_chat_request_carries_the_constraint_and_the_reasoning_controls_that_are_set() -> None:
    c = conv(("user", "hi"), constraint=choice_constraint("yes,no"),
             reasoning_controls=ReasoningControls(reasoning_effort="low", thinking_token_budget=64,
                                                  include_reasoning=False,
                                                  chat_template_kwargs={"custom": 1}))
    sent = body(c)
    assert sent["structured_outputs"] == {"choice": ["yes", "no"]}
    assert (sent["reasoning_effort"], sent["thinking_token_budget"], sent["include_reasoning"]) == ("low", 64, False)
    assert sent["chat_template_kwargs"] == {"custom": 1}


def test_controls_that_are_not_set_are_not_sent() -> None:
    sent = body(conv(("user", "hi")))
    assert not {"reasoning_effort", "thinking_token_budget", "include_reasoning", "chat_template_kwargs",
                "structured_outputs", "response_format", "chat_template"} & set(sent)


def test_the_thinking_switch_joins_the_template_kwargs_and_the_table_wins() -> None:
    c = conv(("user", "hi"), params=SamplingParams(enable_thinking=False),
             reasoning_controls=ReasoningControls(chat_template_kwargs={"custom": "x"}))
    assert body(c)["chat_template_kwargs"] == {"enable_thinking": False, "custom": "x"}
    c.reasoning_controls = ReasoningControls(chat_template_kwargs={"enable_thinking": True})
    assert body(c)["chat_template_kwargs"] == {"enable_thinking": True}


def test_a_models_chat_template_from_the_config_is_sent_with_chat_requests() -> None:
    assert body(conv(("user", "hi")), TurnOptions(chat_template="{{ messages }}"))["chat_template"] == "{{ messages }}"


def test_completion_mode_sends_the_document_with_the_same_sampling_and_no_chat_fields() -> None:
    c = conv(("user", "Once upon a time"), ("assistant", " there was a cat."), ("user", "The end?"),
             kind="completion", system_prompt="A story.", constraint=regex_constraint("[a-z ]+"),
             params=SamplingParams(temperature=0.3, top_k=5, stop=["\n\n"], enable_thinking=False),
             reasoning_controls=ReasoningControls(reasoning_effort="high"))
    request = build_request(c, TurnOptions(chat_template="t", context_window=2048), c.to_openai(), TOOLS)
    assert "messages" not in request and "tools" not in request
    sent = wire_body(request)
    assert sent["prompt"] == "A story.\nOnce upon a time there was a cat.\nThe end?"
    assert (sent["temperature"], sent["top_k"], sent["stop"]) == (0.3, 5, ["\n\n"])
    assert sent["structured_outputs"] == {"regex": "[a-z ]+"}
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == 2048  # /v1/completions would stop after 16 tokens otherwise
    assert not {"chat_template_kwargs", "reasoning_effort", "chat_template", "tool_choice"} & set(sent)


def test_completion_mode_keeps_a_max_tokens_that_is_set() -> None:
    c = conv(("user", "x"), kind="completion", params=SamplingParams(max_tokens=7))
    assert body(c, TurnOptions(context_window=2048))["max_tokens"] == 7


def test_the_document_joins_pieces_as_written_and_starts_the_users_on_a_line_of_their_own() -> None:
    assert document(conv(("user", "Q: 2+2?\nA:"), ("assistant", " 4"), ("user", "Q: 3+3?\nA:"))) == \
        "Q: 2+2?\nA: 4\nQ: 3+3?\nA:"
    assert document(conv(("user", "The cat"), ("assistant", " sat"), ("user", " on the mat"))) == \
        "The cat sat on the mat"
    assert document(conv(("user", "a\n"), ("assistant", "b\n"), ("user", "c"))) == "a\nb\nc"


# -- before sending ----------------------------------------------------------------------


def test_a_constraint_with_a_named_tool_choice_is_refused_before_sending() -> None:
    c = conv(("user", "hi"), constraint=choice_constraint("a,b"))
    problem = request_problem(build_request(c, TurnOptions(tool_choice=NAMED), c.to_openai(), TOOLS))
    assert problem is not None and problem.kind == "conflict"
    assert "You can only either use constraints for structured outputs or tools" in problem.message
    assert "Nothing was sent" in problem.hint


def test_a_constraint_with_tool_choice_required_is_refused_because_vllm_would_drop_it() -> None:
    c = conv(("user", "hi"), constraint=choice_constraint("a,b"))
    problem = request_problem(build_request(c, TurnOptions(tool_choice="required"), c.to_openai(), TOOLS))
    assert problem is not None and "silently drops" in problem.message
    assert request_problem(build_request(c, TurnOptions(tool_choice="auto"), c.to_openai(), TOOLS)) is None


def test_continuing_a_constrained_reply_is_refused_in_chat_and_completion_mode() -> None:
    for kind in ("chat", "completion"):
        c = conv(("user", "hi"), ("assistant", '{"a": '), kind=kind, constraint=choice_constraint("a,b"))
        request = build_request(c, TurnOptions(continue_last=True), c.to_openai(), None)
        problem = request_problem(request, continuing=True)
        assert problem is not None and "can't be continued" in problem.message, kind


def test_template_kwargs_that_set_request_fields_are_refused_before_sending() -> None:
    c = conv(("user", "hi"), reasoning_controls=ReasoningControls(
        chat_template_kwargs={"add_generation_prompt": True}))
    problem = request_problem(build_request(c, TurnOptions(), c.to_openai(), None))
    assert problem is not None and "add_generation_prompt" in problem.message


def test_continue_final_message_with_add_generation_prompt_is_refused() -> None:
    request = {"model": "m", "messages": [], "extra_body": {"continue_final_message": True}}
    problem = request_problem(request)
    assert problem is not None and "Cannot set both" in problem.message


def test_a_continued_reply_without_a_constraint_goes_out_as_vllm_wants_it() -> None:
    c = conv(("user", "hi"), ("assistant", "Hel"))
    request = build_request(c, TurnOptions(continue_last=True), c.to_openai(), None)
    assert request_problem(request, continuing=True) is None
    assert (wire_body(request)["continue_final_message"], wire_body(request)["add_generation_prompt"]) == (True, False)


# -- reasoning controls as typed -----------------------------------------------------------


@pytest.mark.parametrize(("typed", "table"), [
    ("", {}),
    ("enable_thinking=false", {"enable_thinking": False}),
    ("thinking = true, depth=3\nstyle=terse", {"thinking": True, "depth": 3, "style": "terse"}),
    ('{"tools_hint": ["a", "b"]}', {"tools_hint": ["a", "b"]}),
])
def test_template_kwargs_are_typed_as_key_value_pairs_or_a_json_object(typed: str, table: dict) -> None:
    assert parse_template_kwargs(typed) == table
    assert parse_template_kwargs(format_template_kwargs(table)) == table


@pytest.mark.parametrize(("typed", "says"), [
    ("enable_thinking", "write key=value"),
    ("{broken", "not valid JSON"),
    ("[1]", "write key=value"),
    ("continue_final_message=true", "vllm-chat sends them itself"),
])
def test_template_kwargs_that_are_not_a_table_say_how_to_write_one(typed: str, says: str) -> None:
    with pytest.raises(TemplateKwargsError, match=says):
        parse_template_kwargs(typed)


def test_reasoning_effort_is_one_word_and_the_summary_names_what_is_set() -> None:
    with pytest.raises(ValueError, match="reasoning_effort is one word"):
        ReasoningControls(reasoning_effort="very high")
    controls = ReasoningControls(reasoning_effort="low", thinking_token_budget=512, include_reasoning=False,
                                 chat_template_kwargs={"enable_thinking": False})
    assert controls.summary() == "effort low · budget 512 · reasoning omitted · template enable_thinking=false"
    assert ReasoningControls(reasoning_effort="  ").reasoning_effort is None
