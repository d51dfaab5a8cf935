"""Benchmark 2: does the 20,000th token cost what the 1,000th did?

Not a test (timings depend on the machine). Run:

    /work/venv/bin/python bench/bench_flat_cost.py [--quick] [--runs N] [--tokens 20000]

The simulated server (own process, `--tps 0`) sends `long 20000` as fast as
it can, so the app, not the server, sets the pace. An `EventClock` wraps the
app's `ChatSession.run`: when the chat screen's turn worker asks for the next
event it has applied the previous one, so that moment is when token k (the
k-th `ContentDelta`, one per SSE chunk = one simulated token) was applied by
the UI. The time per 1,000 tokens of segment i is t(1000 i) - t(1000 (i-1))
(the first segment runs from token 1, scaled to 1,000 tokens).

Target: the last 1,000 tokens take at most 1.5x the first 1,000 (medians over
runs, fresh app per run, after one warm-up run). Also printed: every
segment's median, the same segments for the bare SDK loop (the server's own
shape), and the median frame cost in the first and last tenth of the stream,
which shows growth that the frame throttle might hide from tokens/s.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from _common import Result, SimProcess, bench_env, expected_long_reply, median  # noqa: E402
from bench_stream import TOKENS, app_turn, sdk_floor  # noqa: E402

LIMIT = 1.5
"""Last segment / first segment."""
SEGMENT = 1000
"""Tokens per segment."""


def segments(times: list[float], segment: int = SEGMENT) -> list[float]:
    """Milliseconds per `segment` tokens for consecutive segments of token times (seconds)."""
    out = []
    for end in range(segment, len(times) + 1, segment):
        start = max(end - segment, 1)
        span = times[end - 1] - times[start - 1]
        out.append(span * 1000 * segment / (end - start))
    return out


async def measure(base_url: str, tokens: int, runs: int) -> dict[str, Any]:
    """Per run: the app's and the bare SDK loop's segments, and early and late frame times."""
    from _apphooks import FrameProbe
    from openai import AsyncOpenAI

    prompt, expected = f"long {tokens}", expected_long_reply(tokens)
    app_segments: list[list[float]] = []
    floor_segments: list[list[float]] = []
    early, late = [], []
    client = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    try:
        await client.models.list()
        with FrameProbe() as probe:
            for run in range(runs + 1):
                times: list[float] = []
                await sdk_floor(base_url, prompt, client=client, times=times)
                turn = await app_turn(base_url, prompt, expected, probe)
                if turn["deltas"] != tokens:
                    print(f"  note: {turn['deltas']} content deltas for {tokens} tokens")
                segs = segments(turn["content_times"])
                label = "warm-up" if run == 0 else f"run {run}"
                print(f"  {label}: first {segs[0]:7.1f} ms/1k tok, last {segs[-1]:7.1f} ms/1k tok, "
                      f"whole turn {turn['total']:.2f} s", flush=True)
                if run:
                    app_segments.append(segs)
                    floor_segments.append(segments(times))
                    # Frames in the first and last tenth of the stream (by time of applied tokens).
                    ct = turn["content_times"]
                    span = ct[-1] - ct[0]
                    first_end, last_start = ct[0] + span / 10, ct[-1] - span / 10
                    # Frame start times are absolute; content times are relative to submit.
                    t0 = turn["submitted_at"]
                    for start, ms in probe.frames:
                        rel = start - t0
                        if ct[0] <= rel <= first_end:
                            early.append(ms)
                        elif last_start <= rel <= ct[-1]:
                            late.append(ms)
    finally:
        await client.close()
    return {"app": app_segments, "floor": floor_segments, "early": early, "late": late}


def run(quick: bool = False, runs: int | None = None, tokens: int = TOKENS) -> list[Result]:
    """Run the benchmark; the results for the table."""
    runs = runs or (2 if quick else 5)
    with bench_env() as env, SimProcess(tps=0, env=env.env) as sim:
        print(f"{tokens} tokens at full speed, {runs} runs (+1 warm-up), server {sim.base_url}", flush=True)
        data = asyncio.run(measure(sim.base_url, tokens, runs))
    per_segment = [median([s[i] for s in data["app"]]) for i in range(min(map(len, data["app"])))]
    floor_segment = [median([s[i] for s in data["floor"]]) for i in range(min(map(len, data["floor"])))]
    print("\n  ms per 1,000 tokens, median of runs (segment: app / bare SDK loop):")
    for i, (a, f) in enumerate(zip(per_segment, floor_segment, strict=True), 1):
        print(f"    {(i - 1) * SEGMENT:>6}-{i * SEGMENT:<6} {a:8.1f} / {f:6.1f}")
    first, last = per_segment[0], per_segment[-1]
    return [
        Result("2 flat cost", "ms per 1k tokens, last 1k vs first 1k", last, "ms", f"<= {LIMIT}x first 1k",
               last <= LIMIT * first, first, last / first,
               note="floor = first 1,000 tokens; token k 'applied' = the turn worker asked for event k+1"),
        Result("2 flat cost", "  slowest 1k segment", max(per_segment), "ms", floor=first,
               ratio=max(per_segment) / first),
        Result("2 flat cost", "  frame, last tenth vs first tenth of stream", median(data["late"]), "ms",
               floor=median(data["early"]), ratio=median(data["late"]) / median(data["early"]),
               note=f"{len(data['early'])} early / {len(data['late'])} late frames (medians)"),
    ]


def main() -> int:
    """Command line: run, print the table, optionally write JSON."""
    p = common.parser(__doc__)
    p.add_argument("--tokens", type=int, default=TOKENS)
    args = p.parse_args()
    results = run(args.quick, args.runs, args.tokens)
    return common.finish(results, "Target 2: flat cost per token", args.results_json)


if __name__ == "__main__":
    sys.exit(main())
