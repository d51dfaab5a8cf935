"""Candidates side by side: does the panel keep up with N streams, and does esc stop them at once?

Not a test (timings depend on the machine). Run:

    /work/venv/bin/python bench/bench_candidates.py [--quick] [--runs N]

The simulated server (own process) streams `long N` as N candidates of one request
(`n`) into a headless app (120x40), through alt+n's path (`start_candidates`). Figures:

- **Lag:** from the moment every reply has ended in the session (the last chunk
  arrived) to the moment the panel shows them ended (it has drawn every event). A
  panel slower than the streams falls behind and this grows with the reply's length.
- **Esc to stopped:** with the replies still streaming, esc is posted to the app as the
  terminal delivers it; from then to the moment every reply is marked stopped in the
  session (the key went through while the panel was busy drawing, and the requests were
  cancelled).

Targets: lag < 0.5 s at 3 x 100 tok/s and at 8 x 100 tok/s (as fast as one reply at
800 tok/s); esc to stopped < 0.5 s (the key waits for the frame being drawn, and on a
2-core machine shared by others a frame can take a few hundred ms).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from _common import Result, SimProcess, bench_env, median  # noqa: E402


async def _app_run(base_url: str, n: int, tokens: int, *, stop_after: float | None) -> float:
    """One run in a fresh headless app; returns the lag (or, with `stop_after`, esc to stopped)."""
    from textual import events

    from vllm_chat.core.config import load_settings
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.store import SessionStore
    from vllm_chat.ui.app import VllmChatApp

    session = ChatSession(load_settings({"base_url": base_url, "model": "sim-chat"}), store=SessionStore())
    app = VllmChatApp(session)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            while not session.models:
                await pilot.pause(0.02)
            screen: Any = app.chat
            screen.prompt.load_text(f"long {tokens}")
            screen.start_candidates(session.plan_candidates(n), "prompt")

            def figures() -> tuple[Any, ...]:
                return session.status().candidates

            if stop_after is not None:
                while not figures() or min(c.tokens for c in figures()) < stop_after * 100:
                    await asyncio.sleep(0.005)
                pressed = time.monotonic()
                app.post_message(events.Key("escape", None))
                while any(c.state in ("waiting", "streaming") for c in figures()):
                    await asyncio.sleep(0.002)
                return time.monotonic() - pressed
            while not figures() or any(c.state in ("waiting", "streaming") for c in figures()):
                await asyncio.sleep(0.005)
            streamed = time.monotonic()
            while screen.candidates_panel is None or screen.candidates_panel.streaming:
                await asyncio.sleep(0.005)
            return time.monotonic() - streamed
    finally:
        await session.aclose()


def main() -> int:
    args = common.parser(__doc__).parse_args()
    runs = args.runs or (1 if args.quick else 3)
    tokens = 300 if args.quick else 800
    results: list[Result] = []
    with bench_env() as env, SimProcess(tps=100.0, env=env.env) as sim:
        asyncio.run(_app_run(sim.base_url, 2, 50, stop_after=None))  # warm-up: imports, caches
        for n in (3, 8):
            lags = [asyncio.run(_app_run(sim.base_url, n, tokens, stop_after=None)) for _ in range(runs)]
            value = median(lags)
            results.append(Result("candidates", f"panel lag, {n} x 100 tok/s, {tokens} tokens", value, "s",
                                  "< 0.5 s", value < 0.5, note=f"{runs} runs, max {max(lags):.2f} s"))
        stops = [asyncio.run(_app_run(sim.base_url, 3, tokens, stop_after=1.0)) for _ in range(runs)]
        value = median(stops) * 1000
        results.append(Result("candidates", "esc to every reply stopped, 3 x 100 tok/s", value, "ms", "< 500 ms",
                              value < 500, note=f"{runs} runs, max {max(stops) * 1000:.0f} ms"))
    return common.finish(results, "Candidates side by side", args.results_json)


if __name__ == "__main__":
    sys.exit(main())
