"""Never a surprise 400: the check before sending and its ways to make room (compact, leave
out the oldest turns, leave out attachments or tools), and compaction as a turn whose
originals stay in the session file. Against the simulated vLLM over HTTP."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TEST_API_KEY
from tests.core.test_context_meter import reply_to, session_for
from vllm_chat.core.context.compaction import CompactionFinished, CompactionStarted
from vllm_chat.core.conversation import Attachment
from vllm_chat.core.events import ContentDelta, TurnStopped
from vllm_chat.core.export import to_markdown
from vllm_chat.core.session import NothingToCompact
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer

WINDOW = 2048
FILLER = "lorem ipsum dolor sit amet " * 12
BIG = "echo " + FILLER * 8
"""A prompt that no longer fits after five turns of filler (with the tool schemas)."""


async def long_session(server: SimServer, turns: int = 5, store: SessionStore | None = None, **settings):
    session = session_for(server.base_url, store=store, **settings)
    await session.connect()
    for i in range(turns):
        await reply_to(session, f"echo turn {i}: {FILLER}")
    return session


async def test_a_request_that_fits_is_sent_without_a_question() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=WINDOW)) as server:
        session = session_for(server.base_url)
        await session.connect()
        check = await session.check_send("echo short")
        assert check.fits and check.exact and not check.offers and check.max_model_len == WINDOW
        await session.aclose()


async def test_a_request_over_the_window_says_how_far_over_and_offers_every_way_out() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=WINDOW)) as server:
        session = await long_session(server)
        check = await session.check_send(BIG)
        assert not check.fits and check.exact
        assert check.over_by == check.prompt_tokens + 256 - WINDOW
        assert f"{check.prompt_tokens:,} of the model's 2,048-token context window" in check.explanation()
        assert [o.kind for o in check.offers] == ["compact", "drop", "tools", "send"]
        drop = check.offer("drop")
        assert drop is not None and drop.fits and 0 < drop.turns < 5
        assert f"the {drop.turns} oldest turn" in drop.text and "the system prompt stays" in drop.text
        assert "{toggle-tools}" in check.offer("tools").text, "steps are named by binding id"
        await session.aclose()


async def test_leaving_out_the_oldest_turns_keeps_them_in_the_session_file_and_then_it_fits() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=WINDOW)) as server:
        store = SessionStore()
        session = await long_session(server, store=store, system_prompt="Be brief.")
        check = await session.check_send(BIG)
        drop = check.offer("drop")
        first = session.conversation.messages[0].content
        record = await session.leave_out_oldest_turns(drop.turns)
        assert (await session.check_send(BIG)).fits
        assert len(record.messages) == drop.messages == 2 * drop.turns
        assert record.tokens_before > record.tokens_after
        saved = json.loads(store.path_for(session.conversation.id).read_text())
        assert saved["compactions"][0]["messages"][0]["content"] == first, "nothing is lost"
        assert session.conversation.to_openai()[0] == {"role": "system", "content": "Be brief."}
        assert session.conversation.messages[0].compaction_id == record.id
        await session.aclose()


async def test_switching_tools_off_is_offered_with_what_the_schemas_cost() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=1024)) as server:
        session = session_for(server.base_url)
        await session.connect()
        check = await session.check_send("echo " + "word " * 150)
        tools = check.offer("tools")
        assert tools is not None and tools.fits and tools.saves > 500
        session.set_tools(False)
        assert (await session.check_send("echo " + "word " * 150)).fits
        await session.aclose()


async def test_leaving_out_attachments_is_offered_when_the_message_carries_some() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=WINDOW)) as server:
        session = await long_session(server, turns=4, tools={"enabled": False})
        photo = Attachment(kind="image", name="cat.png", url="https://example.com/cat.png", width=2048, height=2048)
        check = await session.check_send(BIG, [photo])
        offer = check.offer("attachments")
        assert offer is not None and "the 1 attached to this message" in offer.text
        await session.aclose()


async def test_compaction_streams_a_summary_in_place_of_the_older_turns_and_keeps_the_originals() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=WINDOW)) as server:
        store = SessionStore()
        session = await long_session(server, turns=4, store=store, tools={"enabled": False})
        originals = list(session.conversation.messages[:4])
        events = [event async for event in session.compact()]
        assert isinstance(events[0], CompactionStarted) and events[0].messages == 4 and events[0].exact
        assert any(isinstance(e, ContentDelta) for e in events), "the summary streams"
        finished = events[-1]
        assert isinstance(finished, CompactionFinished)
        record, summary = finished.compaction, finished.message
        assert record.messages == originals and record.exact
        assert record.tokens_before > record.tokens_after
        conv = session.conversation
        assert conv.messages[0] is summary and summary.is_summary and len(conv.messages) == 5
        sent = conv.to_openai()
        assert sent[0]["role"] == "user" and sent[0]["content"].startswith("Summary of the earlier conversation")
        assert "echo turn 2" in sent[0]["content"], "the summary and the next prompt go as one user message"
        saved = json.loads(store.path_for(conv.id).read_text())
        assert [m["content"] for m in saved["compactions"][0]["messages"]] == [m.content for m in originals]
        assert saved["messages"][0]["compaction_id"] == record.id
        markdown = to_markdown(conv)
        assert "## Summary of 4 earlier messages (compacted)" in markdown
        assert session.compaction_of(summary.id) is record
        await session.aclose()


async def test_a_stopped_compaction_changes_nothing() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=WINDOW, tps=20)) as server:
        session = await long_session(server, turns=3, tools={"enabled": False})
        before = list(session.conversation.messages)
        final = None
        async for event in session.compact(keep_turns=1):
            if isinstance(event, ContentDelta):
                session.stop()
            final = event
        assert isinstance(final, TurnStopped)
        assert session.conversation.messages == before and not session.conversation.compactions
        await session.aclose()


async def test_nothing_to_compact_says_so() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        session = await long_session(server, turns=2)
        with pytest.raises(NothingToCompact, match="the last 2 turns"):
            async for _ in session.compact():
                pass
        await session.aclose()


async def test_auto_compaction_is_asked_for_past_its_share_of_the_window() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=WINDOW)) as server:
        session = await long_session(server, turns=3, tools={"enabled": False}, context={"auto_compact_at": 0.15})
        check = await session.check_send("echo next")
        assert check.fits and check.auto_compact
        session.settings.context.auto_compact_at = None
        assert not (await session.check_send("echo next")).auto_compact, "off by default"
        await session.aclose()


async def test_a_withdrawn_prompt_leaves_the_conversation_as_it_was() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        session = await long_session(server, turns=1)
        before = list(session.conversation.messages)
        session.add_user_message("too long to send")
        assert session.withdraw_prompt().content == "too long to send"
        assert session.conversation.messages == before
        assert session.withdraw_prompt() is None, "only an unanswered prompt can be withdrawn"
        await session.aclose()
