"""Run every speed benchmark and print one table of figures, floors, ratios and verdicts.

    /work/venv/bin/python bench/run_all.py [--quick] [--only stream,memory] [--rev REV]
                                           [--markdown PATH] [--no-tmux]

Each benchmark runs as its own process (`bench/bench_*.py --results-json ...`),
so one's patches, event loops and memory can't affect another's numbers; its
own progress lines are shown as it goes. `--quick` gives fewer repetitions
and shorter streams (for a smoke check, not for numbers to quote).

`--rev REV` measures a commit instead of the working tree: the commit is
exported with `git archive` (nothing in the checkout changes) into a
temporary folder that goes first on `PYTHONPATH` of every process, the
installed console scripts included. `--markdown PATH` writes the table in
Markdown, for bench/README.md.

Not a test: FAIL is a finding. The exit status is 1 only if a benchmark
crashed or timed out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_DIR,
    REPO,
    Result,
    machine_info,
    print_results,
    results_markdown,
)

BENCHMARKS = {
    "stream": "bench_stream.py",
    "flat_cost": "bench_flat_cost.py",
    "responsiveness": "bench_responsiveness.py",
    "long_conversation": "bench_long_conversation.py",
    "startup": "bench_startup.py",
    "memory": "bench_memory.py",
    "context_meter": "bench_context_meter.py",
    "terminal": "bench_terminal.py",
}
"""Name (for --only) -> script, in the order they run."""
TIMEOUT = {"quick": 900, "full": 3600}
"""Seconds one benchmark may take."""
TMUX_AWARE = {"stream", "long_conversation", "startup"}
"""Benchmarks that take --no-tmux."""


def export_rev(rev: str) -> tuple[Path, str]:
    """`git archive REV` unpacked into a temporary folder; (folder, short hash)."""
    short = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], check=True,
                           capture_output=True, text=True).stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix=f"vllm-chat-{short}-"))
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder, short


def describe_source(rev: str | None, short: str | None) -> str:
    """Which code is measured, in words."""
    if rev:
        return f"commit {short}" + ("" if short and rev.startswith(short) else f" ({rev})")
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "vllm_chat"],
                           capture_output=True, text=True).stdout.strip()
    return f"working tree at {head}" + (" with uncommitted changes in vllm_chat/" if dirty else "")


def run_one(name: str, quick: bool, env: dict[str, str], no_tmux: bool) -> tuple[list[Result], str]:
    """Run one benchmark script; (its results, '' or what went wrong)."""
    fd, out = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".json")
    os.close(fd)
    argv = [sys.executable, str(BENCH_DIR / BENCHMARKS[name]), "--results-json", out]
    if quick:
        argv.append("--quick")
    if no_tmux and name in TMUX_AWARE:
        argv.append("--no-tmux")
    print(f"\n=== {name}: {' '.join(argv[1:2] + argv[4:])}", flush=True)
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env)
    try:
        try:
            proc.wait(TIMEOUT["quick" if quick else "full"])
        except subprocess.TimeoutExpired:
            proc.terminate()  # the script turns SIGTERM into Ctrl+C and cleans up
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return [], "timed out"
        data = json.loads(Path(out).read_text() or "[]")
        problem = "" if proc.returncode == 0 else f"exited with status {proc.returncode}"
        return [Result(**item) for item in data], problem
    except (OSError, ValueError) as exc:
        return [], f"no results ({exc})"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        Path(out).unlink(missing_ok=True)
        print(f"=== {name} took {time.monotonic() - start:.0f} s", flush=True)


def main() -> int:
    """Command line: run the chosen benchmarks, print and optionally save the table."""
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions, shorter streams")
    p.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    p.add_argument("--rev", help="measure this commit (git archive) instead of the working tree")
    p.add_argument("--markdown", metavar="PATH", help="also write the results table in Markdown")
    p.add_argument("--no-tmux", action="store_true", help="skip the real-terminal measurements")
    args = p.parse_args()

    names = list(BENCHMARKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown:
            p.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    env = dict(os.environ)
    folder = short = None
    if args.rev:
        folder, short = export_rev(args.rev)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH", "")]))
    source = describe_source(args.rev, short)
    info = machine_info()
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"vllm-chat speed benchmarks, {when}; measuring {source}")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    load = os.getloadavg()[0]
    busy = (f"the load average was {load:.2f} before the benchmarks started: other processes were "
            "using the CPU, so these numbers are pessimistic; re-run on a quiet machine") if load > 0.7 else ""
    if busy:
        print(f"note: {busy}")

    results: list[Result] = []
    problems: list[str] = []
    try:
        for name in names:
            found, problem = run_one(name, args.quick, env, args.no_tmux)
            results += found
            if problem:
                problems.append(f"{name}: {problem}")
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    if busy:
        print(f"\nnote: {busy}")
    print_results(results, f"All targets ({'quick' if args.quick else 'full'} run, {source}, {when})")
    for problem in problems:
        print(f"  ERROR {problem}")
    if args.markdown:
        header = (f"Measured {when} on {source} ({'quick' if args.quick else 'full'} run); machine: "
                  + ", ".join(f"{k} {v}" for k, v in info.items()) + ".\n\n")
        Path(args.markdown).write_text(header + results_markdown(results) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
