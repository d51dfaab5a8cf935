"""The numbers under a reply: tokens in and out, time to first token, and a speed only
when there is enough of the reply to measure one."""

from __future__ import annotations

from vllm_chat.core.conversation import Message, Timings, Usage
from vllm_chat.core.format import reply_stats


def reply(completion_tokens: int, ttft: float, duration: float) -> Message:
    return Message(role="assistant", content="x", usage=Usage(prompt_tokens=845, completion_tokens=completion_tokens),
                   timings=Timings(started_at=0.0, ttft=ttft, duration=duration))


def test_a_normal_reply_shows_tokens_ttft_and_speed() -> None:
    assert reply_stats(reply(101, 0.5, 2.5)) == "845 → 101 tokens · TTFT 0.50 s · 50.0 tok/s"


def test_a_reply_too_short_to_measure_shows_no_speed() -> None:
    assert reply_stats(reply(2, 0.37, 0.372)) == "845 → 2 tokens · TTFT 0.37 s", "2 tokens in a burst"
    assert "tok/s" not in reply_stats(reply(400, 0.84, 0.9)), "the whole reply arrived in one burst"
