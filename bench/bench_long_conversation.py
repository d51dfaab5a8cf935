"""Benchmark 4: do 200 earlier messages make frames slower, and how fast does such a session open?

Not a test (timings depend on the machine). Run:

    /work/venv/bin/python bench/bench_long_conversation.py [--quick] [--runs N] [--messages 200] [--no-tmux]

The history (`_common.build_conversation`) mixes prose, long Markdown replies
(headings, lists, code fences, tables, quotes), reasoning, tool calls with
their results (tool panels) and PNG attachments stored in the media folder
(thumbnails drawn with half blocks), and ends with a known sentence.

- **Frame cost:** the simulated server (own process, `--tps 1000`) streams
  `long 3000` into a headless app (120x40), once with an empty conversation
  and once after the 200 messages. A frame is one tick of Textual's screen
  update timer that displayed something (layout, render, and conversion to
  escape codes), timed by patching `Screen._on_timer_update`. Figure: the
  median frame in the second half of the stream, when the reply fills the
  screen in both cases (so both draw a full screen of text; early on the
  empty conversation draws mostly blank rows, which is cheaper and not what
  the target is about); the whole-stream median is printed as information.
  Target: history <= 1.5x empty. Runs
  alternate between the two, fresh app each time, after one warm-up pair.
- **Opening:** the session is saved with the store, loaded (`store.load`,
  timed separately), and given to a new `VllmChatApp`; from just before the
  app is created to the first paint whose screen shows the last message's
  final sentence (screen checks are not counted). Target: < 500 ms. Floor:
  the same for an empty conversation (first paint of the chat screen).
  With tmux, also in a real terminal: `vllm-chat --resume ID`, from the app's
  creation (`VllmChatApp.__init__`) to the paint that shows that sentence.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from _common import (  # noqa: E402
    LAST_MESSAGE_MARKER,
    Result,
    SimProcess,
    bench_env,
    expected_long_reply,
    median,
)
from bench_stream import app_turn  # noqa: E402

MESSAGES = 200
"""Earlier messages in the long conversation."""
TPS = 1000.0
"""Pace of the stream during which frames are timed."""
FRAME_LIMIT = 1.5
"""Median frame with history / median frame without."""
OPEN_LIMIT_MS = 500.0
"""Opening the session, to the paint showing the last message."""


async def frame_costs(base_url: str, session_id: str, tokens: int, runs: int) -> dict[str, list[float]]:
    """Median frame (ms) per run, for an empty conversation and for the history."""
    from _apphooks import FrameProbe

    from vllm_chat.core.conversation import new_id
    from vllm_chat.core.store import SessionStore

    prompt, expected = f"long {tokens}", expected_long_reply(tokens)
    out: dict[str, list[float]] = {"empty": [], "history": [], "empty_all": [], "history_all": [],
                                   "empty_whole": [], "history_whole": []}
    with FrameProbe() as probe:
        for run in range(runs + 1):
            for kind in ("empty", "history"):
                conv = SessionStore().load(session_id) if kind == "history" else None
                if conv is not None:
                    conv.id = new_id()  # the turn is saved: keep the benchmark's session as built
                turn = await app_turn(base_url, prompt, expected, probe, conversation=conv)
                label = "warm-up" if run == 0 else f"run {run}"
                print(f"  {label} {kind:7}: {len(turn['frames'])} frames, median {median(turn['frames']):.2f} ms, "
                      f"max {max(turn['frames']):.1f} ms; turn {turn['total']:.2f} s", flush=True)
                if run:
                    # Compare like with like: in the second half of the stream the reply
                    # fills the screen in both cases, so both frames draw a full screen
                    # of text (early on, the empty conversation draws mostly blank rows).
                    late = turn["frames"][len(turn["frames"]) // 2:]
                    out[kind].append(median(late))
                    out[f"{kind}_whole"].append(median(turn["frames"]))
                    out[f"{kind}_all"] += late
    return out


async def open_times(base_url: str, session_id: str | None, runs: int) -> list[float]:
    """Ms from creating the app to the first paint showing the last message (or, with no
    session, the first paint of the chat screen)."""
    from _apphooks import FrameProbe, headless_app, screen_shows, wait_for

    from vllm_chat.core.store import SessionStore

    times = []
    with FrameProbe() as probe:
        for run in range(runs + 1):
            conv = SessionStore().load(session_id) if session_id else None
            seen: dict[str, float] = {}
            overhead = [0.0]

            def paint(app: Any, at: float, seen: dict[str, float] = seen, overhead: list[float] = overhead) -> None:
                if "shown" in seen:
                    return
                start = time.perf_counter()
                try:
                    chat = app.chat
                except StopIteration:
                    return
                if app.screen is chat and (session_id is None or screen_shows(app, LAST_MESSAGE_MARKER)):
                    seen["shown"] = at - overhead[0]
                overhead[0] += time.perf_counter() - start

            probe.listeners.append(paint)
            try:
                start = time.perf_counter()
                async with headless_app(base_url, conversation=conv):
                    await wait_for(lambda seen=seen: "shown" in seen, 30, "the last message on screen")
            finally:
                probe.listeners.remove(paint)
            if run:
                times.append((seen["shown"] - start) * 1000)
    return times


def tmux_open_times(base_url: str, session_id: str, runs: int, env: dict[str, str]) -> list[float]:
    """Real terminal: ms from `VllmChatApp.__init__` to the paint showing the last message."""
    from _tmux import TmuxProbe, tmux_available

    if not tmux_available():
        return []
    times = []
    for _ in range(runs):
        with TmuxProbe(["--base-url", base_url, "--resume", session_id], env=env,
                       marker=LAST_MESSAGE_MARKER) as probe:
            shown = probe.wait_for("shown", timeout=60)
            created = probe.wait_for("app")
        times.append((shown["paint"] - created["pc"]) * 1000)
    return times


def run(quick: bool = False, runs: int | None = None, messages: int = MESSAGES, tmux: bool = True) -> list[Result]:
    """Run the benchmark; the results for the table."""
    runs = runs or (1 if quick else 3)
    tokens = 1500 if quick else 3000
    results: list[Result] = []
    with bench_env() as env, SimProcess(tps=TPS, env=env.env) as sim:
        from vllm_chat.core.store import SessionStore

        session_id, count = common.save_session(messages)
        start = time.perf_counter()
        SessionStore().load(session_id)
        load_ms = (time.perf_counter() - start) * 1000
        print(f"history: {count} messages (session {session_id[:8]}), store.load {load_ms:.1f} ms", flush=True)

        print(f"frame cost: {tokens} tokens at {TPS:.0f} tok/s, {runs} runs per kind (+1 warm-up)", flush=True)
        frames = asyncio.run(frame_costs(sim.base_url, session_id, tokens, runs))
        empty, history = median(frames["empty"]), median(frames["history"])
        results.append(Result("4 long conv", f"median frame while streaming, {count} earlier msgs", history, "ms",
                              f"<= {FRAME_LIMIT}x empty", history <= FRAME_LIMIT * empty, empty, history / empty,
                              note=f"floor = empty conversation; second half of the stream (screen full of text "
                                   f"in both); p90 {common.percentile(frames['history_all'], 90):.1f}"
                                   f" vs {common.percentile(frames['empty_all'], 90):.1f} ms"))
        whole_empty, whole_history = median(frames["empty_whole"]), median(frames["history_whole"])
        results.append(Result("4 long conv", "  same over the whole stream (empty starts blank)", whole_history,
                              "ms", "", None, whole_empty, whole_history / whole_empty,
                              note="the empty conversation's first frames draw mostly blank rows"))

        print(f"opening: {runs * 2 + 1} runs (+1 warm-up)", flush=True)
        empty_open = median(asyncio.run(open_times(sim.base_url, None, runs * 2 + 1)))
        opened = asyncio.run(open_times(sim.base_url, session_id, runs * 2 + 1))
        value = median(opened)
        results.append(Result("4 long conv", f"open {count}-msg session to paint of last msg (headless)", value,
                              "ms", f"< {OPEN_LIMIT_MS:.0f} ms", value < OPEN_LIMIT_MS, empty_open,
                              value / empty_open,
                              note=f"floor = empty conversation; runs {', '.join(f'{t:.0f}' for t in opened)}; "
                                   f"plus store.load {load_ms:.0f} ms before"))
        if tmux:
            real = tmux_open_times(sim.base_url, session_id, max(1, runs), env.env)
            if real:
                value = median(real)
                results.append(Result("4 long conv", f"open {count}-msg session to paint of last msg (tmux)", value,
                                      "ms", f"< {OPEN_LIMIT_MS:.0f} ms", value < OPEN_LIMIT_MS,
                                      note="real terminal: vllm-chat --resume, from VllmChatApp() to the paint"))
    return results


def main() -> int:
    """Command line: run, print the table, optionally write JSON."""
    p = common.parser(__doc__)
    p.add_argument("--messages", type=int, default=MESSAGES)
    p.add_argument("--no-tmux", action="store_true", help="skip the real-terminal run")
    args = p.parse_args()
    results = run(args.quick, args.runs, args.messages, tmux=not args.no_tmux)
    return common.finish(results, "Target 4: long conversations", args.results_json)


if __name__ == "__main__":
    sys.exit(main())
