"""The message list mounts only what is near the screen, and still behaves like one long
list: opening, scrolling, keyboard moves and streaming while scrolled up."""

from __future__ import annotations

from textual import events

from tests.support.pilot import screen_text, wait_until
from vllm_chat.core.conversation import Conversation, Message, Usage
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
        await wait_until(pilot, lambda: "question number 0" in screen_text(app))
        assert len(mounted(app)) < 40
        assert "Answer 249" not in screen_text(app)
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
        await pilot.press("alt+up", "home")
        await wait_until(pilot, lambda: focused_on(app, conv.messages[0]))
        await wait_until(pilot, lambda: "question number 0" in screen_text(app))
        await pilot.pause(0.3)
        assert focused_on(app, conv.messages[0]), "still focused once the list settled"
        await pilot.press("down", "down")
        await wait_until(pilot, lambda: focused_on(app, conv.messages[2]))
        await pilot.press("end")
        await wait_until(pilot, lambda: focused_on(app, conv.messages[-1]))
        await wait_until(pilot, lambda: "Answer 119" in screen_text(app), message="the last message in view")
        await pilot.pause(0.3)
        assert focused_on(app, conv.messages[-1])
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is app.chat.prompt)
        await pilot.press("o", "k")
        assert app.chat.prompt.text == "ok", "keys reach the prompt again"


async def test_a_reply_streams_while_the_user_reads_higher_up(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, conversation=long_conversation(100)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models and "Answer 99" in screen_text(app))
        app.chat.prompt.load_text("echo the newest reply")
        app.chat.prompt.action_submit()
        await wait_until(pilot, lambda: not app.session.running and
                         app.session.conversation.messages[-1].content == "the newest reply")
        await wait_until(pilot, lambda: "the newest reply" in screen_text(app))
        messages = app.chat.messages
        app.chat.prompt.load_text("long 600")
        app.chat.prompt.action_submit()
        await wait_until(pilot, lambda: app.session.running and messages.current is not None)
        messages.scroll_to(y=messages.max_scroll_y // 2, animate=False, immediate=True)
        await pilot.pause(0.2)
        reading = messages.scroll_y
        shown = screen_text(app)
        assert app.session.running, "still streaming while the user reads"
        await wait_until(pilot, lambda: not app.session.running, timeout=20)
        await pilot.pause(0.2)
        assert abs(messages.scroll_y - reading) <= 1, "the view stayed where the user was reading"
        assert screen_text(app).splitlines()[3:10] == shown.splitlines()[3:10]
        assert messages.current is None
        messages.scroll_end(animate=False)
        await wait_until(pilot, lambda: "long reply" in screen_text(app).lower() or
                         app.session.conversation.messages[-1].content[-20:].strip()[:10] in screen_text(app))


async def test_quick_presses_each_move_one_message(sim, make_app) -> None:
    conv = long_conversation(120)
    async with make_app(base_url=sim.base_url, conversation=conv) as (app, pilot):
        await wait_until(pilot, lambda: "Answer 119" in screen_text(app))
        await pilot.press("alt+up", "home")
        await wait_until(pilot, lambda: focused_on(app, conv.messages[0]))
        for _ in range(5):  # one burst, as key repeat sends them: no waiting in between
            app.post_message(events.Key("j", "j"))
        await wait_until(pilot, lambda: focused_on(app, conv.messages[5]), message="five presses, five moves")
        for _ in range(3):
            app.post_message(events.Key("k", "k"))
        await wait_until(pilot, lambda: focused_on(app, conv.messages[2]))
