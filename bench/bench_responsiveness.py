"""Benchmark 3: is the app responsive while a reply streams at 1,000 tok/s?

Not a test (timings depend on the machine). Run:

    /work/venv/bin/python bench/bench_responsiveness.py [--quick] [--runs N] [--tokens 10000]

The simulated server (own process, `--tps 1000`) streams `long N` (default
10,000 tokens, 10 s) into a headless app (120x40). While it streams:

- **Loop stall:** an asyncio task on the app's loop sleeps 5 ms over and over
  and records how late it wakes up. Any work that holds the loop (a frame, a
  Markdown flush, event handling) shows up as lateness; it is the delay any
  input would see before it is even looked at.
- **Key to screen:** every 70-130 ms a key (a letter) is posted to the app as
  the terminal driver delivers it (`app.post_message(events.Key(k, k))`); it
  goes through the app's bindings to the focused prompt. The latency is from
  posting to the first paint (after the frame was converted to escape codes)
  at which the prompt's text contains that key. The paint hook checks
  `len(prompt.text)`, which costs microseconds.

Only samples taken between the first token and the end of the turn count.
Targets: stall p99 < 50 ms; key to screen p99 < 50 ms. One warm-up run, then
N runs in fresh apps; percentiles are over all samples of all runs.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from _common import (  # noqa: E402
    Result,
    SimProcess,
    bench_env,
    expected_long_reply,
    median,
    percentile,
)
from bench_stream import app_turn  # noqa: E402

TPS = 1000.0
"""Tokens per second of the stream."""
TOKENS = 10_000
"""Tokens in the reply."""
STALL_LIMIT_MS = 50.0
KEY_LIMIT_MS = 50.0


class KeyTyper:
    """Posts letters to the app at a typist's pace and notes when each is painted."""

    def __init__(self, app: Any, probe: Any, rng: random.Random) -> None:
        self.app, self.rng = app, rng
        self.pending: list[tuple[int, float]] = []
        """(prompt length that shows the key, time posted)."""
        self.samples: list[tuple[float, float]] = []
        """(time posted, ms to the paint)."""
        self._typed = 0
        self._base = len(app.chat.prompt.text)
        probe.listeners.append(self._paint)
        self._probe = probe

    def close(self) -> None:
        """Stop listening for paints."""
        if self._paint in self._probe.listeners:
            self._probe.listeners.remove(self._paint)

    def _paint(self, app: Any, at: float) -> None:
        if not self.pending:
            return
        length = len(app.chat.prompt.text)
        while self.pending and self.pending[0][0] <= length:
            _, posted = self.pending.pop(0)
            self.samples.append((posted, (at - posted) * 1000))

    async def type(self) -> None:
        """Until cancelled: post a key, wait 70-130 ms."""
        from textual import events

        while True:
            letter = "abcdefghijklmnopqrstuvwxyz"[self._typed % 26]
            self._typed += 1
            self.pending.append((self._base + self._typed, time.perf_counter()))
            self.app.post_message(events.Key(letter, letter))
            await asyncio.sleep(self.rng.uniform(0.07, 0.13))


async def measure(base_url: str, tokens: int, runs: int) -> dict[str, list[float]]:
    """Stall and key samples (ms) of all measured runs, taken while the reply streamed."""
    from _apphooks import FrameProbe, ticker

    prompt, expected = f"long {tokens}", expected_long_reply(tokens)
    stalls: list[float] = []
    keys: list[float] = []
    rng = random.Random(3)
    with FrameProbe() as probe:
        for run in range(runs + 1):
            found: dict[str, Any] = {}

            async def during(app: Any, t_submit: float, found: dict[str, Any] = found) -> None:
                samples: list[tuple[float, float]] = []
                stop = asyncio.Event()
                typer = KeyTyper(app, probe, rng)
                found["stall"], found["typer"] = samples, typer
                tick = asyncio.create_task(ticker(samples, stop))
                try:
                    await typer.type()
                finally:
                    stop.set()
                    typer.close()
                    await tick

            turn = await app_turn(base_url, prompt, expected, probe, during=during)
            start = turn["submitted_at"] + turn["first_token"]
            end = turn["submitted_at"] + turn["applied_all"]
            run_stalls = [ms for t, ms in found["stall"] if start <= t <= end]
            run_keys = [ms for t, ms in found["typer"].samples if start <= t <= end]
            label = "warm-up" if run == 0 else f"run {run}"
            print(f"  {label}: {turn['total']:.2f} s; stall p50 {median(run_stalls):.1f} / "
                  f"p99 {percentile(run_stalls, 99):.1f} / max {max(run_stalls):.1f} ms "
                  f"({len(run_stalls)} ticks); key p50 {median(run_keys):.1f} / p99 {percentile(run_keys, 99):.1f} "
                  f"/ max {max(run_keys, default=float('nan')):.1f} ms ({len(run_keys)} keys)", flush=True)
            if run:
                stalls += run_stalls
                keys += run_keys
    return {"stall": stalls, "key": keys}


def run(quick: bool = False, runs: int | None = None, tokens: int | None = None) -> list[Result]:
    """Run the benchmark; the results for the table."""
    runs = runs or (1 if quick else 3)
    tokens = tokens or (3000 if quick else TOKENS)
    with bench_env() as env, SimProcess(tps=TPS, env=env.env) as sim:
        print(f"{tokens} tokens at {TPS:.0f} tok/s, {runs} runs (+1 warm-up), server {sim.base_url}", flush=True)
        data = asyncio.run(measure(sim.base_url, tokens, runs))
    stall, key = data["stall"], data["key"]
    return [
        Result("3 responsive", f"loop stall p99 at {TPS:.0f} tok/s", percentile(stall, 99), "ms",
               f"< {STALL_LIMIT_MS:.0f} ms", percentile(stall, 99) < STALL_LIMIT_MS,
               note=f"5 ms ticker; p50 {median(stall):.1f}, p90 {percentile(stall, 90):.1f}, "
                    f"max {max(stall):.1f} ms over {len(stall)} ticks"),
        Result("3 responsive", "key to painted prompt p99 while streaming", percentile(key, 99), "ms",
               f"< {KEY_LIMIT_MS:.0f} ms", percentile(key, 99) < KEY_LIMIT_MS,
               note=f"p50 {median(key):.1f}, p90 {percentile(key, 90):.1f}, max {max(key):.1f} ms "
                    f"over {len(key)} keys"),
    ]


def main() -> int:
    """Command line: run, print the table, optionally write JSON."""
    p = common.parser(__doc__)
    p.add_argument("--tokens", type=int)
    args = p.parse_args()
    results = run(args.quick, args.runs, args.tokens)
    return common.finish(results, "Target 3: responsiveness while streaming", args.results_json)


if __name__ == "__main__":
    sys.exit(main())
