"""The message list mounts only what is near the screen, and still behaves like one long
list: opening, scrolling, keyboard moves and streaming while scrolled up."""

from __future__ import annotations

from textual import events

from tests.conftest import TEST_API_KEY
from tests.support.pilot import (
    focus_last_message,
    screen_text,
    wait_for_stable_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.core.conversation import Conversation, Message, Usage
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.widgets.message_views import MessageView
from vllm_chat.ui.widgets.virtual import Spacer


def long_conversation(pairs: int) -> Conversation:
    conv = Conversation(model="sim-chat", title="long")
    for i in range(pairs):
        conv.add(Message(role="user", content=f"question number {i}"))
        body = f"## Answer {i}\n\nSome prose about item {i}.\n\n- a point\n- another\n\n```python\nx = {i}\n```\n"
        conv.add(Message(role="assistant", content=body, model="sim-chat",
                         usage=Usage(prompt_tokens=10, completion_tokens=20)))
    return conv


def mounted(app) -> list[MessageView]:
    return list(app.chat.messages.query_children(MessageView))


async def test_a_long_session_opens_with_only_the_last_screenful_mounted(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, conversation=long_conversation(250)) as (app, pilot):
        await wait_until(pilot, lambda: "Answer 249" in screen_text(app))
        assert 0 < len(mounted(app)) < 40
        assert app.chat.messages.query_children(Spacer), "the rest is stood in for"
        messages = app.chat.messages
        assert messages.max_scroll_y > 100 * 5, "the scrollbar covers the whole conversation"


async def test_scrolling_to_the_top_shows_the_first_messages(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, conversation=long_conversation(250)) as (app, pilot):
        await wait_until(pilot, lambda: "Answer 249" in screen_text(app))
        messages = app.chat.messages
        messages.scroll_home(animate=False, immediate=True)
        text = await wait_for_text(pilot, app, "question number 0")
        assert len(mounted(app)) < 40
        assert "Answer 249" not in text
        # The list re-measures what it mounted and keeps the view on the top message: let it
        # finish, or a late "keep the view in place" would undo the scroll below.
        await wait_for_stable_screen(pilot, app)
        messages.scroll_end(animate=False)
        await wait_until(pilot, lambda: "Answer 249" in screen_text(app))


def focused_on(app, message: Message) -> bool:
    """The focus is on a mounted view of `message`: a view unmounted after it got the
    focus would take every key (ctrl+q included) with it."""
    focused = app.focused
    return isinstance(focused, MessageView) and focused.message is message and focused.is_attached


async def test_the_keyboard_walks_to_messages_that_were_not_mounted(sim, make_app) -> None:
    conv = long_conversation(120)
    async with make_app(base_url=sim.base_url, conversation=conv) as (app, pilot):
        await wait_until(pilot, lambda: "Answer 119" in screen_text(app))
        await focus_last_message(app, pilot)
        await pilot.press("home")
        await wait_until(pilot, lambda: focused_on(app, conv.messages[0]))
        await wait_for_text(pilot, app, "question number 0")
        await wait_for_stable_screen(pilot, app)
        assert focused_on(app, conv.messages[0]), "still focused once the list settled"
        await pilot.press("down", "down")
        await wait_until(pilot, lambda: focused_on(app, conv.messages[2]))
        await pilot.press("end")
        await wait_until(pilot, lambda: focused_on(app, conv.messages[-1]))
        await wait_for_text(pilot, app, "Answer 119")  # the last message in view
        await wait_for_stable_screen(pilot, app)
        assert focused_on(app, conv.messages[-1]), "still focused once the list settled"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is app.chat.prompt)
        await pilot.press("o", "k")
        assert app.chat.prompt.text == "ok", "keys reach the prompt again"


async def test_a_reply_streams_while_the_user_reads_higher_up(make_app) -> None:
    # 50 tokens/s: a pace the app keeps up with even on a loaded machine.
    async with SimServer(SimConfig(tps=50.0, api_key=TEST_API_KEY)) as slow, \
            make_app(base_url=slow.base_url, conversation=long_conversation(100)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models and "Answer 99" in screen_text(app))
        app.chat.prompt.load_text("echo the newest reply")
        app.chat.prompt.action_submit()
        await wait_until(pilot, lambda: not app.session.running and
                         app.session.conversation.messages[-1].content == "the newest reply")
        await wait_until(pilot, lambda: "the newest reply" in screen_text(app))
        messages = app.chat.messages
        app.chat.prompt.load_text("long 100000")  # it never ends on its own: the test stops it
        app.chat.prompt.action_submit()
        await wait_until(pilot, lambda: app.session.running and messages.current is not None)
        messages.scroll_to(y=messages.max_scroll_y // 2, animate=False, immediate=True)
        # The views around the new place mount and are measured a moment later.
        shown = await unchanged_reading_lines(pilot, app)
        reading = messages.scroll_y
        arrived = len(messages.current.body.source)
        await wait_until(pilot, lambda: len(messages.current.body.source) > arrived + 500,
                         message="more of the reply to arrive while the user reads")
        assert abs(messages.scroll_y - reading) <= 1, "the view stayed where the user was reading"
        assert reading_lines(app) == shown
        app.session.stop()
        await wait_until(pilot, lambda: not app.session.running)
        await wait_for_stable_screen(pilot, app)
        assert abs(messages.scroll_y - reading) <= 1, "the view stayed where the user was reading"
        assert reading_lines(app) == shown
        assert messages.current is None
        messages.scroll_end(animate=False)
        await wait_until(pilot, lambda: "long reply" in screen_text(app).lower() or
                         app.session.conversation.messages[-1].content[-20:].strip()[:10] in screen_text(app))


def reading_lines(app) -> list[str]:
    """Lines of the conversation near the top of the screen, without the scrollbar (its
    thumb shrinks as the reply grows) or the status line (it counts tokens meanwhile)."""
    return [line[:-4] for line in screen_text(app).splitlines()[3:10]]


async def unchanged_reading_lines(pilot, app) -> list[str]:
    """`reading_lines` once three reads in a row agree and show text (a reply may stream
    off screen meanwhile)."""
    reads: list[list[str]] = []

    def agreed() -> bool:
        reads.append(reading_lines(app))
        return len(reads) >= 3 and reads[-1] == reads[-2] == reads[-3] and any(line.strip() for line in reads[-1])

    await wait_until(pilot, agreed, message="the conversation on screen to stop changing")
    return reads[-1]


async def test_quick_presses_each_move_one_message(sim, make_app) -> None:
    conv = long_conversation(120)
    async with make_app(base_url=sim.base_url, conversation=conv) as (app, pilot):
        await wait_until(pilot, lambda: "Answer 119" in screen_text(app))
        await focus_last_message(app, pilot)
        await pilot.press("home")
        await wait_until(pilot, lambda: focused_on(app, conv.messages[0]))
        for _ in range(5):  # one burst, as key repeat sends them: no waiting in between
            app.post_message(events.Key("j", "j"))
        await wait_until(pilot, lambda: focused_on(app, conv.messages[5]), message="five presses, five moves")
        for _ in range(3):
            app.post_message(events.Key("k", "k"))
        await wait_until(pilot, lambda: focused_on(app, conv.messages[2]))
