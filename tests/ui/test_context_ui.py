"""The context window in the TUI: the header's meter (exact, or ~estimate while typing and
when /tokenize is missing, slow or failing), the breakdown, the ways to make room offered
before a message that would not fit (each one, from the keyboard), and compaction.

Against the simulated vLLM over HTTP; /tokenize is broken on demand by a proxy."""

from __future__ import annotations

import re

import pytest

from tests.conftest import TEST_API_KEY
from tests.support.pilot import (
    answer_dialog,
    focus_last_message,
    notes,
    screen_text,
    wait_for_reply,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from tests.support.tokenize_proxy import TokenizeProxy
from vllm_chat.core.conversation import Attachment, Conversation, Message
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.compacted import CompactedScreen
from vllm_chat.ui.screens.context_view import ContextScreen
from vllm_chat.ui.screens.room_offers import RoomOffersScreen

FILLER = "lorem ipsum dolor sit amet " * 12
BIG = "echo " + FILLER * 8
EXACT = re.compile(r"ctx (\d[\d.k]*)/2\.0k")
ESTIMATE = re.compile(r"ctx ~(\d[\d.k]*)/2\.0k")


def header(app) -> str:
    return screen_text(app).splitlines()[0]


def filled(turns: int, *, model: str = "sim-chat", image: bool = False) -> Conversation:
    """A conversation of `turns` turns of filler (each prompt with an image when asked)."""
    photo = [Attachment(kind="image", name="cat.png", url="https://example.com/cat.png")] if image else []
    messages = []
    for i in range(turns):
        messages += [Message(role="user", content=f"question {i}: {FILLER}", attachments=list(photo)),
                     Message(role="assistant", content=f"answer {i}: {FILLER}", model=model)]
    return Conversation(model=model, messages=messages)


@pytest.fixture
async def small() -> SimServer:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=2048, tps=400)) as server:
        yield server


async def send_big(app, pilot) -> None:
    app.chat.prompt.load_text(BIG)
    app.chat.prompt.action_submit()
    await wait_for_screen(pilot, app, RoomOffersScreen)


# -- the meter ------------------------------------------------------------------------------


async def test_the_header_shows_the_exact_count_and_an_estimate_while_typing(small, make_app) -> None:
    async with make_app(base_url=small.base_url, tools={"enabled": False},
                        context={"recount_delay": 0.5}) as (app, pilot):
        await wait_until(pilot, lambda: EXACT.search(header(app)), message="an exact count")
        before = EXACT.search(header(app)).group(1)
        await pilot.press(*"tell me about paged attention")
        await wait_until(pilot, lambda: ESTIMATE.search(header(app)), message="~ while the count is pending")
        await wait_until(pilot, lambda: (m := EXACT.search(header(app))) and m.group(1) != before,
                         message="the exact count of the draft")


async def test_a_session_saved_without_usage_shows_its_real_size_when_opened(small, make_app) -> None:
    conv = filled(4)
    assert all(m.usage is None for m in conv.messages)
    async with make_app(base_url=small.base_url, conversation=conv, tools={"enabled": False}) as (app, pilot):
        found = await wait_until(pilot, lambda: EXACT.search(header(app)), message="the exact size")
        assert int(found.group(1)) > 400, "the history's real size, not 0"


async def test_its_key_shows_what_takes_the_window_part_by_part(small, make_app) -> None:
    async with make_app(base_url=small.base_url, conversation=filled(2)) as (app, pilot):
        await wait_until(pilot, lambda: EXACT.search(header(app)))
        await pilot.press("alt+c")
        await wait_for_screen(pilot, app, ContextScreen)
        await wait_for_text(pilot, app, "System prompt", "Earlier messages", "The prompt you are writing",
                            "Tool schemas", "exact: counted by the server's /tokenize", "ctrl+t switches tools off")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ContextScreen))


async def test_tools_taking_a_large_share_are_said_once_with_the_key_that_switches_them_off(small, make_app) -> None:
    async with make_app(base_url=small.base_url) as (app, pilot):
        await wait_for_text(pilot, app, "The tool schemas take", "ctrl+t switches tools off")
        notices = [n for n in app.notes_seen if "tool schemas" in n]
        assert len(notices) == 1


@pytest.mark.parametrize(("mode", "said"), [("missing", "no /tokenize"), ("failing", "count failed"),
                                             ("forbidden", "/tokenize refused")])
async def test_a_broken_tokenize_leaves_an_estimate_that_says_why(small, make_app, mode, said) -> None:
    async with TokenizeProxy(small.base_url.removesuffix("/v1"), mode=mode) as proxy:
        async with make_app(base_url=proxy.base_url) as (app, pilot):
            await wait_until(pilot, lambda: said in (line := header(app)) and ESTIMATE.search(line), message=said)
            await pilot.press("alt+c")
            await wait_for_screen(pilot, app, ContextScreen)
            await wait_for_text(pilot, app, "~ marks estimates")


async def test_a_slow_tokenize_keeps_the_estimate_and_typing_goes_on(small, make_app) -> None:
    async with TokenizeProxy(small.base_url.removesuffix("/v1"), mode="slow", delay=5.0) as proxy:
        async with make_app(base_url=proxy.base_url, context={"recount_delay": 0.0}) as (app, pilot):
            await wait_until(pilot, lambda: proxy.tokenize_calls)
            await pilot.press(*"typing while the server counts")
            assert app.chat.prompt.text == "typing while the server counts", "keys are not held up"
            await wait_until(pilot, lambda: ESTIMATE.search(header(app)), message="the estimate while it counts")
            proxy.release()  # the counts come in now, however many were held
            await wait_until(pilot, lambda: EXACT.search(header(app)), message="the slow count")


# -- the ways to make room ------------------------------------------------------------------------


async def test_a_message_that_would_not_fit_says_by_how_much_and_esc_keeps_it_for_editing(small, make_app) -> None:
    async with make_app(base_url=small.base_url, conversation=filled(5)) as (app, pilot):
        await wait_until(pilot, lambda: EXACT.search(header(app)))
        before = list(app.session.conversation.messages)
        await send_big(app, pilot)
        text = await wait_for_text(pilot, app, "Make room for this message?", "2,048-token context window",
                                   "s  Send anyway")
        for key, what in (("c", "Compact"), ("d", "Leave out the"), ("t", "Switch tools off"), ("s", "Send anyway")):
            assert re.search(rf"{key}  {what}", text), what
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.chat.prompt.text == BIG, message="the prompt back in the box")
        assert app.session.conversation.messages == before, "nothing was sent"


async def test_d_leaves_out_the_oldest_turns_and_sends(small, make_app) -> None:
    async with make_app(base_url=small.base_url, conversation=filled(12), tools={"enabled": False}) as (app, pilot):
        await wait_until(pilot, lambda: EXACT.search(header(app)))
        await send_big(app, pilot)
        await answer_dialog(pilot, "d")
        await wait_for_reply(app, pilot)
        await wait_until(pilot, lambda: "left out here to make room" in screen_text(app) or
                         "oldest turns" in notes(app))
        conv = app.session.conversation
        assert conv.compactions and conv.compactions[0].kind == "dropped"
        assert conv.messages[-1].role == "assistant" and conv.messages[-2].content == BIG


async def test_t_switches_tools_off_and_sends(small, make_app) -> None:
    async with make_app(base_url=small.base_url, conversation=filled(5)) as (app, pilot):
        await wait_until(pilot, lambda: EXACT.search(header(app)))
        await send_big(app, pilot)
        await answer_dialog(pilot, "t")
        await wait_for_reply(app, pilot)
        assert not app.session.tools_on
        await wait_until(pilot, lambda: "tools off" in header(app))


async def test_a_leaves_out_the_attachments_and_sends(make_app) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=2048, tps=400)) as server:
        conv = filled(8, model="sim-vision", image=True)
        async with make_app(base_url=server.base_url, model="sim-vision", conversation=conv,
                            tools={"enabled": False}) as (app, pilot):
            await wait_until(pilot, lambda: EXACT.search(header(app)))
            await send_big(app, pilot)
            await wait_for_text(pilot, app, "Leave out the attachments (the 8 earlier")
            await answer_dialog(pilot, "a")
            await wait_for_reply(app, pilot)
            assert app.session.media_policy is not None and app.session.media_policy.drop_all
            await wait_until(pilot, lambda: "attachments left out" in header(app))


async def test_s_sends_anyway_and_the_reply_says_the_window_cut_it(small, make_app) -> None:
    async with make_app(base_url=small.base_url, conversation=filled(5), size=(140, 32)) as (app, pilot):
        await wait_until(pilot, lambda: EXACT.search(header(app)))
        await send_big(app, pilot)
        await answer_dialog(pilot, "s")
        await wait_for_reply(app, pilot)
        await wait_until(pilot, lambda: "the context window left room for only" in screen_text(app),
                         message=f"the footer; last: {app.session.conversation.messages[-1]!r}")


async def test_c_compacts_then_sends_and_the_summary_is_marked_with_its_originals_one_key_away(
        small, make_app) -> None:
    async with make_app(base_url=small.base_url, conversation=filled(12), tools={"enabled": False},
                        size=(100, 40)) as (app, pilot):
        await wait_until(pilot, lambda: EXACT.search(header(app)))
        await send_big(app, pilot)
        await answer_dialog(pilot, "c")
        await wait_until(pilot, lambda: app.session.conversation.compactions, message="the compaction")
        await wait_for_reply(app, pilot)
        conv = app.session.conversation
        assert conv.messages[0].is_summary and conv.messages[-2].content == BIG
        await focus_last_message(app, pilot)
        await pilot.press("home")
        count = len(conv.compactions[0].messages)
        mark = re.compile(rf"Summary of {count} earlier messages \(compacted\) · 2\.\dk → \d+ tokens")
        await wait_until(pilot, lambda: mark.search(screen_text(app)), message="the summary's mark")
        await wait_until(pilot, lambda: app.focused is not None and getattr(app.focused, "message", None)
                         is conv.messages[0], message="the focus on the summary")
        await pilot.press("o")
        await wait_for_screen(pilot, app, CompactedScreen)
        await wait_for_text(pilot, app, "question 0: lorem ipsum")  # the originals are shown again


# -- compaction on its own ------------------------------------------------------------------------


async def test_slash_compact_streams_and_says_the_tokens_before_and_after(small, make_app) -> None:
    async with make_app(base_url=small.base_url, conversation=filled(6), tools={"enabled": False}) as (app, pilot):
        await wait_until(pilot, lambda: EXACT.search(header(app)))
        app.chat.prompt.load_text("/compact")
        app.chat.prompt.action_submit()
        await wait_until(pilot, lambda: "Compacted 8 earlier messages" in notes(app), message="the notice")
        notice = next(n for n in app.notes_seen if "Compacted" in n)
        before, after = re.search(r"(\S+) → (\S+) tokens", notice).groups()
        assert before != after
        await focus_last_message(app, pilot)
        await pilot.press("home")
        await wait_for_text(pilot, app, "Summary of 8 earlier messages (compacted)")


async def test_esc_stops_a_compaction_and_nothing_changes(make_app) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=2048, tps=15)) as slow:
        async with make_app(base_url=slow.base_url, conversation=filled(6), tools={"enabled": False}) as (app, pilot):
            await wait_until(pilot, lambda: EXACT.search(header(app)))
            before = list(app.session.conversation.messages)
            await pilot.press("alt+s")
            await wait_until(pilot, lambda: "compacting · streaming" in header(app), message=f"streaming {header(app)}")
            await pilot.press("escape")
            await wait_until(pilot, lambda: "Compaction stopped: nothing changed" in notes(app))
            assert app.session.conversation.messages == before and not app.session.conversation.compactions


async def test_past_the_auto_compact_share_a_message_compacts_the_conversation_first(small, make_app) -> None:
    async with make_app(base_url=small.base_url, conversation=filled(6), tools={"enabled": False},
                        context={"auto_compact_at": 0.3}) as (app, pilot):
        await wait_until(pilot, lambda: EXACT.search(header(app)))
        app.chat.prompt.load_text("echo after the summary")
        app.chat.prompt.action_submit()
        await wait_until(pilot, lambda: app.session.conversation.compactions, message="the compaction")
        await wait_for_reply(app, pilot)
        conv = app.session.conversation
        assert conv.messages[0].is_summary and conv.messages[-1].content == "after the summary"
