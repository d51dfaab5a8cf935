"""A reply that is only reasoning (cut at `max_tokens` while the model was still
thinking) keeps its reasoning block open, live and after a reload: folding it would
leave nothing to read."""

from __future__ import annotations

from tests.support.pilot import send, wait_for_reply, wait_until
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.ui.widgets.message_views import ReasoningBlock


async def test_a_reply_cut_while_thinking_keeps_its_reasoning_open(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, sampling={"max_tokens": 5}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "/think why is the sky blue")
        await wait_for_reply(app, pilot)
        reply = app.session.conversation.messages[-1]
        assert reply.reasoning and not reply.content and reply.finish_reason == "length"
        assert not app.chat.messages.query(ReasoningBlock).last().collapsed


async def test_a_reloaded_reply_folds_its_reasoning_only_when_there_is_an_answer(sim, make_app) -> None:
    conversation = Conversation(messages=[
        Message(role="user", content="first"),
        Message(role="assistant", content="", reasoning="only thinking", status="complete"),
        Message(role="user", content="second"),
        Message(role="assistant", content="The answer.", reasoning="thinking first", status="complete"),
    ])
    async with make_app(base_url=sim.base_url, conversation=conversation) as (app, pilot):
        await wait_until(pilot, lambda: len(app.chat.messages.query(ReasoningBlock)) == 2)
        thinking_only, answered = app.chat.messages.query(ReasoningBlock)
        assert not thinking_only.collapsed
        assert answered.collapsed
