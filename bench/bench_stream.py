"""Benchmark 1: stream a 20,000-token Markdown reply; how long until it is whole on screen.

Not a test (timings depend on the machine). Run:

    /work/venv/bin/python bench/bench_stream.py [--quick] [--runs N] [--tokens 20000] [--no-tmux]

The simulated server (`vllm-chat-sim`, in its own process) answers `long 20000`
with exactly 20,000 tokens of mixed Markdown (prose, headings, lists, code
fences, tables, quotes), one token per SSE chunk.

- **Floor:** a bare `AsyncOpenAI` loop in this process: the same request with
  `stream=True`, iterating the chunks and joining `delta.content`; timed from
  the call to the end of the stream (client warmed up by one earlier request,
  as the app's is by its model list).
- **App (headless, 120x40):** `VllmChatApp` with `run_test`; from `action_submit()`
  on the prompt to the first paint, after the turn ended, at which the
  conversation and the reply's MarkdownView hold the whole text and the
  screen shows its last words (see `_apphooks.OnScreenWatch`). Headless
  Textual skips writing to a terminal; the probe converts every frame into
  escape codes anyway, so that cost is counted.
- **App in a real terminal (tmux, optional):** the installed `vllm-chat` run
  through `bench/_startup_probe.py` in a 120x40 tmux pane; the probe submits
  the prompt once the app is ready and records the same completing paint,
  after which the frame has been written to the pty that tmux reads.

Full speed (`--tps 0`): target app time <= 1.5x the floor. Paced at 2,000
tok/s (`--tps 2000`, 10 s of tokens): target app time <= 1.1x the pacing time.

- **Logprobs:** the same full-speed app turn with logprobs on (`top_logprobs`
  5: every chunk carries six token/logprob pairs, captured per token and
  packed with the reply), against the app turn with them off, alternating on
  one server. Target: logprobs on <= 1.5x logprobs off. `--logprobs-only`
  runs just this pair.
Each app run uses a fresh app (empty conversation); one unmeasured run first
warms imports and caches, as a user's first reply would not be measured either.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from _common import Result, SimProcess, bench_env, expected_long_reply, median  # noqa: E402

TOKENS = 20_000
"""Tokens in the reply (`long N`)."""
FULL_SPEED_LIMIT = 1.5
"""App time / floor time, as fast as the server can send."""
PACED_TPS = 2000.0
"""Tokens per second of the paced stream."""
PACED_LIMIT = 1.1
"""App time / pacing time at `PACED_TPS`."""
LOGPROBS_LIMIT = 1.5
"""App time with logprobs on (top 5) / app time with them off."""
LOGPROBS_TOP = 5
"""Alternatives per token in the logprobs runs."""


async def sdk_floor(base_url: str, prompt: str, *, client: Any = None,
                    times: list[float] | None = None) -> tuple[float, str, int]:
    """The bare SDK loop: (seconds to the end of the stream, text, chunks with content).

    With `times`, the seconds since the call at which each content chunk arrived are appended.
    """
    from openai import AsyncOpenAI

    own = client is None
    client = client or AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    try:
        parts: list[str] = []
        start = time.perf_counter()
        stream = await client.chat.completions.create(
            model="sim-chat", messages=[{"role": "user", "content": prompt}], stream=True)
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
                    if times is not None:
                        times.append(time.perf_counter() - start)
        return time.perf_counter() - start, "".join(parts), len(parts)
    finally:
        if own:
            await client.close()


async def app_turn(base_url: str, prompt: str, expected: str, probe: Any, *,
                   conversation: Any = None, timeout: float = 600.0,
                   during: Any = None, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """One headless app, one streamed turn; the timings of that turn.

    `during(app, t_submit)` may return a coroutine to run while the reply streams
    (it gets cancelled once the reply is on screen).
    """
    from _apphooks import (
        EventClock,
        OnScreenWatch,
        headless_app,
        submit,
        wait_connected,
    )

    clock = EventClock()
    async with headless_app(base_url, conversation=conversation, settings=settings,
                            before_run=lambda app: clock.attach(app.session)) as (app, pilot):
        await wait_connected(app)
        await pilot.pause()
        watch = OnScreenWatch(app, probe, clock, expected)
        try:
            t_submit = submit(app, prompt)
            side = asyncio.create_task(during(app, t_submit)) if during else None
            try:
                done_at = await watch.wait(timeout)
            finally:
                if side is not None:
                    side.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await side
        finally:
            watch.close()
        result = {
            "submitted_at": t_submit,
            "total": done_at - t_submit,
            "first_token": (clock.content_times[0] - t_submit) if clock.content_times else float("nan"),
            "applied_all": (clock.finished_at or done_at) - t_submit,
            "content_times": [t - t_submit for t in clock.content_times],
            "deltas": len(clock.content_times),
            "chars": clock.content_chars,
            "frames": probe.frame_ms_between(t_submit, done_at),
            "source_ok": watch.source_ok,
            "screen_ok": watch.screen_ok,
            "outcome": clock.outcome,
        }
        return result


async def measure(base_url: str, tokens: int, runs: int) -> dict[str, list[Any]]:
    """Alternate floor and app runs on one server; the first pair is a warm-up."""
    from _apphooks import FrameProbe
    from openai import AsyncOpenAI

    prompt = f"long {tokens}"
    expected = expected_long_reply(tokens)
    out: dict[str, list[Any]] = {"floor": [], "app": []}
    client = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    try:
        await client.models.list()
        with FrameProbe() as probe:
            for run in range(runs + 1):
                seconds, text, chunks = await sdk_floor(base_url, prompt, client=client)
                if text.strip() != expected.strip():
                    raise RuntimeError("the server's reply is not the expected long text")
                turn = await app_turn(base_url, prompt, expected, probe)
                label = "warm-up" if run == 0 else f"run {run}"
                print(f"  {label}: floor {seconds:6.2f} s ({chunks} chunks)   app {turn['total']:6.2f} s "
                      f"(first token {turn['first_token'] * 1000:.0f} ms, {turn['deltas']} deltas, "
                      f"{len(turn['frames'])} frames, median frame {median(turn['frames']):.1f} ms, "
                      f"view ok={turn['source_ok']}, screen ok={turn['screen_ok']})", flush=True)
                if run:
                    out["floor"].append(seconds)
                    out["app"].append(turn)
    finally:
        await client.close()
    return out


async def measure_logprobs(base_url: str, tokens: int, runs: int) -> dict[str, list[Any]]:
    """Alternate app turns with logprobs off and on, on one server; the first pair is a warm-up."""
    from _apphooks import FrameProbe

    prompt = f"long {tokens}"
    expected = expected_long_reply(tokens)
    on = {"sampling": {"logprobs": LOGPROBS_TOP}}
    out: dict[str, list[Any]] = {"off": [], "on": []}
    with FrameProbe() as probe:
        for run in range(runs + 1):
            off_turn = await app_turn(base_url, prompt, expected, probe)
            on_turn = await app_turn(base_url, prompt, expected, probe, settings=on)
            label = "warm-up" if run == 0 else f"run {run}"
            print(f"  {label}: logprobs off {off_turn['total']:6.2f} s   on {on_turn['total']:6.2f} s "
                  f"(view ok={on_turn['source_ok']}, screen ok={on_turn['screen_ok']})", flush=True)
            if run:
                out["off"].append(off_turn)
                out["on"].append(on_turn)
    return out


def logprobs_results(base_url: str, tokens: int, runs: int) -> list[Result]:
    """The logprobs row: app time with logprobs on against off."""
    print(f"logprobs: {tokens} tokens at full speed, top {LOGPROBS_TOP}, {runs} runs (+1 warm-up)", flush=True)
    pairs = asyncio.run(measure_logprobs(base_url, tokens, runs))
    off = median([t["total"] for t in pairs["off"]])
    on = median([t["total"] for t in pairs["on"]])
    ok = all(t["source_ok"] and t["screen_ok"] for t in pairs["on"])
    return [Result("1 stream", f"{tokens} tok with logprobs (top {LOGPROBS_TOP}), on screen (headless)", on, "s",
                   f"<= {LOGPROBS_LIMIT}x logprobs off", on <= LOGPROBS_LIMIT * off and ok, off, on / off,
                   note="floor = the same app turn with logprobs off; on: "
                        + ", ".join(f"{t['total']:.2f}" for t in pairs["on"]) + "; off: "
                        + ", ".join(f"{t['total']:.2f}" for t in pairs["off"])
                        + ("" if ok else "; REPLY NOT WHOLE ON SCREEN"))]


def tmux_turns(base_url: str, tokens: int, runs: int, env: dict[str, str]) -> list[float]:
    """The installed app in a real terminal (tmux): seconds from submit to the completing paint."""
    from _tmux import TmuxProbe, tmux_available

    if not tmux_available():
        return []
    times = []
    for run in range(runs):
        with TmuxProbe(["--base-url", base_url], env=env, submit=f"long {tokens}",
                       expect_tokens=tokens) as probe:
            trace = probe.wait_for("done", timeout=600)
        if not trace.get("screen_ok"):
            print(f"  tmux run {run + 1}: the reply was not found on screen: {trace}")
        times.append(trace["seconds"])
        print(f"  tmux run {run + 1}: app {times[-1]:6.2f} s", flush=True)
    return times


def run(quick: bool = False, runs: int | None = None, tokens: int = TOKENS, tmux: bool = True,
        logprobs_only: bool = False) -> list[Result]:
    """Run the benchmark; the results for the table."""
    runs = runs or (2 if quick else 5)
    results: list[Result] = []
    with bench_env() as env:
        if logprobs_only:
            with SimProcess(tps=0, env=env.env) as sim:
                return logprobs_results(sim.base_url, tokens, runs)
        with SimProcess(tps=0, env=env.env) as sim:
            print(f"full speed: {tokens} tokens, {runs} runs (+1 warm-up), server {sim.base_url}", flush=True)
            full = asyncio.run(measure(sim.base_url, tokens, runs))
            floor = median(full["floor"])
            app = median([t["total"] for t in full["app"]])
            ok = all(t["source_ok"] and t["screen_ok"] for t in full["app"])
            results.append(Result("1 stream", f"{tokens} tok at full speed, on screen (headless)", app, "s",
                                  f"<= {FULL_SPEED_LIMIT}x floor", app <= FULL_SPEED_LIMIT * floor and ok,
                                  floor, app / floor,
                                  note="floor = bare AsyncOpenAI loop; runs: "
                                       + ", ".join(f"{t['total']:.2f}" for t in full["app"])
                                       + ("" if ok else "; REPLY NOT WHOLE ON SCREEN")))
            frames = [ms for t in full["app"] for ms in t["frames"]]
            results.append(Result("1 stream", "  frame during that stream (median)", median(frames), "ms",
                                  note=f"p90 {common.percentile(frames, 90):.1f} ms, max {max(frames):.1f} ms, "
                                       f"{len(frames) / len(full['app']):.0f} frames per run"))
            if tmux:
                real = tmux_turns(sim.base_url, tokens, max(1, runs // 2), env.env)
                if real:
                    value = median(real)
                    results.append(Result("1 stream", f"{tokens} tok at full speed, on screen (tmux)", value, "s",
                                          f"<= {FULL_SPEED_LIMIT}x floor", value <= FULL_SPEED_LIMIT * floor,
                                          floor, value / floor,
                                          note="real terminal: installed vllm-chat in a 120x40 tmux pane"))
            results += logprobs_results(sim.base_url, tokens, runs)
        with SimProcess(tps=PACED_TPS, env=env.env) as sim:
            pace = tokens / PACED_TPS
            print(f"paced: {tokens} tokens at {PACED_TPS:.0f} tok/s ({pace:.0f} s), {runs} runs (+1 warm-up)",
                  flush=True)
            paced = asyncio.run(measure(sim.base_url, tokens, runs))
            app = median([t["total"] for t in paced["app"]])
            results.append(Result("1 stream", f"{tokens} tok at {PACED_TPS:.0f} tok/s, on screen", app, "s",
                                  f"<= {PACED_LIMIT}x pacing", app <= PACED_LIMIT * pace, pace, app / pace,
                                  note=f"floor = pacing time; bare SDK loop took {median(paced['floor']):.2f} s"))
    return results


def main() -> int:
    """Command line: run, print the table, optionally write JSON."""
    p = common.parser(__doc__)
    p.add_argument("--tokens", type=int, default=TOKENS)
    p.add_argument("--no-tmux", action="store_true", help="skip the real-terminal run")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds one app turn may take")
    p.add_argument("--logprobs-only", action="store_true", help="only the logprobs on/off pair")
    args = p.parse_args()
    results = run(args.quick, args.runs, args.tokens, tmux=not args.no_tmux, logprobs_only=args.logprobs_only)
    return common.finish(results, "Target 1: streaming throughput", args.results_json)


if __name__ == "__main__":
    sys.exit(main())
