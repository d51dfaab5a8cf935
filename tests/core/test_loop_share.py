"""A turn's long steps share the event loop with the front end: after a long step the loop gets
a turn, and while the front end says the user's input is on its way, the step waits for it to
be shown (never for long)."""

from __future__ import annotations

import time

import pytest

from vllm_chat.core import loop_share
from vllm_chat.core.loop_share import LoopShare


class Input:
    """Input on its way for the first `looks` times anyone asks."""

    def __init__(self, looks: int) -> None:
        self.looks = looks
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked <= self.looks


async def test_after_a_long_step_the_user_input_on_its_way_goes_first() -> None:
    share = LoopShare()
    share.input_waiting = waiting = Input(looks=3)
    await share.after_long_step(time.monotonic() - 1.0)
    assert waiting.asked == 4, "it waited until the input was shown"


async def test_after_a_short_step_nothing_waits() -> None:
    share = LoopShare()
    share.input_waiting = waiting = Input(looks=3)
    await share.after_long_step(time.monotonic())
    assert waiting.asked == 0


async def test_input_that_never_shows_holds_a_step_up_only_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_share, "WAIT_MOST", 0.02)
    share = LoopShare()
    share.input_waiting = lambda: True  # a key held down
    started = time.monotonic()
    await share.give_way()
    assert time.monotonic() - started < 5.0, "it went on"


async def test_without_a_front_end_nothing_ever_waits() -> None:
    await LoopShare().give_way()
