"""In the app: a regenerated reply or an edited prompt shows `‹ 2/2 ›` and ←/→ move between the
versions, with the conversation below following; a fork from a message (key or palette) starts a
new session; and a second window's changes are shown (reload offer, merge notices, and a change
that can't be merged saving this window's version as a session of its own)."""

from __future__ import annotations

from tests.support.pilot import (
    focus_last_message,
    notes,
    run_command,
    screen_text,
    turn,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.core.conversation import Message
from vllm_chat.core.store import SessionStore
from vllm_chat.ui.screens.pick_list import PickListScreen
from vllm_chat.ui.screens.text_edit import TextEditScreen
from vllm_chat.ui.widgets.message_views import MessageView


def shown(app) -> list[str]:
    return [m.content for m in app.session.conversation.messages]


def focused_message(app):
    return app.focused.message if isinstance(app.focused, MessageView) else None


def notices(app) -> str:
    """Every notification shown so far, one per line (expired toasts included)."""
    return notes(app)


async def focus_message(app, pilot, index: int) -> None:
    """Focus the message at `index` from the keyboard: alt+up to the last one, then ↑ until there."""
    messages = app.session.conversation.messages
    target = messages[index]
    await focus_last_message(app, pilot)
    await pilot.press(*["up"] * (len(messages) - 1 - messages.index(target)))
    await wait_until(pilot, lambda: focused_message(app) is target, message=f"the focus on {target.content!r}")


async def regenerated(app, pilot) -> None:
    """Regenerate the last reply and wait for the new one."""
    before = app.session.conversation.messages[-1]
    await focus_last_message(app, pilot)
    await pilot.press("r")
    await wait_until(pilot, lambda: not app.session.running and app.session.conversation.messages[-1] is not before
                     and app.session.conversation.messages[-1].status == "complete", message="the new reply")


async def test_a_regenerated_reply_shows_2_of_2_and_left_right_switch_versions(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo same question")
        first = app.session.conversation.messages[-1]
        first.content = "the first answer"  # to tell the versions apart on screen
        await regenerated(app, pilot)
        second = app.session.conversation.messages[-1]
        await wait_until(pilot, lambda: "‹ 2/2 ›" in screen_text(app), message="the version mark")
        await focus_last_message(app, pilot)
        await wait_until(pilot, lambda: "← → other versions" in screen_text(app), message="the keys, when focused")
        await pilot.press("left")
        await wait_until(pilot, lambda: shown(app) == ["echo same question", "the first answer"])
        await wait_until(pilot, lambda: "‹ 1/2 ›" in screen_text(app) and "the first answer" in screen_text(app))
        assert focused_message(app) is first, "the message keeps the focus"
        await pilot.press("left")  # no version before the first
        assert shown(app) == ["echo same question", "the first answer"]
        await pilot.press("right")
        await wait_until(pilot, lambda: app.session.conversation.messages[-1] is second)
        saved = SessionStore().load(app.session.conversation.id)
        assert saved.messages[-1].id == second.id and [m.id for m in saved.aside] == [first.id]


async def test_switching_an_edited_prompt_brings_back_its_own_replies(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo alpha")
        await turn(app, pilot, "echo beta")
        await turn(app, pilot, "echo more")
        await focus_message(app, pilot, 2)  # echo beta
        await pilot.press("e")
        await wait_for_screen(pilot, app, TextEditScreen)
        app.screen.query_one("#edit-message-text").load_text("echo gamma")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not app.session.running and shown(app)[-1] == "gamma")
        assert shown(app) == ["echo alpha", "alpha", "echo gamma", "gamma"]
        await wait_until(pilot, lambda: "‹ 2/2 ›" in screen_text(app))
        await focus_message(app, pilot, 2)  # echo gamma
        await pilot.press("h")  # h: previous version, as ←
        await wait_until(pilot, lambda: shown(app) == ["echo alpha", "alpha", "echo beta", "beta", "echo more", "more"])
        await wait_until(pilot, lambda: "‹ 1/2 ›" in screen_text(app))


async def test_the_actions_menu_offers_versions_and_fork(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo q")
        await regenerated(app, pilot)
        await focus_last_message(app, pilot)
        await pilot.press("enter")
        await wait_for_screen(pilot, app, PickListScreen)
        await wait_for_text(pilot, app, "Show the previous version", "f  Fork from here into a new session",
                            absent=["Show the next version"])
        await pilot.press("escape")


async def test_f_on_a_message_forks_the_conversation_up_to_there(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo one")
        await turn(app, pilot, "echo two")
        original = app.session.conversation
        await focus_message(app, pilot, 1)  # the first reply
        await pilot.press("f")
        await wait_until(pilot, lambda: app.session.conversation is not original, message="the fork")
        fork = app.session.conversation
        assert shown(app) == ["echo one", "one"]
        assert fork.origin is not None and fork.origin.session_id == original.id
        await wait_until(pilot, lambda: "This is a new session with the first 2 messages" in notices(app))
        assert [m.content for m in SessionStore().load(original.id).messages] == [
            "echo one", "one", "echo two", "two"], "the original stays as it was"
        assert [m.content for m in SessionStore().load(fork.id).messages] == ["echo one", "one"]
        await turn(app, pilot, "echo three")
        assert [m.content for m in SessionStore().load(fork.id).messages][-1] == "three"


async def test_the_palette_forks_the_whole_conversation(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo whole")
        original = app.session.conversation
        await run_command(app, pilot, "Fork conversation")
        await wait_until(pilot, lambda: app.session.conversation is not original, message="the fork")
        assert shown(app) == ["echo whole", "whole"]
        assert {s.id for s in SessionStore().list()[0]} == {original.id, app.session.conversation.id}


async def test_a_change_made_in_another_window_is_offered_and_its_key_shows_it(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo here")
        other = SessionStore()
        theirs = other.load(app.session.conversation.id)
        theirs.add(Message(role="user", content="typed in the other window"))
        theirs.add(Message(role="assistant", content="answered in the other window"))
        other.save(theirs)
        await wait_until(pilot, lambda: "changed in another window (2 new messages). alt+r shows them" in notices(app),
                         message="the reload offer")
        await pilot.press("alt+r")
        await wait_until(pilot, lambda: "answered in the other window" in screen_text(app))
        assert shown(app) == ["echo here", "here", "typed in the other window", "answered in the other window"]


async def test_sending_after_another_window_wrote_keeps_both_and_says_where(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo start")
        other = SessionStore()
        theirs = other.load(app.session.conversation.id)
        theirs.add(Message(role="user", content="their prompt"))
        other.save(theirs)
        await turn(app, pilot, "echo mine")
        await wait_until(pilot, lambda: "1 message from another window" in notices(app),
                         message="the merge notice")
        await wait_until(pilot, lambda: "another version of message 3" in notices(app))
        await wait_until(pilot, lambda: "‹ 2/2 ›" in screen_text(app), message="the mark on the divergence")
        saved = SessionStore().load(app.session.conversation.id)
        every = [m.content for m in (*saved.messages, *saved.aside)]
        assert "their prompt" in every and "echo mine" in every and "mine" in every


async def test_continuing_a_reply_another_window_changed_too_saves_this_window_as_a_new_session(
        sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, sampling={"max_tokens": 24}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "long 400")
        original = app.session.conversation.id
        cut = app.session.conversation.messages[-1]
        assert cut.finish_reason == "length"
        other = SessionStore()  # another window continued the same reply meanwhile
        theirs = other.load(original)
        theirs.messages[-1].content += " and the other window's ending"
        other.save(theirs)
        await pilot.press("f5")  # this window continues it too: the same message, changed on both sides
        await wait_until(pilot, lambda: "can't be merged" in notices(app), message="the fork notice")
        await wait_until(pilot, lambda: not app.session.running)
        mine = app.session.conversation.id
        assert mine != original
        await wait_until(pilot, lambda: "Another window" in screen_text(app) and mine in screen_text(app)
                         and original in screen_text(app), message="the notice on screen, naming both sessions")
        said = notices(app)
        assert f"a session of its own, {mine}" in said and f"stays in session {original}" in said
        assert SessionStore().load(original).messages[-1].content.endswith(" and the other window's ending"), \
            "the other window's version is left as it wrote it"
        saved = SessionStore().load(mine)
        assert saved.origin is not None and saved.origin.session_id == original
        assert saved.messages[-1].content.startswith(cut.content[:20])
