"""Titles: made from the first prompt, or asked of the model and cleaned up."""

from __future__ import annotations

import pytest

from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.titles import (
    clean_model_title,
    title_from_prompt,
    title_request_messages,
)

# --- titles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "title"),
    [
        ("How do I reverse a list in Python?", "How do I reverse a list in Python?"),
        ("\n\n   first   line \n second line", "first line"),
        ("", "New chat"),
        ("   \n\t ", "New chat"),
        ("Explain the difference between processes and threads in operating systems, with examples",
         "Explain the difference between processes and threads in…"),
        ("x" * 100, "x" * 59 + "…"),
    ],
)
def test_a_title_is_made_from_the_first_prompt(prompt: str, title: str) -> None:
    assert title_from_prompt(prompt) == title
    assert len(title_from_prompt(prompt)) <= 60


def test_the_title_request_shows_the_model_the_start_of_the_conversation() -> None:
    conv = Conversation(messages=[
        Message(role="user", content="What is 6*7? Also look at these."),
        Message(role="assistant", content="", tool_calls=[]),
        Message(role="assistant", content="It is 42. The file is", status="stopped"),
        Message(role="user", content="Try again"),
    ])
    messages = title_request_messages(conv)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "title" in messages[0]["content"].lower()
    assert "What is 6*7? Also look at these." in messages[1]["content"]
    assert "It is 42. The file is" in messages[1]["content"]
    long = Conversation(messages=[Message(role="user", content="y" * 50_000)])
    assert len(title_request_messages(long)[1]["content"]) < 3000


@pytest.mark.parametrize(
    ("reply", "title"),
    [
        ("Reversing Lists in Python", "Reversing Lists in Python"),
        ('"Reversing Lists in Python"', "Reversing Lists in Python"),
        ("Title: Reversing Lists", "Reversing Lists"),
        ("**Title:** *Reversing Lists*", "Reversing Lists"),
        ("# Reversing Lists.", "Reversing Lists"),
        ("<think>The user wants a title.\nMaybe this.</think>\n\n“Boiling Eggs”", "Boiling Eggs"),
        ("Okay, a short title.\n</think>\nBoiling Eggs", "Boiling Eggs"),
        ("\n\nBoiling Eggs\nThis title captures the topic.", "Boiling Eggs"),
        ("A " + "very " * 15 + "long title", "A " + "very " * 10 + "very…"),
        ("Snake_case and __dunder__ names", "Snake_case and dunder names"),
        ("- `pip` vs ~~conda~~", "pip vs conda"),
        ("Sure! " + "Here is a long explanation of what this conversation is about. " * 3, None),
        ("", None),
        ("   ", None),
        ('"" ...', None),
        ("<think>still thinking when max_tokens hit", None),
        ("***", None),
    ],
)
def test_a_title_from_the_model_is_cleaned_or_refused(reply: str, title: str | None) -> None:
    assert clean_model_title(reply) == title
