"""Controlling what the conversation shows while replies stream: paging through it
without leaving the prompt, continuing a reply cut at max_tokens in place, switching
thinking on and off from the settings panel, and watching the reasoning as it streams.

All against the simulated vLLM over HTTP; slow servers (`tps`) make the mid-stream
states last long enough to look at, and every wait is a `wait_until`.
"""

from __future__ import annotations

from tests.conftest import TEST_API_KEY
from tests.support.conversations import one_exchange
from tests.support.pilot import (
    WAIT,
    focus_last_message,
    notes,
    screen_text,
    send,
    wait_for_reply,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.core.conversation import Conversation
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.pick_list import PickListScreen
from vllm_chat.ui.screens.settings import SettingsScreen
from vllm_chat.ui.widgets.markdown_view import MarkdownView
from vllm_chat.ui.widgets.message_views import AssistantMessageView, ReasoningBlock


def last(app):
    return app.session.conversation.messages[-1]


def notifications(app) -> str:
    """Every notification shown so far, one per line (expired toasts included)."""
    return notes(app)


async def connected(app, pilot) -> None:
    await wait_until(pilot, lambda: app.session.models, timeout=WAIT, message="the model list")


def streamed_text(app) -> str:
    """What the reply being streamed shows so far ('' before it starts)."""
    current = app.chat.messages.current
    return current.body.source if current is not None else ""


def from_bottom(messages) -> float:
    return messages.max_scroll_y - messages.scroll_y


def scrolled(messages) -> bool:
    """Whether a scroll (animated or not) is over."""
    return not messages.app.animator.is_being_animated(messages, "scroll_y")


# -- paging through the conversation from the prompt ------------------------------------------------


def earlier_pages() -> Conversation:
    """A conversation already several screens tall at 80×20."""
    prose = "\n\n".join(f"Paragraph {i}: continuous batching keeps the GPU busy." for i in range(30))
    return one_exchange("tell me about batching", prose)


async def test_shift_page_keys_scroll_the_conversation_while_the_prompt_keeps_focus_and_text(make_app) -> None:
    # A reply at 20 tokens/s below pages of earlier conversation: slow enough that paging
    # down catches up with it even on a loaded machine. It never ends on its own: the test
    # stops it.
    async with SimServer(SimConfig(tps=20.0, api_key=TEST_API_KEY)) as slow, \
            make_app(base_url=slow.base_url, size=(80, 20), conversation=earlier_pages()) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "long 100000")
        app.chat.prompt.load_text("a draft I am writing")
        messages = app.chat.messages
        page = messages.scrollable_content_region.height
        await wait_until(pilot, lambda: streamed_text(app) and messages.max_scroll_y > 2 * page, timeout=WAIT,
                         message="a reply streaming below several pages")
        assert messages.following
        await wait_until(pilot, lambda: from_bottom(messages) == 0, timeout=WAIT, message="the view at the bottom")

        await pilot.press("shift+pageup")
        await wait_until(pilot, lambda: from_bottom(messages) >= page - 1, timeout=WAIT,
                         message="the view to move up a page")
        assert app.session.running, "the reply is still streaming"
        assert not messages.following
        assert app.focused is app.chat.prompt and app.chat.prompt.text == "a draft I am writing"

        # Scrolled up, the view stays where the user put it while the reply grows below.
        await wait_until(pilot, lambda: scrolled(messages), timeout=WAIT, message="the scroll to end")
        held, gap = messages.scroll_y, from_bottom(messages)
        grown_from = len(streamed_text(app))
        await wait_until(pilot, lambda: len(streamed_text(app)) > grown_from + 200, timeout=WAIT,
                         message="more of the reply to arrive")
        await wait_until(pilot, lambda: from_bottom(messages) > gap, timeout=WAIT,
                         message="the new text to land below the view")
        assert abs(messages.scroll_y - held) <= 1, "a streaming reply must not drag the view down"
        assert not messages.following

        for _ in range(30):
            if messages.following:
                break
            await pilot.press("shift+pagedown")
            await wait_until(pilot, lambda: scrolled(messages), timeout=WAIT, message="the scroll to end")
        assert messages.following, "back at the bottom, the view follows again"
        assert app.focused is app.chat.prompt and app.chat.prompt.text == "a draft I am writing"

        grown_from = len(streamed_text(app))
        await wait_until(pilot, lambda: len(streamed_text(app)) > grown_from + 200, timeout=WAIT,
                         message="more of the reply to arrive")
        await wait_until(pilot, lambda: from_bottom(messages) == 0, timeout=WAIT,
                         message="the view to follow the new text to the bottom")
        assert app.session.running
        app.session.stop()
        await wait_until(pilot, lambda: not app.session.running, timeout=WAIT)


# -- continuing a reply cut at max_tokens -------------------------------------------------------------


async def test_a_reply_cut_at_max_tokens_says_so_and_f5_continues_it_in_place(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, sampling={"max_tokens": 24}) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "long 400")
        await wait_for_reply(app, pilot)
        reply = last(app)
        partial = reply.content
        assert reply.finish_reason == "length" and reply.status == "complete" and partial
        await wait_until(pilot, lambda: "cut off at max_tokens" in screen_text(app), timeout=WAIT,
                         message="the reply to be marked as cut")

        await focus_last_message(app, pilot)
        await pilot.press("enter")
        await wait_for_screen(pilot, app, PickListScreen, timeout=WAIT)
        await wait_for_text(pilot, app, "Continue this reply", "f5", timeout=WAIT)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, PickListScreen), timeout=WAIT)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is app.chat.prompt, timeout=WAIT)

        await pilot.press("f5")
        await wait_until(pilot, lambda: sim.stats.requests == 2, timeout=WAIT, message="the continue request")
        await wait_for_reply(app, pilot)
        body = sim.stats.last_request_body
        assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
        assert body["messages"][-1] == {"role": "assistant", "content": partial}
        assert body["max_tokens"] == 24

        conv = app.session.conversation
        assert [m.role for m in conv.messages] == ["user", "assistant"]
        assert last(app) is reply, "the same message grew"
        assert reply.content.startswith(partial) and len(reply.content) > len(partial)
        # Queried on every look: the view that was cut is replaced by a streaming one, and
        # for a moment the old one is still mounted while the new one is not yet.
        def shown() -> list[str]:
            return [view.body.source for view in app.chat.messages.query(AssistantMessageView)]

        await wait_until(pilot, lambda: shown() == [reply.content], timeout=WAIT,
                         message="one view, showing the reply as it grew")
        views = list(app.chat.messages.query(AssistantMessageView))
        assert len(views) == 1
        assert views[0].body.source == reply.content


# -- thinking on / off / default from the settings panel ---------------------------------------------


async def choose_thinking(app, pilot, choice: str) -> None:
    """Open the settings panel, press the thinking radio button `choice`, save."""
    await pilot.press("ctrl+s")
    screen = await wait_for_screen(pilot, app, SettingsScreen, timeout=WAIT)
    await pilot.click(f"#thinking-{choice}")
    await wait_until(pilot, lambda: screen.query_one(f"#thinking-{choice}").value, timeout=WAIT,
                     message=f"thinking {choice} to be pressed")
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen), timeout=WAIT)


async def test_thinking_chosen_in_the_settings_reaches_the_server_as_a_chat_template_kwarg(
        sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "echo as the template likes")
        await wait_for_reply(app, pilot)
        assert "chat_template_kwargs" not in sim.stats.last_request_body

        for choice, enabled in (("on", True), ("off", False)):
            await choose_thinking(app, pilot, choice)
            await send(app, pilot, f"echo thinking {choice}")
            await wait_for_reply(app, pilot)
            body = sim.stats.last_request_body
            assert body["chat_template_kwargs"] == {"enable_thinking": enabled}, choice
            assert app.session.conversation.params.enable_thinking is enabled

        await choose_thinking(app, pilot, "default")
        await send(app, pilot, "echo the template decides again")
        await wait_for_reply(app, pilot)
        assert "chat_template_kwargs" not in sim.stats.last_request_body
        assert sim.stats.requests == 4


# -- reasoning, live -------------------------------------------------------------------------------


async def test_reasoning_is_open_and_grows_while_it_streams_then_folds_when_the_answer_starts(
        make_app) -> None:
    # ~25 tokens of reasoning at 3 tokens/s: seconds of thinking to look at, even when a
    # loaded machine hands the app the tokens in bursts.
    async with SimServer(SimConfig(tps=3.0, api_key=TEST_API_KEY)) as slow, \
            make_app(base_url=slow.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "/think why is the sky blue")
        messages = app.chat.messages

        def block() -> ReasoningBlock | None:
            current = messages.current
            return current.reasoning if current is not None and current.reasoning else None

        def thinking_so_far() -> str:
            found = block()
            return found.query_one(MarkdownView).source if found is not None and found.is_mounted else ""

        def still_thinking() -> bool:
            return block() is not None and not streamed_text(app)

        def on_screen(*texts: str) -> bool:
            shown = screen_text(app)
            return all(text in shown for text in texts)

        await wait_until(pilot, lambda: still_thinking() and on_screen("The user said", "Thinking…"),
                         timeout=WAIT, message="the first reasoning on screen")
        assert still_thinking(), "the answer has not started yet"
        assert block().streaming and not block().collapsed

        seen = len(thinking_so_far())
        await wait_until(pilot, lambda: len(thinking_so_far()) > seen and on_screen("I have no"),
                         timeout=WAIT, message="more reasoning on screen")
        assert still_thinking() and not block().collapsed, "open for as long as it streams"
        assert app.focused is app.chat.prompt

        reasoning = block()
        await wait_until(pilot, lambda: streamed_text(app).strip(), timeout=WAIT,
                         message="the answer to start")
        assert reasoning.collapsed and not reasoning.streaming
        text = await wait_for_text(pilot, app, "Reasoning ·", timeout=WAIT)
        assert "I have no" not in text, "folded: only the title line shows"
        assert app.session.running, "folded while the answer still streams"
        app.session.stop()
        await wait_until(pilot, lambda: not app.session.running, timeout=WAIT)
        assert reasoning.collapsed
