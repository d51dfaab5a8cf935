"""The context meter: the exact size of the next request from the server's /tokenize,
recounted as the draft changes, and an honest estimate when the server can't count.

Against the simulated vLLM over HTTP (its /tokenize renders the same template as chat),
with a proxy in front that breaks /tokenize on demand."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import TEST_API_KEY
from tests.support.tokenize_proxy import TokenizeProxy
from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.events import TurnFinished
from vllm_chat.core.session import ChatSession
from vllm_chat.simserver import SimConfig, SimServer


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Let the session's background work run until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        await asyncio.sleep(0.02)
    return value


def count_over(session: ChatSession) -> bool:
    """Whether the session's background count, and the tools check after an exact one, are
    over: the point after which a check that something did NOT happen means something.
    (Private state: the session has no public "idle" signal, and a fixed pause would pass
    vacuously on a slow machine.)"""
    task = session._task
    return session._timer is None and (task is None or task.done())


def session_for(base_url: str, store: Any = None, **settings: Any) -> ChatSession:
    settings.setdefault("api_key", TEST_API_KEY)
    settings.setdefault("context", {}).setdefault("recount_delay", 0.05)
    return ChatSession(load_settings({"base_url": base_url, **settings}), store=store)


async def reply_to(session: ChatSession, text: str) -> Message:
    session.add_user_message(text)
    final = None
    async for event in session.run():
        final = event
    assert isinstance(final, TurnFinished), final
    return final.message


async def test_the_meter_is_exactly_the_prompt_the_next_request_sends() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=4096)) as server:
        session = session_for(server.base_url, system_prompt="Be brief.")
        await session.connect()
        await reply_to(session, "echo an earlier turn")
        await reply_to(session, "what is 17*23")  # a tool call and its result in the history
        session.set_draft("echo what fits in the window?")
        status = await until(lambda: (s := session.status()).context_exact and session.draft and s)
        counted = status.context_used
        reply = await reply_to(session, "echo what fits in the window?")
        assert reply.usage is not None and reply.usage.prompt_tokens == counted, \
            "the meter counted exactly what the request sent (tools, system prompt, history, draft)"
        await session.aclose()


async def test_the_meter_counts_with_thinking_switched_off_as_the_request_is_sent() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, reasoning=True)) as server:
        session = session_for(server.base_url, sampling={"enable_thinking": False}, tools={"enabled": False})
        await session.connect()
        session.set_draft("why is the sky blue")
        counted = (await until(lambda: (s := session.status()).context_exact and s)).context_used
        reply = await reply_to(session, "why is the sky blue")
        assert reply.usage is not None and reply.usage.prompt_tokens == counted
        await session.aclose()


async def test_while_typing_the_meter_is_an_estimate_and_only_one_count_follows_a_burst() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server, \
            TokenizeProxy(server.base_url.removesuffix("/v1")) as proxy:
        session = session_for(proxy.base_url, context={"recount_delay": 0.3}, tools={"enabled": False})
        await session.connect()
        await until(lambda: session.status().context_exact)
        before = proxy.tokenize_calls
        draft = ""
        for word in ("a", "long", "question", "typed", "key", "by", "key", "about", "the", "KV", "cache"):
            draft += word + " "
            session.set_draft(draft)
            status = session.status()
            assert not status.context_exact and status.context_used, "an estimate while the count is pending"
            await asyncio.sleep(0.01)
        status = await until(lambda: (s := session.status()).context_exact and s)
        assert proxy.tokenize_calls == before + 1, "the pause after the burst brought one count, not one per key"
        assert status.context_note == ""
        await session.aclose()


async def test_a_server_without_tokenize_gets_an_estimate_that_says_why_and_is_not_asked_again() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server, \
            TokenizeProxy(server.base_url.removesuffix("/v1"), mode="missing") as proxy:
        session = session_for(proxy.base_url)
        await session.connect()
        status = await until(lambda: (s := session.status()).context_problem and "404" in s.context_note and s)
        assert status.context_problem == "no /tokenize" and not status.context_exact
        assert status.context_used and status.context_used > 0
        asked = proxy.tokenize_calls
        session.set_draft("more text")
        await until(lambda: count_over(session))
        assert proxy.tokenize_calls == asked, "a missing /tokenize is not asked again on every key"
        reply = await reply_to(session, "echo still works")
        assert reply.content == "still works", "chatting is not affected"
        await session.aclose()


async def test_a_refused_tokenize_is_said_and_a_failing_one_is_tried_again_on_the_next_change() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server, \
            TokenizeProxy(server.base_url.removesuffix("/v1"), mode="forbidden") as proxy:
        session = session_for(proxy.base_url)
        await session.connect()
        assert (await until(lambda: session.status().context_problem)) == "/tokenize refused"
        await session.aclose()
        proxy.mode = "failing"
        session = session_for(proxy.base_url)
        await session.connect()
        # Read at once: a recount that starts meanwhile (the connection settling) says "counting…".
        status = await until(lambda: (s := session.status()).context_problem and "500" in s.context_note and s)
        assert status.context_problem == "count failed"
        proxy.mode = "pass"
        session.set_draft("try again")
        await until(lambda: session.status().context_exact)
        assert session.status().context_problem == ""
        await session.aclose()


async def test_a_slow_tokenize_leaves_an_estimate_meanwhile_and_times_out_as_slow() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server, \
            TokenizeProxy(server.base_url.removesuffix("/v1"), mode="slow", delay=5.0) as proxy:
        session = session_for(proxy.base_url, context={"count_timeout": 1.0, "recount_delay": 0.0})
        await session.connect()
        await until(lambda: proxy.tokenize_calls)
        status = session.status()
        assert status.context_used and not status.context_exact, "an estimate while the count is under way"
        assert (await until(lambda: session.status().context_problem)) == "/tokenize slow"
        await session.aclose()


async def test_a_session_saved_without_usage_shows_its_real_size_on_open() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        session = session_for(server.base_url)
        old = Conversation(model="sim-chat", messages=[
            Message(role="user", content="tell me about paged attention " * 20),
            Message(role="assistant", content="It stores the KV cache in blocks. " * 30),
        ])
        session.open_conversation(old)
        assert session.status().context_used is None, "nothing known before the server counted"
        await session.connect()
        status = await until(lambda: (s := session.status()).context_exact and s)
        reply = await reply_to(session, "")  # an empty prompt adds no text: the same history
        assert status.context_used and status.context_used > 300
        assert abs(reply.usage.prompt_tokens - status.context_used) < 10  # the empty user turn's template
        await session.aclose()


async def test_the_breakdown_splits_the_count_into_its_parts() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=4096)) as server:
        session = session_for(server.base_url, system_prompt="You answer in one sentence.")
        await session.connect()
        await reply_to(session, "echo some history")
        session.set_draft("and now the question")
        parts_of = await session.context_breakdown()
        parts = dict(parts_of.parts)
        assert parts_of.exact and parts_of.max_model_len == 4096
        assert sum(parts.values()) == parts_of.total
        assert parts["tools"] > 500 and parts["system prompt"] > 0 and parts["history"] > 0 and parts["draft"] > 0
        assert parts["attachments"] == 0
        await session.aclose()


async def test_tools_taking_over_a_quarter_of_the_window_are_said_once_with_the_way_out() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=2048)) as server:
        session = session_for(server.base_url)
        await session.connect()
        notice = await until(lambda: session.status().context_notice)
        assert "{toggle-tools}" in notice and "of the 2,048-token context window" in notice
        await session.aclose()
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=32768)) as server:
        session = session_for(server.base_url)
        await session.connect()
        await until(lambda: session.status().context_exact and count_over(session))
        assert session.status().context_notice == "", "a big window: nothing to say"
        await session.aclose()


async def test_max_tokens_is_lowered_to_the_room_the_window_leaves_and_the_reply_says_so() -> None:
    from vllm_chat.core import format as fmt

    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=1024)) as server, \
            TokenizeProxy(server.base_url.removesuffix("/v1")) as proxy:
        session = session_for(proxy.base_url, tools={"enabled": False}, sampling={"max_tokens": 900})
        await session.connect()
        reply = await reply_to(session, "long 2000 " + "filler " * 300)
        sent = proxy.chat_requests[-1]["max_tokens"]
        assert sent < 900 and sent == reply.reply_limit
        assert reply.usage.prompt_tokens + sent == 1024, "prompt + max_tokens is exactly the window"
        assert reply.finish_reason == "length"
        assert fmt.finish_note(reply) == f"cut off: the context window left room for only {sent} tokens"
        await session.aclose()


async def test_a_mentioned_file_is_counted_before_sending_and_a_secret_looking_one_is_not_sent_to_count(
        tmp_path) -> None:
    (tmp_path / "notes.md").write_text("The quarterly figures rose in every region. " * 40)
    (tmp_path / ".env").write_text("API_KEY=sk-0123456789abcdef\n" * 40)
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=8192)) as server:
        session = ChatSession(load_settings({"base_url": server.base_url, "api_key": TEST_API_KEY,
                                             "context": {"recount_delay": 0.05}}), root=tmp_path)
        await session.connect()
        plain = (await session.count_now("echo summarise @missing.md")).tokens
        with_file = await session.count_now("echo summarise @notes.md")
        assert with_file.exact and with_file.tokens > plain + 300, "the file's text is in the count"
        secret = await session.count_now("echo summarise @.env")
        assert secret.tokens < plain + 40, "a secret-looking file is left out until the user agrees"
        session.send(session.prepare("echo summarise @notes.md", []))
        final = None
        async for event in session.run():
            final = event
        assert isinstance(final, TurnFinished) and final.message.usage is not None
        assert final.message.usage.prompt_tokens == with_file.tokens, "the count was the request sent"
        await session.aclose()


async def test_tools_of_an_mcp_server_that_connects_later_are_counted_when_they_join(tmp_path) -> None:
    from tests.core.tool_servers.conftest import stdio_server

    gate = tmp_path / "gate"  # the server answers once this exists

    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=8192)) as server:
        session = session_for(server.base_url, tools={"builtins": ["datetime"]},
                              mcp={"servers": [stdio_server("slow", "--gate", str(gate))]})
        await session.connect()
        session.set_draft("echo hello")
        before = await until(lambda: (s := session.status()).context_exact and s.context_used)
        gate.touch()
        await session.wait_for_tool_servers()
        after = await until(lambda: (s := session.status()).context_exact and s.context_used != before
                            and s.context_used, timeout=60)
        assert after > before, "the server's tool schemas are in the count once they join"
        reply = await reply_to(session, "echo hello")
        assert reply.usage is not None and reply.usage.prompt_tokens == after
        await session.aclose()


async def test_candidates_get_max_tokens_lowered_to_the_room_the_window_leaves_too() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=1024)) as server, \
            TokenizeProxy(server.base_url.removesuffix("/v1")) as proxy:
        session = session_for(proxy.base_url, tools={"enabled": False}, sampling={"max_tokens": 900})
        await session.connect()
        session.add_user_message("long 2000 " + "filler " * 300)
        events = [event async for event in session.run_candidates(session.plan_candidates(2))]
        sent = proxy.chat_requests[-1]["max_tokens"]
        replies = events[-1].messages
        assert sent < 900 and all(r.reply_limit == sent for r in replies)
        assert replies[0].usage.prompt_tokens + sent == 1024, "prompt + max_tokens is exactly the window"
        await session.aclose()
