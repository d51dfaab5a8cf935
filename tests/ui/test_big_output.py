"""Big output stays interactive, and in the end shows the same text.

The hostile test server sends, as fast as it can, a long Markdown table, a huge
reasoning, huge tool-call arguments, thousands of paragraphs, one enormous line and a
list nested ten deep. The reply view draws in bounded pieces over several updates (a
"drawing" line stands for the rest meanwhile), long reasoning and arguments are shown as
a tail or an excerpt with a key that opens them whole, and text after a structure too
deep for the Markdown parser is shown as plain text, never hidden. (How fast keys echo
meanwhile is measured in bench/bench_hostile_output.py, not here.)
"""

from __future__ import annotations

import json

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from tests.support.hostile import HostileServer
from tests.support.pilot import screen_text, send, wait_for_screen, wait_for_text, wait_until
from tests.support.reply_views import ReplyHost, backlog, paragraphs
from vllm_chat.core import format as fmt
from vllm_chat.ui.screens.text_view import LongText, TextViewScreen
from vllm_chat.ui.theming import ThemeBook
from vllm_chat.ui.widgets.markdown_view import MarkdownView
from vllm_chat.ui.widgets.message_views import AssistantMessageView
from vllm_chat.ui.widgets.reasoning_block import REASONING_TAIL_CHARS
from vllm_chat.ui.widgets.tool_call_panel import ARGS_FULL_CHARS, ARGS_TAIL_CHARS, ToolCallPanel


@pytest.fixture
async def hostile():
    async with HostileServer() as server:
        yield server


def last_reply(app) -> AssistantMessageView:
    return app.chat.messages.query(AssistantMessageView).last()


def drawn(app) -> bool:
    """The turn is over and the reply's view has drawn all it was given."""
    if app.session.running or not app.chat.messages.query(AssistantMessageView):
        return False
    view = last_reply(app)
    return view.body.settled and (view.reasoning is None or view.reasoning._view.settled)


async def reply_to(app, pilot, prompt: str, timeout: float = 120.0) -> AssistantMessageView:
    await wait_until(pilot, lambda: app.session.models)
    await send(app, pilot, prompt)
    await wait_until(pilot, lambda: drawn(app), timeout=timeout, message="the reply to be drawn")
    return last_reply(app)


@pytest.mark.parametrize("prompt", ["table 400", "paragraphs 3000", "say " + "word " * 20_000])
async def test_a_huge_reply_ends_up_drawn_as_exactly_the_text_received(make_app, hostile, prompt: str) -> None:
    async with make_app(base_url=hostile.base_url, api_key="", size=(100, 30)) as (app, pilot):
        view = await reply_to(app, pilot, prompt)
        message = app.session.conversation.messages[-1]
        assert view.body.source == message.content.lstrip("\n")
        tail = {"table 400": "END OF TABLE", "paragraphs 3000": "LAST PARAGRAPH"}.get(prompt, "word word")
        await wait_until(pilot, lambda: tail in screen_text(app), message=f"{tail!r} on screen")


async def test_a_long_table_is_drawn_in_pieces_under_its_header(make_app, hostile) -> None:
    async with make_app(base_url=hostile.base_url, api_key="", size=(100, 30)) as (app, pilot):
        view = await reply_to(app, pilot, "table 45")
        lines = [strip.text for strip in view.body.rendered_lines()]
        headers = [line for line in lines if line.split() == ["#", "name", "value"]]
        assert len(headers) >= 4, "each piece of the table carries the header"
        assert sum("row-" in line for line in lines) == 45, "every row is there, once"


async def test_text_after_a_list_nested_ten_deep_is_shown(make_app, hostile) -> None:
    async with make_app(base_url=hostile.base_url, api_key="") as (app, pilot):
        await reply_to(app, pilot, "nested 10")
        # What is too deep for Markdown is shown as the text it is.
        await wait_for_text(pilot, app, "AFTER THE LIST", "- level 10")


async def test_a_huge_reasoning_shows_its_tail_and_opens_whole(make_app, hostile) -> None:
    async with make_app(base_url=hostile.base_url, api_key="") as (app, pilot):
        view = await reply_to(app, pilot, "reasoning 300000")
        block = view.reasoning
        message = app.session.conversation.messages[-1]
        assert block is not None and block.truncated and len(message.reasoning) >= 300_000
        assert len(block._view.source) <= REASONING_TAIL_CHARS, "only the tail is drawn"
        assert block._view.source.strip() and message.reasoning.endswith(block._view.source)
        block.toggle()
        await wait_until(pilot, lambda: "the last 6.0k shown (o opens it all)" in screen_text(app))
        view.focus()
        await pilot.press("o")
        viewer = await wait_for_screen(pilot, app, TextViewScreen)
        assert viewer.query_one(LongText).text == message.reasoning
        await pilot.press("end")
        await wait_until(pilot, lambda: "thinking about it more" in screen_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TextViewScreen))


async def test_huge_tool_call_arguments_show_an_excerpt_and_open_whole(make_app, hostile) -> None:
    async with make_app(base_url=hostile.base_url, api_key="", tools={"builtins": ["read_file"]}) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "tool-args 200000")
        await wait_until(pilot, lambda: not app.session.running and app.chat.messages.query(ToolCallPanel),
                         timeout=120)
        panel = app.chat.messages.query(ToolCallPanel).first()
        call = next(m for m in app.session.conversation.messages if m.tool_calls).tool_calls[0]
        assert len(call.arguments) > 200_000 and panel.arguments == call.arguments
        shown = str(panel._args.render())
        assert len(shown) < 3 * ARGS_FULL_CHARS and "more characters of the arguments" in shown
        assert "(o opens them all)" in shown
        panel.focus()
        await pilot.press("o")
        viewer = await wait_for_screen(pilot, app, TextViewScreen)
        assert json.loads(viewer.query_one(LongText).text) == json.loads(call.arguments)


async def test_text_that_arrives_faster_than_it_can_be_drawn_is_drawn_over_several_updates() -> None:
    text = paragraphs(4_000)
    async with backlog(ReplyHost(), text) as (pilot, view):
        assert not view.settled, "one update drew only part of it"
        assert "… drawing (" in view.rendered_lines()[-1].text, "a line stands for what is not drawn yet"
        await wait_until(pilot, lambda: view.settled, timeout=120)
        assert view.source == text.lstrip("\n")
        assert sum(1 for strip in view.rendered_lines() if strip.text.startswith("Paragraph")) == 4_000


async def test_a_huge_reply_drawn_again_at_a_new_width_shows_its_old_lines_until_it_is_done() -> None:
    async with backlog(ReplyHost(), paragraphs(3_000)) as (pilot, view):
        await wait_until(pilot, lambda: view.settled, timeout=120, message="the reply drawn at 80 columns")
        width = view._width
        view._ensure_rendered(width - 20)  # the terminal got narrower: everything is drawn again
        assert not view.settled, "a redraw of 3,000 paragraphs takes more than one step"
        bottom = view.render_line(view._height() - 1)
        assert bottom.text.strip() == "Paragraph 2999 with some markup in it.", "the end is not blank meanwhile"
        assert bottom.cell_length == width - 20
        await wait_until(pilot, lambda: view.settled, timeout=120, message="the redraw")
        assert view.rendered_lines()[-1].text.strip() == "Paragraph 2999 with some markup in it."
        assert view._stale is None


class SlowBlocks(MarkdownView):
    """A view whose every block takes at least 1 ms to draw, counting blocks per step."""

    def __init__(self) -> None:
        super().__init__(streaming=True)
        self.per_step: list[int] = []

    def _flush(self, *, repaint: bool = True) -> None:
        self.per_step.append(0)
        super()._flush(repaint=repaint)

    def _render_block(self, block):  # type: ignore[no-untyped-def]
        import time

        time.sleep(0.001)
        if self.per_step:
            self.per_step[-1] += 1
        return super()._render_block(block)


class SlowHost(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield SlowBlocks()


async def test_a_backlog_is_drawn_in_short_steps_and_repainted_only_now_and_then() -> None:
    # 600 paragraphs at once, each >= 1 ms to draw: a step draws at most WORK_BUDGET's worth
    # (5 ms: five or six blocks), the loop is free between steps, and the screen is repainted
    # a few times a second rather than after every step. In the end all is drawn.
    text = "".join(f"Paragraph {i}.\n\n" for i in range(600))
    app = SlowHost()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(SlowBlocks)
        await pilot.pause()
        steps, repaints = view.work_steps, view.repaints
        view.append(text)
        view.finish()
        await wait_until(pilot, lambda: view.settled, timeout=120)
        assert view.source == text.lstrip("\n")
        drawn_per_step = [n for n in view.per_step if n]
        assert sum(drawn_per_step) >= 600 and len(drawn_per_step) >= 60, "many short steps"
        assert max(drawn_per_step) <= 7, f"blocks drawn in one step: {max(drawn_per_step)}"
        assert view.repaints - repaints <= (view.work_steps - steps) / 10 + 2, "repainted now and then"
        assert view.rendered_lines()[-1].text.strip() == "Paragraph 599."


class PanelHost(App[None]):
    def __init__(self) -> None:
        self.themes = ThemeBook("vllm-night")  # before App.__init__, which reads the variables
        super().__init__()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return self.themes.app_variables(self)

    def on_mount(self) -> None:
        self.themes.register_all(self)

    def compose(self) -> ComposeResult:
        yield ToolCallPanel(0, "write_file", "call-1")


async def test_streaming_tool_arguments_are_redrawn_from_their_tail_never_joined_whole() -> None:
    # 2,000 fragments of 500 characters: each redraw shows the last ARGS_TAIL_CHARS under a
    # note counting what came before, and joins only the fragments that hold that tail
    # (joining megabytes at every redraw made a 5 MB call cost O(all) per frame).
    app = PanelHost()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.query_one(ToolCallPanel)
        for i in range(2_000):
            panel.add_fragment(None, None, f"{i:06d}" + "x" * 494)
            if i % 400 == 0:
                await pilot.pause(0.1)
        await wait_until(pilot, lambda: "001999" in str(panel._args.render()), message="the newest fragment shown")
        shown = str(panel._args.render())
        assert f"{fmt.count(1_000_000 - ARGS_TAIL_CHARS)} characters of the arguments before this" in shown
        assert len(panel._parts) == 2_000, "the fragments were never joined while streaming"
        assert len(panel.arguments) == 1_000_000 and panel.arguments.endswith("x" * 494)
