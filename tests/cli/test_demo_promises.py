"""`vllm-chat --demo` keeps the promises its greeting makes: every phrase the `hello` reply
tells a new user to type does what it says with the default config (the two tool calls at
once included: the demo brings its own `weather` tool), and one of them shows the
approval flow."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest

from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Message, ToolCall
from vllm_chat.core.events import TurnFailed
from vllm_chat.core.session import ChatSession
from vllm_chat.core.tools.approval import Decision
from vllm_chat.demo import demo_config, demo_settings, weather
from vllm_chat.simserver import SimServer
from vllm_chat.simserver.replies import hello


def advertised() -> list[str]:
    """The phrases in the first column of the greeting's "Type this" table."""
    return re.findall(r"^\| `([^`]+)` \|", hello("sim-chat"), flags=re.MULTILINE)


def replies(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.role == "assistant"]


def tool_messages(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.role == "tool"]


def says_help(messages: list[Message], failed: bool) -> bool:
    return not failed and "Magic phrases" in replies(messages)[-1].content


def shows_markdown(messages: list[Message], failed: bool) -> bool:
    text = replies(messages)[-1].content
    return not failed and all(mark in text for mark in ("# ", "```", "|---|", "- "))


def calls_the_calculator(messages: list[Message], failed: bool) -> bool:
    tools = tool_messages(messages)
    return (not failed and [(t.name, t.tool_status) for t in tools] == [("calculator", "ok")]
            and "391" in replies(messages)[-1].content)


def calls_two_tools_at_once(messages: list[Message], failed: bool) -> bool:
    first = replies(messages)[0]
    results = {t.name: t for t in tool_messages(messages)}
    return (not failed and sorted(c.name for c in first.tool_calls) == ["datetime", "weather"]
            and all(t.tool_status == "ok" for t in results.values()) and "Paris" in results["weather"].content)


def is_long(messages: list[Message], failed: bool) -> bool:
    reply = replies(messages)[-1]
    return not failed and reply.usage is not None and reply.usage.completion_tokens >= 1900


def thinks_first(messages: list[Message], failed: bool) -> bool:
    reply = replies(messages)[-1]
    return not failed and bool(reply.reasoning.strip()) and bool(reply.content.strip())


def fails_half_way(messages: list[Message], failed: bool) -> bool:
    reply = replies(messages)[-1]
    return failed and reply.status == "failed" and bool(reply.content.strip())


PROMISES: dict[str, Callable[[list[Message], bool], bool]] = {
    "help": says_help,
    "markdown": shows_markdown,
    "what is 17*23": calls_the_calculator,
    "weather in Paris and what time is it": calls_two_tools_at_once,
    "long 2000": is_long,
    "/think why is the sky blue": thinks_first,
    "sim:error-mid": fails_half_way,
}
"""What each advertised phrase must do (its row's second column), checked after one turn."""


def test_every_phrase_the_greeting_advertises_has_a_check_here() -> None:
    assert advertised() == list(PROMISES)


@pytest.fixture
async def demo_server():
    """The demo's server, streaming faster than a person reads (what it says is the same)."""
    async with SimServer(dataclasses.replace(demo_config(), tps=2000.0, ttft=0.05)) as server:
        yield server


@pytest.mark.parametrize("phrase", list(PROMISES))
async def test_an_advertised_phrase_does_what_the_greeting_says_with_the_default_config(demo_server,
                                                                                        phrase: str) -> None:
    asked: list[str] = []

    async def approve(call: ToolCall) -> Decision:
        asked.append(call.name)
        return Decision.ALLOW_ONCE

    settings = demo_settings(load_settings({}), demo_server.base_url, "sim-chat")
    session = ChatSession(settings, approver=approve, demo=True)
    session.add_user_message(phrase)
    events = [e async for e in session.run()]
    failed = any(isinstance(e, TurnFailed) for e in events)
    assert PROMISES[phrase](session.conversation.messages, failed), [
        (m.role, m.name, m.status, m.content[:200]) for m in session.conversation.messages]
    if phrase.startswith("weather"):
        assert asked == ["weather"], "the weather call asks for approval (the time does not)"
    else:
        assert asked == []
    await session.aclose()


def test_the_greeting_says_which_phrase_asks_for_approval() -> None:
    row = next(line for line in hello("sim-chat").splitlines() if line.startswith("| `weather"))
    assert "approval" in row


def test_the_demo_weather_tool_asks_first_and_gives_made_up_weather() -> None:
    settings = demo_settings(load_settings({}), "http://127.0.0.1:9/v1", "sim-chat")
    [entry] = [t for t in settings.tools.python if t.function == "vllm_chat.demo:weather"]
    assert entry.confirm
    assert weather("Paris") == weather(" paris ".strip().title())
    assert "made-up" in weather("Paris") and weather("Paris").startswith("Paris: ")


def test_a_weather_tool_of_the_users_own_is_kept_instead() -> None:
    own = {"tools": {"shell": [{"name": "weather", "command": ["curl", "wttr.in/{city}"],
                                "parameters": {"city": {"description": "the city"}}}]}}
    settings = demo_settings(load_settings(own), "http://127.0.0.1:9/v1", "sim-chat")
    assert settings.tools.python == []
    assert [t.name for t in settings.tools.shell] == ["weather"]
