"""Strips keep no memos of their own (`ui/lean_strips.py`): a line drawn is still the same
line, and drawing leaves no strip memos behind that only a full garbage collection could
free (such collections stalled the session browser for 50-100 ms at a time)."""

from __future__ import annotations

import gc

from rich.segment import Segment
from rich.style import Style
from textual.cache import FIFOCache
from textual.strip import Strip

from tests.support.conversations import one_exchange
from tests.support.pilot import screen_text, wait_until
from vllm_chat.core.conversation import Conversation
from vllm_chat.ui.lean_strips import use_lean_strips


def test_the_textual_we_run_has_the_strips_lean_strips_were_written_for() -> None:
    # If this fails, Textual changed `Strip`: read ui/lean_strips.py against the new one.
    assert use_lean_strips()
    assert Strip([Segment("x")])._crop_cache is Strip([Segment("y")])._crop_cache


def test_a_strip_without_memos_still_crops_divides_and_styles_the_same_way() -> None:
    use_lean_strips()
    strip = Strip([Segment("hello "), Segment("world", Style(bold=True))])
    for _ in range(2):  # the second time is where a memo would have answered
        assert strip.crop(0, 5).text == "hello"
        assert [part.text for part in strip.divide([3, 8, 11])] == ["hel", "lo wo", "rld"]
        assert strip.apply_style(Style(italic=True)).text == "hello world"
        assert all(seg.style and seg.style.italic for seg in strip.apply_style(Style(italic=True)))
        assert strip.crop_extend(0, 14, None).cell_length == 14
        assert strip.adjust_cell_length(3).text == "hel"


def a_short_chat() -> Conversation:
    rows = "\n".join(f"| {i} | row {i} | *{i * i}* |" for i in range(12))
    return one_exchange("a table please", f"| n | name | square |\n|---|---|---|\n{rows}")


async def test_typing_and_redrawing_leave_no_strip_memos_for_the_garbage_collector(make_app, sim) -> None:
    async with make_app(base_url=sim.base_url, size=(100, 30), conversation=a_short_chat()) as (app, pilot):
        await wait_until(pilot, lambda: "row 11" in screen_text(app),
                         message="the reply shown")
        await pilot.pause()
        gc.collect()
        flags = gc.get_debug()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds unreachable is kept in gc.garbage to look at
        try:
            for letter in "redraw":
                await pilot.press(letter)
                app.screen.refresh(layout=True)
                await pilot.pause()
            await wait_until(pilot, lambda: app.chat.prompt.text == "redraw", message="the letters typed")
            gc.collect()
            # Strips still end up there when something else they belong to is a cycle (a
            # finished worker); what must not is the seven memos each strip used to carry.
            memos = sum(1 for obj in gc.garbage if isinstance(obj, FIFOCache))
            strips = sum(1 for obj in gc.garbage if isinstance(obj, Strip))
        finally:
            gc.set_debug(flags)
            gc.garbage.clear()
        assert memos == 0, f"{memos} strip memos among {strips} strips left for the collector"
