"""A router in front of several vLLM replicas: a conversation's routing key (its id, in the
header `routing_header` names) rides on every request of its turns (tool rounds, continues,
regenerations, candidates), a new conversation gets another, and side requests (titles,
compaction, counting) carry none so they don't compete for the conversation's KV cache.
Off by default. The gateway records each chat request's key."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.support.gateway import Gateway
from vllm_chat.core.config import load_settings
from vllm_chat.core.events import Event, TurnFinished
from vllm_chat.core.request_view import shown
from vllm_chat.core.session import ChatSession
from vllm_chat.simserver import SimConfig, SimServer

HEADER = "x-user-id"


async def drain(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


async def test_one_conversation_keeps_one_routing_key_and_side_requests_carry_none() -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, routing_header=HEADER) as gw:
        session = ChatSession(load_settings({"base_url": gw.base_url, "routing_header": HEADER}))
        first = session.conversation.id
        try:
            session.add_user_message("what is 17*23")
            tool_turn = await drain(session.run())
            assert isinstance(tool_turn[-1], TurnFinished)
            turn_requests = len(gw.routing_keys)
            assert turn_requests == 2, "a tool round, then the answer"

            session.set_params(session.conversation.params.model_copy(update={"max_tokens": 24}))
            session.add_user_message("long 300")
            await drain(session.run())
            assert session.can_continue(), "cut at max_tokens"
            await drain(session.run(session.options(continue_last=True)))
            session.rewind_to_last_user()
            await drain(session.run())
            session.add_user_message("echo two ways")
            await drain(session.run_candidates(session.plan_candidates(2)))
            keyed = len(gw.routing_keys)

            assert await session.generate_title() is not None
            await session.count_now("and one more thing")
            await drain(session.compact(keep_turns=1))
            side = gw.routing_keys[keyed:]

            reply = next(m for m in reversed(session.conversation.messages) if m.request is not None)
            view = shown(session.request_of(reply.id))

            session.new_conversation()
            second = session.conversation.id
            session.add_user_message("echo a new conversation")
            await drain(session.run())
        finally:
            await session.aclose()
    assert gw.routing_keys[:keyed] == [first] * keyed and keyed >= 6
    assert side and side == [None] * len(side), "the title and the compaction's summary carry no key"
    assert all(HEADER not in s.headers for s in gw.seen if s.path == "/tokenize"), "nor does counting"
    assert gw.routing_keys[-1] == second != first
    assert f"{HEADER}: {first}" in view, "the request view shows the key it was sent with"


async def test_without_routing_header_no_request_carries_a_key() -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, routing_header=HEADER) as gw:
        session = ChatSession(load_settings({"base_url": gw.base_url}))
        try:
            session.add_user_message("echo hi")
            await drain(session.run())
        finally:
            await session.aclose()
    assert gw.routing_keys == [None]
