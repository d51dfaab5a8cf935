"""Short human-readable forms of numbers the app shows: tokens, seconds, speeds."""

from __future__ import annotations

from vllm_chat.core.conversation import Message


def count(n: int) -> str:
    """1234 -> '1.2k', 12 -> '12'."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000:
        return f"{n // 1000}k"
    return f"{n / 1_000_000:.1f}M"


def seconds(s: float) -> str:
    """0.4567 -> '0.46 s', 75 -> '1 m 15 s'."""
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    minutes, rest = divmod(int(s), 60)
    return f"{minutes} m {rest} s"


def reply_stats(message: Message) -> str:
    """'26 → 20 tokens · TTFT 0.46 s · 41.3 tok/s' for an assistant message (parts
    that are unknown are left out)."""
    parts = []
    if message.usage is not None:
        parts.append(f"{count(message.usage.prompt_tokens)} → {count(message.usage.completion_tokens)} tokens")
    timings = message.timings
    if timings is not None and timings.ttft is not None:
        parts.append(f"TTFT {seconds(timings.ttft)}")
    if timings is not None and message.usage is not None:
        speed = timings.tokens_per_second(message.usage.completion_tokens)
        if speed is not None:
            parts.append(f"{speed:.1f} tok/s")
    return " · ".join(parts)


def finish_note(message: Message) -> str:
    """Why a reply ended, when that is worth saying ('' for a normal stop)."""
    if message.status == "stopped":
        return "stopped"
    if message.status == "failed":
        return "failed"
    limit = message.reply_limit
    if message.finish_reason == "length":
        if limit is not None:
            return f"cut off: the context window left room for only {count(limit)} tokens"
        return "cut off at max_tokens"
    if message.finish_reason not in (None, "stop", "tool_calls"):
        return f"ended: {message.finish_reason}"
    if limit is not None:
        return f"could only get {count(limit)} tokens (the context window was nearly full)"
    return ""
