"""Benchmark 7: does the context meter cost typing anything in a long conversation?

Not a test (timings depend on the machine). Run:

    /work/venv/bin/python bench/bench_context_meter.py [--quick] [--runs N] [--messages 200]

A headless app (120x40) opens the 200-message conversation of benchmark 4
(`_common.build_conversation`: Markdown replies, reasoning, tool calls and
results, PNG attachments) on the simulated server (own process). Keys are
posted every 70-130 ms as the terminal driver delivers them (the typist of
benchmark 3), for `SECONDS` per run; each key changes the draft, so the
session re-estimates and, after `context.recount_delay`, rebuilds the whole
request (200 messages, images as data URLs), fingerprints it and asks the
server's `/tokenize` in the background.

- **Key to screen:** from posting a key to the first paint (converted to
  escape codes) whose prompt holds it. Target: p99 < 50 ms (benchmark 3's).
- Two settings: `recount_delay = 0` (a count after every key: the worst
  case) and the default pause (a count once typing pauses).
- Also: loop stall p99 (5 ms ticker), and how many exact counts arrived.
- Floor: `run_all.py --rev <commit before the meter> --only context_meter`
  types the same keys into an app without it.

One warm-up run, then N runs per setting in fresh apps; percentiles over all
samples of all runs of a setting.
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
    build_conversation,
    median,
    percentile,
)
from bench_responsiveness import KeyTyper  # noqa: E402

MESSAGES = 200
"""Earlier messages in the conversation."""
SECONDS = 8.0
"""Typing time per run."""
KEY_LIMIT_MS = 50.0
"""Key to painted prompt, p99 (benchmark 3's target)."""
DEFAULT_DELAY = 0.3
"""`context.recount_delay` by default."""


async def type_for(base_url: str, conversation: Any, seconds: float, delay: float, probe: Any,
                   rng: random.Random) -> dict[str, Any]:
    """One app, `seconds` of typing; key and stall samples (ms), and the counts made."""
    from _apphooks import headless_app, ticker, wait_connected, wait_for

    asked: list[float] = []
    try:
        from vllm_chat.core.context.meter import ContextMeter
    except ImportError:  # a commit from before the meter (`run_all.py --rev`): the floor
        ContextMeter = None
    settings: dict[str, Any] = {"model": "sim-vision"}
    if ContextMeter is not None:
        original = ContextMeter._ask
        settings["context"] = {"recount_delay": delay}

        async def counted(self: Any, client: Any, request: Any, timeout: float) -> Any:
            result = await original(self, client, request, timeout)
            asked.append(time.perf_counter())
            return result

        ContextMeter._ask = counted  # type: ignore[method-assign]
    try:
        async with headless_app(base_url, conversation=conversation, settings=settings) as (app, pilot):
            await wait_connected(app)
            if ContextMeter is not None:
                await wait_for(lambda: app.session.status().context_exact, 60, "the first exact count")
            await pilot.pause(0.2)
            asked.clear()
            stalls: list[tuple[float, float]] = []
            stop = asyncio.Event()
            typer = KeyTyper(app, probe, rng)
            tick = asyncio.create_task(ticker(stalls, stop))
            typing = asyncio.create_task(typer.type())
            await asyncio.sleep(seconds)
            typing.cancel()
            await asyncio.sleep(0.3)  # the last keys reach the screen
            stop.set()
            await tick
            typer.close()
            exact_at_end = getattr(app.session.status(), "context_exact", None)
            return {"keys": [ms for _, ms in typer.samples], "stall": [ms for _, ms in stalls],
                    "counts": len(asked), "typed": typer._typed, "exact_at_end": exact_at_end}
    finally:
        if ContextMeter is not None:
            ContextMeter._ask = original  # type: ignore[method-assign]


async def measure(base_url: str, conversation: Any, runs: int, seconds: float) -> dict[float, dict[str, Any]]:
    """Samples per `recount_delay`, over `runs` measured runs each (after one warm-up)."""
    from _apphooks import FrameProbe

    rng = random.Random(7)
    out: dict[float, dict[str, Any]] = {}
    with FrameProbe() as probe:
        await type_for(base_url, conversation, 2.0, 0.0, probe, rng)  # warm-up
        for delay in (0.0, DEFAULT_DELAY):
            keys: list[float] = []
            stall: list[float] = []
            counts = typed = 0
            for run in range(1, runs + 1):
                got = await type_for(base_url, conversation, seconds, delay, probe, rng)
                keys += got["keys"]
                stall += got["stall"]
                counts += got["counts"]
                typed += got["typed"]
                print(f"  recount_delay {delay:g} s, run {run}: {got['typed']} keys, {got['counts']} counts; key p50 "
                      f"{median(got['keys']):.1f} / p99 {percentile(got['keys'], 99):.1f} / max {max(got['keys']):.1f} "
                      f"ms; stall p99 {percentile(got['stall'], 99):.1f} ms; exact at the end: {got['exact_at_end']}",
                      flush=True)
            out[delay] = {"keys": keys, "stall": stall, "counts": counts, "typed": typed}
    return out


def run(quick: bool = False, runs: int | None = None, messages: int | None = None) -> list[Result]:
    """Run the benchmark; the results for the table."""
    runs = runs or (1 if quick else 3)
    messages = messages or MESSAGES
    seconds = 4.0 if quick else SECONDS
    with bench_env() as env, SimProcess(env=env.env) as sim:
        from vllm_chat.core.paths import media_dir

        conversation = build_conversation(messages, media_root=media_dir())
        print(f"{len(conversation.messages)} messages, {runs} runs (+1 warm-up) of {seconds:g} s typing per "
              f"setting, server {sim.base_url}", flush=True)
        data = asyncio.run(measure(sim.base_url, conversation, runs, seconds))
    results = []
    for delay, label in ((0.0, "a count after every key"), (DEFAULT_DELAY, f"default {DEFAULT_DELAY:g} s pause")):
        got = data[delay]
        keys, stall = got["keys"], got["stall"]
        results.append(Result(
            "7 context meter", f"key to painted prompt p99, {messages} msgs, {label}", percentile(keys, 99), "ms",
            f"< {KEY_LIMIT_MS:.0f} ms", percentile(keys, 99) < KEY_LIMIT_MS,
            note=f"p50 {median(keys):.1f}, p90 {percentile(keys, 90):.1f}, max {max(keys):.1f} ms over {len(keys)} "
                 f"keys; {got['counts']} /tokenize counts; stall p99 {percentile(stall, 99):.1f} ms"))
    return results


def main() -> int:
    """Command line: run, print the table, optionally write JSON."""
    p = common.parser(__doc__)
    p.add_argument("--messages", type=int)
    args = p.parse_args()
    results = run(args.quick, args.runs, args.messages)
    return common.finish(results, "Target 7: the context meter while typing", args.results_json)


if __name__ == "__main__":
    sys.exit(main())
