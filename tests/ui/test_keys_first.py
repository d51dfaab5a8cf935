"""A typed key goes before drawing: while it is on its way to the screen, a reply view that
draws a backlog puts its next step off, and goes on once the frame that shows the key is out.

(How fast keys echo while huge replies are drawn is measured in
bench/bench_hostile_output.py, not here.)
"""

from __future__ import annotations

import asyncio
import threading
import time

from tests.support.pilot import reply_over, send, wait_until
from tests.support.reply_views import ReplyHost, backlog, paragraphs
from vllm_chat.core.store import SessionStore
from vllm_chat.ui.keys_first import KeysInFlight
from vllm_chat.ui.widgets.message_views import AssistantMessageView


def test_a_key_is_on_its_way_until_a_frame_after_the_prompt_applied_it() -> None:
    keys = KeysInFlight()
    assert not keys.waiting
    keys.arrived()
    assert keys.waiting
    keys.painted()
    assert keys.waiting, "a frame drawn before the prompt applied the key does not show it"
    keys.handled()
    keys.painted()
    assert not keys.waiting


def test_keys_typed_before_the_first_is_shown_are_waited_for_in_turn() -> None:
    keys = KeysInFlight()
    keys.arrived()
    keys.arrived()
    keys.handled()
    keys.painted()
    assert keys.waiting, "the second key is still on its way"
    keys.handled()
    keys.painted()
    assert not keys.waiting
    assert keys.seen == 2


def test_a_key_that_never_reaches_the_prompt_holds_nothing_up_for_long() -> None:
    keys = KeysInFlight()
    keys.HOLD_LIMIT = 0.0  # a key for a dialog or a binding: never applied by the prompt
    keys.arrived()
    assert not keys.waiting


async def test_work_can_wait_until_the_keys_on_their_way_are_shown() -> None:
    keys = KeysInFlight()
    keys.HOLD_LIMIT = 3600.0
    keys.arrived()
    shown = asyncio.ensure_future(keys.shown())
    await asyncio.sleep(0)
    assert not shown.done()
    keys.handled()
    keys.painted()
    await asyncio.wait_for(shown, timeout=30)


class Host(ReplyHost):
    def __init__(self) -> None:
        super().__init__()
        self.keys_in_flight = KeysInFlight()
        self.keys_in_flight.HOLD_LIMIT = 3600.0  # only the key's own frame ends the wait here


async def test_a_backlog_step_waits_for_a_key_on_its_way_and_goes_on_after_its_frame() -> None:
    text = paragraphs(3_000)
    app = Host()
    async with backlog(app, text) as (pilot, view):
        assert not view.settled, "a backlog"
        while len(view._lines) < view.KEY_WAIT_FROM:
            view._flush()  # past its first screenfuls
        keys = app.keys_in_flight
        keys.arrived()
        view._cancel_flush()
        steps = view.work_steps
        view._last_flush = time.monotonic()  # a step has just run
        view._step()
        assert view.work_steps == steps, "no drawing while the key is on its way"
        assert view._flush_handle is not None, "the step is only put off"
        keys.handled()
        keys.painted()
        view._cancel_flush()
        view._step()
        assert view.work_steps == steps + 1, "the key is on the screen: drawing goes on"
        keys.arrived()
        view._last_flush -= view.KEY_WAIT_MOST  # keys keep coming (one held down)
        view._cancel_flush()
        view._step()
        assert view.work_steps == steps + 2, "the drawing is put off, never stopped"
        keys.handled()
        keys.painted()
        await wait_until(pilot, lambda: view.settled, timeout=120, message="the backlog to be drawn")
        assert view.source == text.lstrip("\n")


async def test_a_view_draws_its_first_screenfuls_even_while_a_key_is_on_its_way() -> None:
    app = Host()
    async with backlog(app, paragraphs(3_000)) as (pilot, view):
        assert len(view._lines) < view.KEY_WAIT_FROM, "it has just begun to draw"
        app.keys_in_flight.arrived()
        view._cancel_flush()
        view._last_flush = time.monotonic()
        steps = view.work_steps
        view._step()
        assert view.work_steps == steps + 1, "the scroll that shows it reads its height"
        app.keys_in_flight.handled()
        app.keys_in_flight.painted()


def test_a_key_that_went_to_a_binding_is_not_waited_for_once_a_later_key_is_shown() -> None:
    keys = KeysInFlight()
    esc, letter = object(), object()
    keys.arrived(esc)  # esc stops a reply: the prompt never applies it
    keys.arrived(letter)
    keys.handled(letter)
    keys.painted()
    assert not keys.waiting, "keys are dealt with in order: esc went somewhere before the letter"


async def test_keys_typed_into_the_prompt_are_followed_to_the_screen(make_app, sim) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        keys = app.keys_in_flight
        keys.HOLD_LIMIT = 3600.0  # only the prompt and the frame end the wait here
        await pilot.press("h", "i")
        await wait_until(pilot, lambda: app.chat.prompt.text == "hi" and not keys.waiting,
                         message="both keys applied by the prompt and painted")
        assert keys.seen >= 2


async def test_a_prompt_sent_right_after_a_stopped_reply_is_sent_though_a_key_is_on_its_way(
        make_app, paced_sim) -> None:
    # The turn's end is never held back for keys: a prompt sent then must find the turn over
    # (a stopped turn leaves queued prompts waiting, so one queued behind it would not go).
    async with make_app(base_url=paced_sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "long 100000")
        await wait_until(pilot, lambda: app.session.conversation.messages[-1].content)
        app.keys_in_flight.HOLD_LIMIT = 5.0
        app.keys_in_flight.arrived()  # a key that goes to no prompt: on its way for 5 s
        app.chat.action_stop()
        await wait_until(pilot, lambda: reply_over(app), message="the reply stopped")
        await send(app, pilot, "echo next")
        await wait_until(pilot, lambda: app.session.conversation.messages[-1].content == "next",
                         message="the next prompt sent and answered, not queued")
        assert app.session.queued == []


async def test_the_turn_is_over_for_the_user_while_its_last_save_is_still_being_written(
        make_app, sim, monkeypatch) -> None:
    # A long history's last save is written in a thread; the prompt sent meanwhile goes out.
    from vllm_chat.core.store import sessions as store_sessions

    write = store_sessions.atomic_write
    release = threading.Event()

    def atomic_write(path, data: bytes) -> None:
        if b'"content":"first","' in data:
            release.wait(60)  # the first reply, whole: a slow disk, until the test lets it go
        write(path, data)

    monkeypatch.setattr(store_sessions, "atomic_write", atomic_write)
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        try:
            await send(app, pilot, "echo first")
            await wait_until(pilot, lambda: reply_over(app) and app.session._recorder._writing is not None,
                             message="the turn over, its last save being written")
            await send(app, pilot, "echo next")
            await wait_until(pilot, lambda: reply_over(app)
                             and app.session.conversation.messages[-1].content == "next",
                             message="the next prompt sent and answered while the save is written")
            assert app.session.queued == []
        finally:
            release.set()
        await wait_until(pilot, lambda: not app.session._recorder.dirty, message="all saved in the end")
        saved = SessionStore().load(app.session.conversation.id)
        assert [m.content for m in saved.messages] == ["echo first", "first", "echo next", "next"]


async def test_a_reply_shown_after_a_hold_shows_its_text_once(make_app, sim) -> None:
    # The turn's worker holds a reply's start back while keys are on their way (at most
    # HOLD_LIMIT), and the reply may arrive whole meanwhile. Its view starts from what the
    # reply held when it started, not from the message, which has taken in the text that the
    # deltas, still to come to the view, bring.
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)

        async def held_until_the_reply_is_in() -> None:
            messages = app.session.conversation.messages
            while messages[-1].role != "assistant" or messages[-1].status == "streaming":
                await asyncio.sleep(0.01)

        app.keys_in_flight.shown = held_until_the_reply_is_in
        await send(app, pilot, "echo said once")
        await wait_until(pilot, lambda: reply_over(app), message="the reply over")

        def shown() -> str:
            views = app.chat.messages.query(AssistantMessageView)
            return views.last().body.source if views else ""

        await wait_until(pilot, lambda: shown().strip(), timeout=10, message="the reply shown after the hold")
        assert shown() == "said once"
