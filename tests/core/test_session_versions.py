"""`ChatSession` and the tree, against the simulated server: a retry keeps the earlier reply as
version 1, switching versions and forking are saved at once, and neither happens while a reply
streams into the branch shown."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import TEST_API_KEY
from vllm_chat.core.config import load_settings
from vllm_chat.core.session import ChatSession, NoStore
from vllm_chat.core.store import SessionStore, StoreError
from vllm_chat.simserver import SimConfig, SimServer


@pytest.fixture
async def chat() -> AsyncIterator[ChatSession]:
    async with SimServer(SimConfig(tps=0.0, models=("sim-chat",), api_key=TEST_API_KEY)) as server:
        session = ChatSession(load_settings({"base_url": server.base_url, "api_key": TEST_API_KEY}),
                              store=SessionStore())
        await session.connect()
        yield session
        await session.aclose()


async def say(chat: ChatSession, text: str) -> None:
    chat.add_user_message(text)
    async for _ in chat.run():
        pass


async def test_a_retry_keeps_the_earlier_reply_as_version_1(chat: ChatSession) -> None:
    await say(chat, "echo the same")
    first = chat.conversation.messages[-1]
    assert chat.rewind_to_last_user()
    async for _ in chat.run():
        pass
    second = chat.conversation.messages[-1]
    assert second is not first
    assert chat.alternatives(second.id) == (2, 2)
    assert chat.versions() == {second.id: (2, 2)}
    assert chat.choose_alternative(second.id, 1) is first
    saved = SessionStore().load(chat.conversation.id)
    assert saved.messages[-1].id == first.id, "switching is saved at once"
    assert chat.step_alternative(first.id, -1) is None, "there is no version 0"
    assert chat.step_alternative(first.id, 1) is second


async def test_nothing_moves_the_shown_branch_while_a_reply_streams(chat: ChatSession) -> None:
    await say(chat, "echo one")
    chat.rewind_to_last_user()
    async for _ in chat.run():
        break  # the turn has started: the engine is writing into the shown branch
    try:
        assert chat.running
        reply = chat.conversation.messages[-1]
        with pytest.raises(RuntimeError, match="while a reply is streaming"):
            chat.choose_alternative(reply.id, 1)
        with pytest.raises(StoreError, match="still streaming"):
            chat.fork()
        with pytest.raises(RuntimeError, match="while a reply is streaming"):
            chat.reload()
    finally:
        chat.stop()


async def test_fork_continues_in_a_new_saved_session_and_leaves_the_original(chat: ChatSession) -> None:
    await say(chat, "echo one")
    await say(chat, "echo two")
    original = chat.conversation
    first_reply = original.messages[1]
    forked = chat.fork(first_reply.id)
    assert chat.conversation is forked and forked.id != original.id
    assert [m.content for m in forked.messages] == ["echo one", "one"]
    assert forked.origin is not None and forked.origin.session_id == original.id
    assert [m.content for m in SessionStore().load(original.id).messages] == ["echo one", "one", "echo two", "two"]
    assert [m.content for m in SessionStore().load(forked.id).messages] == ["echo one", "one"]
    with pytest.raises(StoreError, match="not in the shown branch"):
        chat.fork("no-such-message")


async def test_renaming_the_open_conversation_collapses_whitespace_and_is_saved(chat: ChatSession) -> None:
    await say(chat, "echo keep me")
    chat.rename_saved(chat.conversation.id, "  New   name ")
    assert SessionStore().load(chat.conversation.id).title == "New name"
    with pytest.raises(StoreError, match="can't be empty"):
        chat.rename_saved(chat.conversation.id, "  ")


def test_a_run_that_saves_nothing_can_not_fork() -> None:
    chat = ChatSession(load_settings())
    assert not chat.saves
    with pytest.raises(NoStore, match="does not save"):
        chat.fork()
