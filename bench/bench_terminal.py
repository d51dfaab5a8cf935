"""Benchmark 8: what a user feels in a real terminal, against a bare SDK client in the same terminal.

Not a test (timings depend on the machine). Run:

    /work/venv/bin/python bench/bench_terminal.py [--quick] [--runs N] [--only paced,full]

Needs tmux and pyte (`pip install -e ".[test]"`). Every figure is read from
outside the program: the installed `vllm-chat` (unpatched) runs in a 120x40
tmux pane, a copy of every byte it writes to its pty is recorded with the time
it came (`_terminal.TappedPane`), and those bytes are replayed through a
terminal emulator afterwards to find when the screen first showed something.
Keys are sent with `tmux send-keys`, so they travel the pty as typed ones do.

The floor is `bench/_bare_client.py` in the same kind of pane, run alternately
with the app (floor, app, floor, app...): `AsyncOpenAI` lists the models and
prints the first with its context window, then streams each prompt's reply
printing every piece as it comes. The server is `vllm-chat-sim` in its own
process (`--ttft 0`).

- **every launch**: launch to the model name and context meter on the screen
  (`sim-chat ... ctx N/32k`; the floor prints `sim-chat  ctx ?/32768`),
  target < 400 ms.
- **paced** (`--tps 100`, `long 1500`: 15 s of Markdown with lists, code
  fences and tables, 6.8 KB). One second after the header showed and the
  prompt was typed: Enter to the reply's first visible word on the screen (the
  `A` of its heading `# A long reply`, the second token). Target: at most 30 ms
  more than the floor's (the floor holds the key's trip through the pty, the
  SDK's request and the server's own TTFT: everything a client can't avoid).
  The app's CPU from Enter to the reply's last words on screen, as a share of
  one core (target <= 8 %); the bytes written to the terminal in that time per
  byte of reply text (target <= 40x); then its CPU over 5 s of idling after
  the reply (near zero: < 2 %). The tmux server's CPU (the terminal parsing
  those bytes) is in the notes.
- **full** (full speed, `long 20000`): Enter to the reply's last words on the
  screen. Target <= 1.2x the floor.

"Last words": the shortest unique run of words at the end of the reply
(`_terminal.unique_tail`), so seeing them means the end was drawn. The first
run of each kind is a warm-up (file caches), not counted.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from _common import BENCH_DIR, Result, SimProcess, bench_env, command, expected_long_reply, median  # noqa: E402
from _terminal import CpuClock, TappedPane, flat, pyte_available, unique_tail  # noqa: E402

FIRST_LIMIT_MS = 30.0
"""Enter to the first reply text: at most this much more than the bare SDK client."""
LAUNCH_LIMIT_MS = 400.0
"""Launch to the model name and context meter on screen."""
CPU_LIMIT = 8.0
"""Per cent of one core while a reply streams at `PACED_TPS`."""
IDLE_LIMIT = 2.0
"""Per cent of one core while idle after a reply."""
BYTES_LIMIT = 40.0
"""Bytes written to the terminal per byte of reply text."""
FULL_LIMIT = 1.2
"""App time / floor time for the long reply at full speed."""
PACED_TPS = 100.0
"""Tokens per second of the paced stream."""
KINDS = {"paced": (PACED_TPS, 1500), "full": (0.0, 20_000), "launch": (0.0, 0), "first": (PACED_TPS, 300)}
"""Kind -> (server tok/s, reply tokens). Not in a default run: `launch` only starts the
program, `first` only times the first text of a short reply (both are in `paced` too)."""
SETTLE = 1.0
"""Seconds between the header showing and typing, and between typing and Enter: a user
reads before typing, and the app's start-up and per-key work (the context meter's
recount after a pause) is over."""
IDLE = 5.0
"""Seconds of idling measured after the paced reply."""

_HEADER = re.compile(r"sim-chat\b.*ctx \S*/\d")
_FIRST = re.compile(r"[\s\u2588#]*A\b")
"""A row starting with the reply's first visible word: `long N` replies open with the
heading `# A long reply`, tokens `#`, ` A`, ` long`... (the app draws `█ A`, the floor `# A`)."""


def header_shown(rows: list[str]) -> bool:
    """The served model's name and the context meter are on screen."""
    return any(_HEADER.search(row) for row in rows)


def first_shown(rows: list[str]) -> bool:
    """The reply's first visible word is on screen."""
    return any(_FIRST.match(row) for row in rows)


def run_once(who: str, kind: str, base_url: str, env: dict[str, str], tokens: int) -> dict[str, Any]:
    """One launch of the app (or the floor) in a tapped pane, one prompt; its figures."""
    argv = ([command("vllm-chat"), "--base-url", base_url] if who == "app"
            else [sys.executable, str(BENCH_DIR / "_bare_client.py"), base_url])
    prompt = f"long {tokens}"
    with TappedPane(argv, env=env) as pane:
        launched = pane.launch()
        pane.wait_screen(header_shown, 120, "the model name and context meter", step=0.05)
        if not tokens:
            shown = pane.replay({"header": (launched, header_shown)})["header"]
            if shown is None:
                raise RuntimeError(f"{who}: the replayed screen never showed the header")
            return {"launch_ms": (shown - launched) * 1000}
        reply = expected_long_reply(tokens)
        tail = unique_tail(reply)
        clock = CpuClock({"proc": pane.pid, "tmux": pane.server_pid})
        try:
            time.sleep(SETTLE)
            pane.type(prompt)
            pane.wait_screen(lambda rows: prompt in "\n".join(rows), 30, "the typed prompt", step=0.05)
            time.sleep(SETTLE)
            enter = pane.press("Enter")
            pane.wait_screen(lambda rows: tail in flat(rows), 900, "the reply's last words", step=0.2)
            idle = (0.0, 0.0)
            if kind == "paced":
                time.sleep(1.0)
                start = time.time()
                time.sleep(IDLE)
                idle = (start, time.time())
        finally:
            clock.stop()
        tests = {"header": (launched, header_shown), "done": (enter, lambda rows: tail in flat(rows))}
        if tps := KINDS[kind][0]:  # at full speed a long reply scrolls its heading away before a frame shows it
            tests["first"] = (enter, first_shown)
        found = pane.replay(tests)
        if None in found.values():
            raise RuntimeError(f"{who}: the replayed screen never showed {found}")
        done = found["done"]
        out = {
            "launch_ms": (found["header"] - launched) * 1000,
            "done_s": done - enter,
            "cpu_pct": clock.used("proc", enter, done) / (done - enter) * 100,
            "tmux_pct": clock.used("tmux", enter, done) / (done - enter) * 100,
            "bytes": pane.bytes_between(enter - 0.001, done),
            "per_byte": pane.bytes_between(enter - 0.001, done) / len(reply.encode()),
        }
        if tps:
            out["first_ms"] = (found["first"] - enter) * 1000
        if idle[1]:
            out["idle_pct"] = clock.used("proc", *idle) / (idle[1] - idle[0]) * 100
        return out


def measure(kinds: list[str], runs: int, env: dict[str, str], urls: dict[float, str],
            tokens: dict[str, int]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Alternate floor and app launches for each kind; the first of each is a warm-up."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {k: {"floor": [], "app": []} for k in kinds}
    for run in range(runs + 1):
        for kind in kinds:
            tps, _ = KINDS[kind]
            for who in ("floor", "app"):
                figures = run_once(who, kind, urls[tps], env, tokens[kind])
                label = "warm-up" if run == 0 else f"run {run}"
                shown = ", ".join(f"{k} {v:.3g}" for k, v in figures.items())
                print(f"  {kind} {label} {who:5}: {shown}", flush=True)
                if run:
                    out[kind][who].append(figures)
    return out


def _med(items: list[dict[str, Any]], key: str) -> float:
    return median([i[key] for i in items])


def _values(items: list[dict[str, Any]], key: str, fmt: str = "{:.0f}") -> str:
    return ", ".join(fmt.format(i[key]) for i in items)


def results(data: dict[str, dict[str, list[dict[str, Any]]]], tokens: dict[str, int]) -> list[Result]:
    """The rows of the table from the measured runs."""
    rows: list[Result] = []
    launches = {who: [r for kind in data.values() for r in kind[who]] for who in ("floor", "app")}
    if launches["app"]:
        app, floor = _med(launches["app"], "launch_ms"), _med(launches["floor"], "launch_ms")
        rows.append(Result("8 terminal", "launch to model name and context meter on screen", app, "ms",
                           f"< {LAUNCH_LIMIT_MS:.0f} ms", app < LAUNCH_LIMIT_MS, floor, app / floor,
                           note=f"floor = bare AsyncOpenAI client listing the models; app: "
                                f"{_values(launches['app'], 'launch_ms')} ms; floor: "
                                f"{_values(launches['floor'], 'launch_ms')} ms"))
    if "paced" in data or "first" in data:
        d = {who: [r for kind in ("paced", "first") if kind in data for r in data[kind][who]]
             for who in ("floor", "app")}
        app, floor = _med(d["app"], "first_ms"), _med(d["floor"], "first_ms")
        rows.append(Result("8 terminal", "Enter to first reply text on screen, beyond the bare SDK client",
                           app - floor, "ms", f"<= {FIRST_LIMIT_MS:.0f} ms", app - floor <= FIRST_LIMIT_MS,
                           note=f"Enter to text: app {app:.0f} ms ({_values(d['app'], 'first_ms')}), "
                                f"bare SDK client {floor:.0f} ms ({_values(d['floor'], 'first_ms')}); "
                                "server TTFT 0"))
    if "paced" in data:
        d = data["paced"]
        n = tokens["paced"]
        app, floor = _med(d["app"], "cpu_pct"), _med(d["floor"], "cpu_pct")
        rows.append(Result("8 terminal", f"CPU while streaming {n} tok at {PACED_TPS:.0f} tok/s (% of a core)",
                           app, "%", f"<= {CPU_LIMIT:.0f} %", app <= CPU_LIMIT, floor, app / floor if floor else None,
                           note=f"app: {_values(d['app'], 'cpu_pct', '{:.1f}')} %; floor: "
                                f"{_values(d['floor'], 'cpu_pct', '{:.1f}')} %; tmux server meanwhile: app "
                                f"{_med(d['app'], 'tmux_pct'):.1f} %, floor {_med(d['floor'], 'tmux_pct'):.1f} %"))
        app, floor = _med(d["app"], "per_byte"), _med(d["floor"], "per_byte")
        rows.append(Result("8 terminal", "bytes to the terminal per byte of reply, same stream", app, "x",
                           f"<= {BYTES_LIMIT:.0f}x", app <= BYTES_LIMIT, floor, app / floor,
                           note=f"app: {_values(d['app'], 'bytes')} bytes; floor: "
                                f"{_values(d['floor'], 'bytes')} bytes"))
        idle = _med(d["app"], "idle_pct")
        rows.append(Result("8 terminal", f"  CPU idling {IDLE:.0f} s after that reply", idle, "%",
                           f"< {IDLE_LIMIT:.0f} %", idle < IDLE_LIMIT,
                           note=f"app: {_values(d['app'], 'idle_pct', '{:.2f}')} %"))
    if "full" in data:
        d = data["full"]
        n = tokens["full"]
        app, floor = _med(d["app"], "done_s"), _med(d["floor"], "done_s")
        rows.append(Result("8 terminal", f"{n} tok at full speed, Enter to last words on screen", app, "s",
                           f"<= {FULL_LIMIT}x floor", app <= FULL_LIMIT * floor, floor, app / floor,
                           note=f"app: {_values(d['app'], 'done_s', '{:.2f}')} s "
                                f"({_values(d['app'], 'per_byte', '{:.0f}')} bytes per byte); floor: "
                                f"{_values(d['floor'], 'done_s', '{:.2f}')} s"))
    return rows


def run(quick: bool = False, runs: int | None = None, only: list[str] | None = None) -> list[Result]:
    """Run the benchmark; the results for the table."""
    from _tmux import tmux_available

    if not tmux_available() or not pyte_available():
        print("  needs tmux and pyte (pip install -e '.[test]'): skipped", flush=True)
        return []
    runs = runs or (2 if quick else 5)
    kinds = only or ["paced", "full"]
    tokens = {k: n for k, (_, n) in KINDS.items()}
    if quick:
        tokens.update(paced=600, full=5000)
    with bench_env() as env:
        urls: dict[float, str] = {}
        sims = []
        try:
            for tps in sorted({KINDS[k][0] for k in kinds}):
                sim = SimProcess(tps=tps, env=env.env)
                sim.start()
                sims.append(sim)
                urls[tps] = sim.base_url
            print(f"{', '.join(kinds)}: {runs} runs (+1 warm-up) each, floor and app alternating", flush=True)
            data = measure(kinds, runs, env.env, urls, tokens)
        finally:
            for sim in sims:
                sim.stop()
    return results(data, tokens)


def main() -> int:
    """Command line: run, print the table, optionally write JSON."""
    p = common.parser(__doc__)
    p.add_argument("--only", help=f"comma-separated subset of: {', '.join(KINDS)}")
    args = p.parse_args()
    only = [k.strip() for k in args.only.split(",")] if args.only else None
    if only and (unknown := [k for k in only if k not in KINDS]):
        p.error(f"unknown kind(s): {', '.join(unknown)}")
    results_ = run(args.quick, args.runs, only)
    return common.finish(results_, "Target 8: in a real terminal, against a bare SDK client", args.results_json)


if __name__ == "__main__":
    sys.exit(main())
