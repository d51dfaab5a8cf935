"""Benchmark 5: start-up — `--version`, the TUI ready for input, and one-shot `-p`.

Not a test (timings depend on the machine). Run:

    /work/venv/bin/python bench/bench_startup.py [--quick] [--runs N] [--no-tmux]

- **`vllm-chat --version`:** wall time of the installed console script, run
  as a subprocess (warm `.pyc`), median of >= 10 runs; floor: `python -c pass`
  with the same interpreter, measured alternately. Target: < 150 ms.
- **TUI ready for input:** the installed app in a 120x40 tmux pane (a real
  terminal that answers the graphics probes), through `bench/_startup_probe.py`,
  which runs `vllm_chat.cli.main` after patching Textual: "ready" is the first
  paint with the chat screen current and the prompt focused. Timed from just
  before tmux is asked to start the process. The floor is the same launch of
  `python -c` that records the time it starts (tmux + bash + interpreter).
  Also recorded: when the model list arrived (`ChatSession.connect()` returned),
  "ready" with no server listening at all (the connection must not hold up
  the first paint), and, as a cross-check without any probe, when the plain
  `vllm-chat`'s prompt box first appears in the pane (`capture-pane` polled
  every 10 ms). Target: ready < 500 ms (median).
- **One-shot:** `vllm-chat -p hello` against a simulated server with
  `--ttft 0.5`, from spawning the process to the first byte of the reply on its
  stdout (a pipe). Floor: a bare `python -c` process that imports the SDK,
  makes the same streamed request with `AsyncOpenAI` (model known) and writes
  the first content delta: the least any Python client built on the SDK can do.
  The difference is what vllm-chat adds; target < 100 ms. Measured plain
  (vllm-chat asks the server for its models first, as users run it) and with
  `-m sim-chat` (the same information as the floor). Runs alternate.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from _common import Result, SimProcess, bench_env, command, median  # noqa: E402

VERSION_LIMIT_MS = 150.0
READY_LIMIT_MS = 500.0
ONESHOT_LIMIT_MS = 100.0
TTFT = 0.5
"""The simulated server's time to first token for the one-shot runs."""

FLOOR_CLIENT = """
import asyncio, sys
from openai import AsyncOpenAI
async def main(url):
    client = AsyncOpenAI(base_url=url, api_key="EMPTY", max_retries=0)
    stream = await client.chat.completions.create(
        model="sim-chat", messages=[{"role": "user", "content": "hello"}], stream=True)
    async for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                sys.stdout.write(choice.delta.content)
                sys.stdout.flush()
    await client.close()
asyncio.run(main(sys.argv[1]))
"""


def wall_ms(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of a subprocess that must exit 0."""
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=60)
    return (time.perf_counter() - start) * 1000


def first_byte_ms(argv: list[str], env: dict[str, str], timeout: float = 60.0) -> float:
    """Ms from spawning to the first byte on the process's stdout; waits for it to exit 0."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"no output from {argv[0]} within {timeout} s")
        first = time.perf_counter()
        if not os.read(proc.stdout.fileno(), 1):
            raise RuntimeError(f"{argv} printed nothing: {proc.stderr.read().decode() if proc.stderr else ''}")
        _, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv} exited {proc.returncode}: {err.decode(errors='replace')}")
        return (first - start) * 1000
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def version_results(runs: int, env: dict[str, str]) -> list[Result]:
    """`vllm-chat --version` against `python -c pass`, alternating."""
    app, floor = [], []
    argv_app, argv_floor = [command("vllm-chat"), "--version"], [sys.executable, "-c", "pass"]
    wall_ms(argv_app, env)
    wall_ms(argv_floor, env)
    for _ in range(runs):
        floor.append(wall_ms(argv_floor, env))
        app.append(wall_ms(argv_app, env))
    value, base = median(app), median(floor)
    print(f"  --version: {value:.1f} ms (python -c pass {base:.1f} ms), {runs} runs", flush=True)
    return [Result("5 start-up", "vllm-chat --version", value, "ms", f"< {VERSION_LIMIT_MS:.0f} ms",
                   value < VERSION_LIMIT_MS, base, value / base,
                   note=f"floor = python -c pass; {runs} runs, slowest {max(app):.0f} ms")]


def ready_results(runs: int, env: dict[str, str], base_url: str) -> list[Result]:
    """The TUI in tmux: launch to ready (with and without a server), and the launch floor."""
    from _tmux import TmuxCommand, TmuxProbe, tmux_available

    if not tmux_available():
        print("  tmux is not installed: TUI start-up skipped", flush=True)
        return []
    launch, ready, connected, offline, seen = [], [], [], [], []
    stamp = Path(env["VLLM_CHAT_DATA_DIR"]) / "launched"
    for run in range(runs + 1):
        stamp.unlink(missing_ok=True)
        code = f"import time; open({str(stamp)!r}, 'w').write(repr(time.time()))"
        with TmuxCommand([sys.executable, "-c", code], env=env) as cmd:
            deadline = time.monotonic() + 30
            while not stamp.exists() or not stamp.read_text():
                if time.monotonic() > deadline:
                    raise TimeoutError("the launch probe did not run")
                time.sleep(0.002)
            started = (float(stamp.read_text()) - cmd.launched) * 1000
        with TmuxProbe(["--base-url", base_url], env=env) as probe:
            r = (probe.wait_for("ready", 30)["t"] - probe.launched) * 1000
            c = (probe.wait_for("connected", 30)["t"] - probe.launched) * 1000
        # No server at all: the app must still be ready at once (it retries in the background).
        with TmuxProbe(["--base-url", "http://127.0.0.1:9/v1"], env=env) as probe:
            o = (probe.wait_for("ready", 30)["t"] - probe.launched) * 1000
        # Without the probe: poll the pane until the prompt's box is drawn (a cross-check).
        with TmuxCommand([command("vllm-chat"), "--base-url", base_url], env=env) as cmd:
            deadline = time.monotonic() + 30
            while not ("\u256d" in (screen := cmd.screen()) and "\u2570" in screen):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"vllm-chat did not draw its prompt: {screen}")
                time.sleep(0.01)
            v = (time.time() - cmd.launched) * 1000
        print(f"  {'warm-up' if not run else f'run {run}'}: ready {r:.0f} ms, model list {c:.0f} ms, "
              f"ready with no server {o:.0f} ms, prompt box seen in the pane {v:.0f} ms; "
              f"launch floor {started:.0f} ms", flush=True)
        if run:
            launch.append(started)
            ready.append(r)
            connected.append(c)
            offline.append(o)
            seen.append(v)
    value, base = median(ready), median(launch)
    return [
        Result("5 start-up", "TUI ready for input (first paint, prompt focused; tmux)", value, "ms",
               f"< {READY_LIMIT_MS:.0f} ms", value < READY_LIMIT_MS, base, value / base,
               note=f"floor = tmux launching python -c; model list at {median(connected):.0f} ms; "
                    f"{runs} runs, slowest {max(ready):.0f} ms"),
        Result("5 start-up", "  TUI ready with no server listening", median(offline), "ms",
               f"< {READY_LIMIT_MS:.0f} ms", median(offline) < READY_LIMIT_MS),
        Result("5 start-up", "  prompt box seen in tmux (no probe, polled)", median(seen), "ms",
               note="plain vllm-chat; capture-pane every 10 ms until a round box corner shows: "
                    "checks that the probe's own cost is small"),
    ]


def oneshot_results(runs: int, env: dict[str, str], base_url: str) -> list[Result]:
    """First reply byte of `vllm-chat -p` (plain and with -m) against a bare SDK process."""
    floor, plain, named = [], [], []
    argv_floor = [sys.executable, "-c", FLOOR_CLIENT, base_url]
    argv_plain = [command("vllm-chat"), "--base-url", base_url, "-p", "hello"]
    argv_named = [*argv_plain, "-m", "sim-chat"]
    for run in range(runs + 1):
        f, p, n = first_byte_ms(argv_floor, env), first_byte_ms(argv_plain, env), first_byte_ms(argv_named, env)
        print(f"  {'warm-up' if not run else f'run {run}'}: first byte: floor {f:.0f} ms, "
              f"vllm-chat -p {p:.0f} ms, with -m {n:.0f} ms (server TTFT {TTFT * 1000:.0f} ms)", flush=True)
        if run:
            floor.append(f)
            plain.append(p)
            named.append(n)
    base = median(floor)
    results = []
    for label, values in (("vllm-chat -p: added to first reply byte", plain),
                          ("  same with -m sim-chat", named)):
        value = median(values)
        results.append(Result("5 start-up", label, value - base, "ms", f"< {ONESHOT_LIMIT_MS:.0f} ms",
                              value - base < ONESHOT_LIMIT_MS,
                              note=f"first byte {value:.0f} ms vs floor {base:.0f} ms (bare SDK process); "
                                   f"minus TTFT: {value - TTFT * 1000:.0f} vs {base - TTFT * 1000:.0f} ms"))
    return results


def compile_bytecode() -> None:
    """Compile the package to bytecode first, as `pip install` does: an editable
    checkout run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile ~80
    modules from source on every start (about 80 ms)."""
    import compileall

    import vllm_chat

    compileall.compile_dir(Path(vllm_chat.__file__).parent, quiet=1)


def run(quick: bool = False, runs: int | None = None, tmux: bool = True) -> list[Result]:
    """Run the benchmark; the results for the table."""
    results: list[Result] = []
    compile_bytecode()
    with bench_env() as env:
        print("--version", flush=True)
        results += version_results(runs or (10 if quick else 20), env.env)
        with SimProcess(env=env.env) as sim:
            if tmux:
                print("TUI ready for input (tmux)", flush=True)
                results += ready_results(runs or (3 if quick else 7), env.env, sim.base_url)
        with SimProcess(ttft=TTFT, env=env.env) as sim:
            print(f"one-shot -p (server TTFT {TTFT} s)", flush=True)
            results += oneshot_results(runs or (3 if quick else 7), env.env, sim.base_url)
    return results


def main() -> int:
    """Command line: run, print the table, optionally write JSON."""
    p = common.parser(__doc__)
    p.add_argument("--no-tmux", action="store_true", help="skip the TUI start-up in tmux")
    args = p.parse_args()
    results = run(args.quick, args.runs, tmux=not args.no_tmux)
    return common.finish(results, "Target 5: start-up", args.results_json)


if __name__ == "__main__":
    sys.exit(main())
