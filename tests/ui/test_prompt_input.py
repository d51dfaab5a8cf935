"""The prompt: Enter sends, ctrl+j adds a line, ↑ recalls, long pastes work; and the
app-level keys around it (new conversation, palette, quit)."""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult
from textual.command import CommandList, CommandPalette

from tests.support.pilot import wait_for_screen, wait_until
from vllm_chat.core.history import PromptHistory
from vllm_chat.ui.widgets.prompt_input import PromptInput


class Host(App[None]):
    def __init__(self, history: PromptHistory | None = None) -> None:
        super().__init__()
        self.sent: list[str] = []
        self.history = history

    def compose(self) -> ComposeResult:
        yield PromptInput(history=self.history)

    def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        self.sent.append(event.text)


async def test_enter_sends_and_clears_while_ctrl_j_adds_a_line() -> None:
    app = Host()
    async with app.run_test() as pilot:
        await pilot.press("h", "i", "ctrl+j", "t", "h", "e", "r", "e", "enter")
        await wait_until(pilot, lambda: app.sent == ["hi\nthere"])
        assert app.query_one(PromptInput).text == ""


async def test_enter_on_an_empty_prompt_sends_nothing() -> None:
    app = Host()
    async with app.run_test() as pilot:
        await pilot.press("enter", "space", "enter", "a", "enter")
        # Keys are handled in order: once "a" is sent, the keys before it sent nothing.
        await wait_until(pilot, lambda: app.sent)
        assert app.sent == [" a"], "the blank prompt was kept as a draft, not sent"


async def test_keys_typed_in_one_burst_are_handled_in_order() -> None:
    app = Host()
    async with app.run_test() as pilot:
        prompt = app.query_one(PromptInput)
        for key, char in [("h", "h"), ("i", "i"), ("enter", None), ("x", "x")]:
            prompt.post_message(events.Key(key, char))  # no pause in between, as from a paste or fast typist
        await wait_until(pilot, lambda: prompt.text == "x")
        assert app.sent == ["hi"]


async def test_up_on_an_empty_prompt_walks_back_through_earlier_prompts(tmp_path) -> None:
    history = PromptHistory(tmp_path / "history.jsonl")
    for text in ("first", "second\nwith two lines"):
        history.add(text)
    app = Host(PromptHistory(tmp_path / "history.jsonl"))
    async with app.run_test() as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press("up")
        await wait_until(pilot, lambda: prompt.text == "second\nwith two lines")
        await pilot.press("up")
        await wait_until(pilot, lambda: prompt.text == "first")
        await pilot.press("down")
        await wait_until(pilot, lambda: prompt.text == "second\nwith two lines")
        await pilot.press("down")
        await wait_until(pilot, lambda: prompt.text == "")


async def test_up_inside_a_multiline_draft_moves_the_cursor_instead() -> None:
    history = PromptHistory(None)
    history.add("old")
    app = Host(history)
    async with app.run_test() as pilot:
        await pilot.press("a", "ctrl+j", "b", "up")
        prompt = app.query_one(PromptInput)
        await wait_until(pilot, lambda: prompt.cursor_location[0] == 0)
        assert prompt.text == "a\nb"


async def test_sent_prompts_are_remembered_across_runs(tmp_path) -> None:
    path = tmp_path / "history.jsonl"
    app = Host(PromptHistory(path))
    async with app.run_test() as pilot:
        await pilot.press("o", "n", "e", "enter")
    assert PromptHistory(path).entries == ["one"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


async def test_a_long_multiline_paste_lands_whole_in_the_prompt() -> None:
    text = "\n".join(f"line {i}: " + "x" * 80 for i in range(2000))
    app = Host()
    async with app.run_test() as pilot:
        prompt = app.query_one(PromptInput)
        app.post_message(events.Paste(text))  # as the driver delivers it
        await wait_until(pilot, lambda: prompt.text == text)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.sent == [text])


async def test_new_conversation_clears_the_view_and_keeps_the_old_one_saved(sim, make_app) -> None:
    from vllm_chat.core.store import SessionStore

    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        app.chat.prompt.load_text("echo remember me")
        app.chat.prompt.action_submit()
        await wait_until(pilot, lambda: not app.session.running and len(app.session.conversation.messages) == 2)
        old_id = app.session.conversation.id
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.session.conversation.id != old_id)
        assert app.session.conversation.messages == []
        await wait_until(pilot, lambda: "Ask anything" in str(app.chat.messages.query_one(".welcome").render()))
        assert [m.content for m in SessionStore().load(old_id).messages] == ["echo remember me", "remember me"]


async def test_the_command_palette_offers_the_apps_commands(sim, make_app) -> None:
    from vllm_chat.ui.screens.model_picker import ModelPickerScreen

    async with make_app(base_url=sim.base_url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await pilot.press("ctrl+p")
        palette = await wait_for_screen(pilot, app, CommandPalette)
        for ch in "pick model":
            await pilot.press(ch if ch != " " else "space")
        commands = palette.query_one(CommandList)
        await wait_until(pilot, lambda: commands.highlighted is not None
                         and "Pick model" in str(commands.get_option_at_index(commands.highlighted).prompt),
                         message="Pick model highlighted in the palette")
        await pilot.press("enter")
        await wait_for_screen(pilot, app, ModelPickerScreen)


async def test_ctrl_q_quits_cleanly(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: app.return_value == 0 or not app.is_running)
