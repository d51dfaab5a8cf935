"""The settings form's text → SamplingParams, refusing exactly what vLLM refuses, in its words."""

from __future__ import annotations

import pytest

from vllm_chat.core.params import SamplingParams
from vllm_chat.core.params_form import (
    NUMBER_FIELDS,
    STOP_SLOTS,
    SessionSettingsResult,
    check_form,
    decode_stop,
    encode_stop,
    max_tokens_message,
    number_texts,
    parse_number,
    parse_stop,
    stop_message,
    stop_texts,
)

ACCEPTED = [
    ("temperature", "0", 0.0), ("temperature", "2", 2.0), ("temperature", "0.7", 0.7),
    ("temperature", " 1.5 ", 1.5), ("temperature", ".5", 0.5), ("temperature", "1e-3", 0.001),
    ("top_p", "1", 1.0), ("top_p", "0.0001", 0.0001),
    ("min_p", "0", 0.0), ("min_p", "1", 1.0),
    ("repetition_penalty", "0.01", 0.01), ("repetition_penalty", "1", 1.0), ("repetition_penalty", "10", 10.0),
    ("presence_penalty", "-2", -2.0), ("presence_penalty", "2", 2.0),
    ("frequency_penalty", "-2", -2.0), ("frequency_penalty", "+2", 2.0),
    ("max_tokens", "1", 1), ("max_tokens", "4096", 4096),
    ("top_k", "-1", -1), ("top_k", "0", 0), ("top_k", "40", 40),
    ("seed", "0", 0), ("seed", "-7", -7),
    ("seed", str(2**63 - 1), 2**63 - 1), ("seed", str(-(2**63)), -(2**63)),
]


@pytest.mark.parametrize(("name", "text", "value"), ACCEPTED)
def test_values_inside_vllms_ranges_are_accepted_with_the_right_type(name, text, value) -> None:
    parsed, message = parse_number(name, text)
    assert message is None
    assert parsed == value
    assert type(parsed) is type(value), "ints stay ints, floats stay floats"


REFUSED = [
    ("temperature", "-0.1", "temperature must be in [0, 2], got -0.1."),
    ("temperature", "2.1", "temperature must be in [0, 2], got 2.1."),
    ("temperature", "5", "temperature must be in [0, 2], got 5.0."),
    ("top_p", "0", "top_p must be in (0, 1], got 0.0."),
    ("top_p", "1.1", "top_p must be in (0, 1], got 1.1."),
    ("top_p", "-0.5", "top_p must be in (0, 1], got -0.5."),
    ("min_p", "-0.01", "min_p must be in [0, 1], got -0.01."),
    ("min_p", "1.01", "min_p must be in [0, 1], got 1.01."),
    ("repetition_penalty", "0", "repetition_penalty must be greater than zero, got 0.0."),
    ("repetition_penalty", "-1", "repetition_penalty must be greater than zero, got -1.0."),
    ("presence_penalty", "-2.01", "presence_penalty must be in [-2, 2], got -2.01."),
    ("presence_penalty", "2.5", "presence_penalty must be in [-2, 2], got 2.5."),
    ("frequency_penalty", "-3", "frequency_penalty must be in [-2, 2], got -3.0."),
    ("frequency_penalty", "2.01", "frequency_penalty must be in [-2, 2], got 2.01."),
    ("max_tokens", "0", "max_tokens must be at least 1, got 0."),
    ("max_tokens", "-5", "max_tokens must be at least 1, got -5."),
    ("top_k", "-2", "top_k must be 0 (disable), or at least 1, got -2."),
    ("seed", str(2**63), f"seed must fit in a signed 64-bit integer, got {2**63}."),
    ("seed", str(-(2**63) - 1), f"seed must fit in a signed 64-bit integer, got {-(2**63) - 1}."),
]


@pytest.mark.parametrize(("name", "text", "message"), REFUSED)
def test_values_outside_vllms_ranges_get_vllms_message(name, text, message) -> None:
    assert parse_number(name, text) == (None, message)


@pytest.mark.parametrize("name", [f.name for f in NUMBER_FIELDS if not f.integer])
@pytest.mark.parametrize("text", ["abc", "1.2.3", "inf", "nan", "0x10", "1 000", "--1"])
def test_text_that_is_not_a_number_is_refused_for_float_fields(name, text) -> None:
    assert parse_number(name, text) == (None, f"{name} must be a number, got {text!r}.")


@pytest.mark.parametrize("name", [f.name for f in NUMBER_FIELDS if f.integer])
@pytest.mark.parametrize("text", ["abc", "1.5", "2.0", "1e3", "seven"])
def test_integer_fields_refuse_anything_but_a_whole_number(name, text) -> None:
    assert parse_number(name, text) == (None, f"{name} must be an integer, got {text!r}.")


def test_a_number_too_large_for_a_float_is_refused_as_not_finite() -> None:
    assert parse_number("temperature", "1e400") == (
        None, "temperature must be a finite number, got '1e400'.")


def test_a_decimal_comma_gets_a_hint_to_use_a_dot() -> None:
    _, message = parse_number("top_p", "0,9")
    assert message == "top_p must be a number (with a dot for decimals), got '0,9'."


def test_long_junk_is_cut_short_in_the_message() -> None:
    _, message = parse_number("temperature", "x" * 500)
    assert message is not None and len(message) < 80 and "…" in message


@pytest.mark.parametrize("field", NUMBER_FIELDS, ids=lambda f: f.name)
@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_field_means_the_server_default(field, text) -> None:
    assert parse_number(field.name, text) == (None, None)


@pytest.mark.parametrize("field", NUMBER_FIELDS, ids=lambda f: f.name)
def test_every_field_has_a_placeholder_naming_the_default_and_the_range(field) -> None:
    assert field.placeholder.startswith(f"{field.empty} · ") and field.accepts
    assert field.empty == ("off" if field.name == "logprobs" else "default")
    assert field.name in SamplingParams.model_fields


def test_an_empty_logprobs_field_means_off_and_a_number_asks_for_that_many_alternatives() -> None:
    logprobs = next(f for f in NUMBER_FIELDS if f.name == "logprobs")
    assert logprobs.placeholder == "off · 0–20"
    assert check_form({}).params.request_kwargs().get("logprobs") is None
    kwargs = check_form({"logprobs": "5"}).params.request_kwargs()
    assert kwargs["logprobs"] is True and kwargs["top_logprobs"] == 5
    assert check_form({"logprobs": "21"}).errors["logprobs"] == \
        "logprobs must be 0 to 20 (alternatives per token), got 21."


def test_temperature_placeholder_reads_as_in_the_issue() -> None:
    temperature = next(f for f in NUMBER_FIELDS if f.name == "temperature")
    assert temperature.placeholder == "default · 0–2"


def test_max_tokens_above_the_context_window_is_refused_like_vllm_does() -> None:
    assert max_tokens_message(32768, 32768) is None
    assert max_tokens_message(32769, 32768) == (
        "max_tokens=32769 cannot be greater than max_model_len=32768. Please request fewer output tokens.")
    assert max_tokens_message(10**9, None) is None
    assert max_tokens_message(None, 4096) is None


# -- stop strings ---------------------------------------------------------------------


def test_stop_boxes_become_a_list_and_blank_boxes_are_skipped() -> None:
    assert parse_stop(["###", "", "User:", ""]) == (["###", "User:"], None)
    assert parse_stop(["", "", "", ""]) == ([], None)


def test_stop_strings_keep_their_spaces() -> None:
    assert parse_stop([" Human:", "end "]) == ([" Human:", "end "], None)


def test_escapes_in_a_stop_box_stand_for_newline_tab_and_backslash() -> None:
    assert decode_stop(r"\n\nUser:") == "\n\nUser:"
    assert decode_stop(r"a\tb") == "a\tb"
    assert decode_stop(r"C:\\path") == "C:\\path"
    assert decode_stop(r"\d+") == r"\d+", "unknown escapes stay as typed"
    assert decode_stop(r"\x1b") == "\x1b"


@pytest.mark.parametrize("value", ["\n\nUser:", "a\tb\\n", "C:\\dir", "\r\n", "esc\x1b[0m", "\\", "plain"])
def test_encoding_a_stop_string_for_its_box_round_trips(value) -> None:
    text = encode_stop(value)
    assert "\n" not in text and "\x1b" not in text, "the box shows no raw control characters"
    assert decode_stop(text) == value


def test_four_stop_strings_are_allowed_and_five_are_refused() -> None:
    assert STOP_SLOTS == 4
    assert stop_message(["a", "b", "c", "d"]) is None
    assert stop_message(["a", "b", "c", "d", "e"]) == "stop takes at most 4 strings, got 5."
    assert parse_stop(["a", "b", "c", "d", "e"]) == ([], "stop takes at most 4 strings, got 5.")


def test_an_empty_stop_string_is_refused_with_vllms_message() -> None:
    assert stop_message(["###", ""]) == "stop cannot contain an empty string."


# -- the whole form -------------------------------------------------------------------


def test_a_valid_form_gives_sampling_params_with_the_right_types() -> None:
    check = check_form(
        {"temperature": "0.7", "top_p": "1", "max_tokens": "512", "top_k": "40", "seed": "42",
         "repetition_penalty": "", "min_p": "0.05"},
        ["###", r"\n\n", "", ""],
        False,
    )
    assert check.ok and check.errors == {}
    params = check.params
    assert params == SamplingParams(temperature=0.7, top_p=1.0, max_tokens=512, top_k=40, seed=42,
                                    min_p=0.05, stop=["###", "\n\n"], enable_thinking=False)
    assert isinstance(params.max_tokens, int) and isinstance(params.top_k, int) and isinstance(params.seed, int)
    assert isinstance(params.temperature, float) and isinstance(params.top_p, float)
    assert params.repetition_penalty is None and params.presence_penalty is None


def test_an_empty_form_leaves_everything_to_the_server() -> None:
    check = check_form({}, [], None)
    assert check.params == SamplingParams()
    assert check.params is not None and check.params.request_kwargs() == {}


def test_thinking_is_three_state() -> None:
    for value in (None, True, False):
        check = check_form({}, [], value)
        assert check.params is not None and check.params.enable_thinking is value


def test_every_invalid_field_is_reported_and_no_params_are_given() -> None:
    check = check_form({"temperature": "5", "top_k": "-2", "seed": "x", "min_p": "0.1"},
                       ["a", "b", "c", "d", "e"])
    assert not check.ok and check.params is None
    assert set(check.errors) == {"temperature", "top_k", "seed", "stop"}


def test_the_context_window_of_the_chosen_model_bounds_max_tokens() -> None:
    assert check_form({"max_tokens": "8192"}, max_model_len=8192).ok
    check = check_form({"max_tokens": "8193"}, max_model_len=8192)
    assert check.errors == {"max_tokens": "max_tokens=8193 cannot be greater than max_model_len=8192. "
                                          "Please request fewer output tokens."}


def test_stored_params_fill_the_form_and_read_back_unchanged() -> None:
    params = SamplingParams(temperature=0.7, top_p=0.95, max_tokens=300, top_k=-1, min_p=1e-05,
                            repetition_penalty=1.1, presence_penalty=-1.5, frequency_penalty=0.3,
                            seed=-(2**63), stop=["\n\nUser:", "###"], enable_thinking=True)
    numbers = number_texts(params)
    assert numbers["temperature"] == "0.7" and numbers["max_tokens"] == "300"
    boxes = stop_texts(params)
    assert boxes == [r"\n\nUser:", "###", "", ""]
    assert check_form(numbers, boxes, True).params == params


def test_cleared_fields_become_none() -> None:
    numbers = number_texts(SamplingParams(temperature=0.2, seed=5))
    numbers["temperature"] = ""
    check = check_form(numbers, [], None)
    assert check.params is not None and check.params.temperature is None and check.params.seed == 5


def test_the_result_is_a_frozen_value() -> None:
    result = SessionSettingsResult(model="m", system_prompt="", params=SamplingParams(), tools_enabled=None)
    with pytest.raises(AttributeError):
        result.model = "other"  # type: ignore[misc]
