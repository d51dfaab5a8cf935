"""Model output is text: control characters and escape sequences are shown, never obeyed."""

from __future__ import annotations

from vllm_chat.core.text import inert


def test_plain_text_newlines_and_tabs_pass_through_unchanged() -> None:
    text = "Hello\n\tworld — ünïcødé 🚀 [bold]not markup[/bold]"
    assert inert(text) is text


def test_escape_sequences_become_visible_symbols() -> None:
    shown = inert("\x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07")
    assert "\x1b" not in shown and "\x07" not in shown
    assert shown == "␛[31mred␛[0m ␛]52;c;ZXZpbA==␇"


def test_c1_controls_and_del_are_shown_as_code_points() -> None:
    assert inert("a\x9b31mb\x7f") == "a<U+009B>31mb␡"


def test_carriage_returns_are_dropped_so_nothing_can_be_overwritten() -> None:
    assert inert("line one\r\nline two\rgotcha") == "line one\nline twogotcha"
