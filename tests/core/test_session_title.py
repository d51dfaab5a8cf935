"""A new conversation is titled from its first prompt the moment the prompt is added:
the first non-blank line, whitespace collapsed, cut to `TITLE_CHARS` on a word
boundary; later prompts never replace it, and the title is what gets saved."""

from __future__ import annotations

import json

from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Conversation
from vllm_chat.core.events import TurnFinished
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore
from vllm_chat.core.titles import TITLE_CHARS
from vllm_chat.simserver import SimConfig, SimServer


def new_session(**settings: object) -> ChatSession:
    return ChatSession(load_settings(settings or None))


def test_the_first_prompt_titles_a_new_conversation_at_once() -> None:
    session = new_session()
    assert session.conversation.title == ""
    session.add_user_message("What is KV caching?")
    assert session.conversation.title == "What is KV caching?", "set before any reply arrives"


def test_the_title_is_the_first_non_blank_line_with_its_whitespace_collapsed() -> None:
    session = new_session()
    session.add_user_message("\n   \n  Explain   the\tdifference  \nbetween a mutex and a semaphore")
    assert session.conversation.title == "Explain the difference"


def test_a_long_first_prompt_is_cut_on_a_word_boundary_with_an_ellipsis() -> None:
    prompt = "Please review this function for thread safety and tell me where the races are hiding today"
    session = new_session()
    session.add_user_message(prompt)
    title = session.conversation.title
    assert len(title) <= TITLE_CHARS and title.endswith("…")
    words = title[:-1].split(" ")
    assert words == prompt.split(" ")[: len(words)], "whole words only"


def test_a_single_huge_word_is_cut_at_the_length_limit() -> None:
    session = new_session()
    session.add_user_message("x" * 500)
    assert session.conversation.title == "x" * (TITLE_CHARS - 1) + "…"


def test_later_prompts_do_not_replace_the_title() -> None:
    session = new_session()
    session.add_user_message("First question")
    session.add_user_message("Second question")
    session.add_user_message("Third question")
    assert session.conversation.title == "First question"


def test_a_resumed_conversation_keeps_its_title() -> None:
    session = ChatSession(load_settings(), conversation=Conversation(title="Renamed by the user"))
    session.add_user_message("one more thing")
    assert session.conversation.title == "Renamed by the user"


async def test_the_title_from_the_first_prompt_is_what_the_session_file_holds() -> None:
    async with SimServer(SimConfig()) as server:
        session = ChatSession(load_settings({"base_url": server.base_url, "model": "sim-chat"}),
                              store=SessionStore())
        session.add_user_message("echo  Why is the sky blue?\nAnd the sunset red?")
        session.set_tools(False)
        events = [e async for e in session.run()]
        await session.aclose()
    assert isinstance(events[-1], TurnFinished)
    path = SessionStore().path_for(session.conversation.id)
    assert json.loads(path.read_text())["title"] == "echo Why is the sky blue?"
