"""Sessions from inside the app: the browser opens a saved conversation, renames reach the
open one, export writes a file, and a model-made title (when configured)."""

from __future__ import annotations

from pathlib import Path

from tests.support.pilot import screen_text, wait_for_screen, wait_until
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.store import SessionStore
from vllm_chat.ui.screens.export import ExportScreen
from vllm_chat.ui.screens.rename import RenameScreen
from vllm_chat.ui.screens.sessions import SessionBrowserScreen


def saved(title: str, text: str) -> Conversation:
    conv = Conversation(title=title, model="sim-chat")
    conv.add(Message(role="user", content=text))
    conv.add(Message(role="assistant", content=f"answer to {text}"))
    SessionStore().save(conv)
    return conv


async def test_ctrl_l_opens_the_browser_and_enter_opens_a_session(sim, make_app) -> None:
    saved("Old chat about llamas", "tell me about llamas")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await pilot.press("ctrl+l")
        await wait_for_screen(pilot, app, SessionBrowserScreen)
        await wait_until(pilot, lambda: "Old chat about llamas" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.session.conversation.title == "Old chat about llamas")
        await wait_until(pilot, lambda: "answer to tell me about llamas" in screen_text(app))
        app.chat.prompt.load_text("echo more")
        app.chat.prompt.action_submit()
        await wait_until(pilot, lambda: not app.session.running and len(app.session.conversation.messages) == 4)
        body = sim.stats.last_request_body
        assert body["messages"][0]["content"] == "tell me about llamas", "the history was resumed"


async def test_renaming_the_open_conversation_sticks(sim, make_app) -> None:
    conv = saved("Before", "hi")
    async with make_app(base_url=sim.base_url, conversation=SessionStore().load(conv.id)) as (app, pilot):
        await pilot.press("ctrl+l")
        browser = await wait_for_screen(pilot, app, SessionBrowserScreen)
        await wait_until(pilot, lambda: browser.loaded)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen))
        await pilot.press("ctrl+u", *"After", "enter")
        await wait_until(pilot, lambda: app.session.conversation.title == "After")
        await wait_until(pilot, lambda: SessionStore().load(conv.id).title == "After",
                         message="the rename saved at once, by the session")
    assert SessionStore().load(conv.id).title == "After", "and no later autosave brought the old title back"


async def test_export_writes_the_conversation_to_a_file(sim, make_app, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    conv = saved("Exported chat", "question")
    async with make_app(base_url=sim.base_url, conversation=SessionStore().load(conv.id)) as (app, pilot):
        await pilot.press("f4")
        await wait_for_screen(pilot, app, ExportScreen)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExportScreen))
    [out] = list(tmp_path.glob("vllm-chat-*.md"))
    assert "# Exported chat" in out.read_text() and "answer to question" in out.read_text()


async def test_the_model_can_title_a_new_conversation(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, sessions={"auto_title": True}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        app.chat.prompt.load_text("hello there, how are you today?")
        app.chat.prompt.action_submit()
        first = "hello there, how are you today?"
        await wait_until(pilot, lambda: app.session.conversation.title not in ("", first) and
                         not app.session.running)
        assert sim.stats.last_request_body["max_tokens"] == 24
        assert "tools" not in sim.stats.last_request_body
