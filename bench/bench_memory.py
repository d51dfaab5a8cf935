"""Benchmark 6: memory of a 2,000-message session open in the app.

Not a test (numbers depend on the machine). Run:

    /work/venv/bin/python bench/bench_memory.py [--quick] [--runs N] [--messages 2000]

The session (`_common.build_conversation`: prose, long Markdown replies,
reasoning, tool calls and results, PNG attachments in the media folder) is
saved with the store. Then the installed `vllm-chat --resume ID` runs in a
real terminal (a 120x40 tmux pane) through `bench/_startup_probe.py`, which
notes the first paint that shows the last message's final sentence. The
benchmark reads `VmRSS` from `/proc/PID/status` right then and again after
`SETTLE` seconds (thumbnails decode in worker threads, the model list
arrives), and `VmHWM` (the peak) at that point. Figure: the larger RSS of the
two readings, median of runs; target < 300 MB. Floor: the same app with an
empty conversation, read the same way after its first ready paint.

Without tmux there is no terminal to run the app in, and the benchmark says so.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from _common import LAST_MESSAGE_MARKER, Result, SimProcess, bench_env, median  # noqa: E402

MESSAGES = 2000
"""Messages in the session."""
LIMIT_MB = 300.0
SETTLE = 2.0
"""Seconds after the first paint before the second reading."""


def measure(args: list[str], env: dict[str, str], marker: str | None) -> tuple[float, float, float, float]:
    """(RSS at the paint, RSS after SETTLE s, peak RSS) in MB, and ms from launch to the paint."""
    from _tmux import TmuxProbe, rss_mb

    with TmuxProbe(args, env=env, marker=marker) as probe:
        painted = probe.wait_for("shown" if marker else "ready", timeout=120)
        pid = probe.pid
        assert pid is not None
        first, _ = rss_mb(pid)
        time.sleep(SETTLE)
        later, peak = rss_mb(pid)
    return first, later, peak, (painted["t"] - probe.launched) * 1000


def run(quick: bool = False, runs: int | None = None, messages: int = MESSAGES) -> list[Result]:
    """Run the benchmark; the results for the table."""
    from _tmux import tmux_available

    runs = runs or (1 if quick else 3)
    if not tmux_available():
        print("tmux is not installed: the memory benchmark needs a terminal to run the app in")
        return [Result("6 memory", "skipped: tmux not installed", float("nan"), "MB")]
    with bench_env() as env, SimProcess(env=env.env) as sim:
        start = time.perf_counter()
        session_id, count = common.save_session(messages)
        size = sum(p.stat().st_size for p in (env.data_dir / "sessions").glob("*.json")) / 1e6
        print(f"session of {count} messages, {size:.1f} MB on disk, built in {time.perf_counter() - start:.1f} s",
              flush=True)
        empty, full, peaks, shown = [], [], [], []
        for run in range(runs):
            e = measure(["--base-url", sim.base_url], env.env, None)
            f = measure(["--base-url", sim.base_url, "--resume", session_id], env.env, LAST_MESSAGE_MARKER)
            print(f"  run {run + 1}: empty {e[0]:.0f} -> {e[1]:.0f} MB; {count} messages {f[0]:.0f} -> "
                  f"{f[1]:.0f} MB (peak {f[2]:.0f} MB; on screen {f[3]:.0f} ms after launch)", flush=True)
            empty.append(max(e[:2]))
            full.append(max(f[:2]))
            peaks.append(f[2])
            shown.append(f[3])
    value, base = median(full), median(empty)
    return [Result("6 memory", f"RSS with a {count}-message session open (tmux)", value, "MB",
                   f"< {LIMIT_MB:.0f} MB", value < LIMIT_MB, base, value / base,
                   note=f"floor = empty conversation; peak (VmHWM) {median(peaks):.0f} MB; "
                        f"session file {size:.1f} MB; last message on screen {median(shown):.0f} ms "
                        "after launch")]


def main() -> int:
    """Command line: run, print the table, optionally write JSON."""
    p = common.parser(__doc__)
    p.add_argument("--messages", type=int, default=MESSAGES)
    args = p.parse_args()
    results = run(args.quick, args.runs, args.messages)
    return common.finish(results, "Target 6: memory", args.results_json)


if __name__ == "__main__":
    sys.exit(main())
