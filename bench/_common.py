"""Shared helpers for the speed benchmarks (no Textual imports here).

- `bench_env()`: a private data and config folder for one benchmark run, with
  the user's `VLLM_CHAT_*` / `OPENAI_*` settings kept out (in this process and
  in the environment handed to subprocesses).
- `SimProcess`: `vllm-chat-sim` in its own process on a free loopback port, so
  the server never shares the app's interpreter lock or event loop.
- `build_conversation()` / `save_session()`: a session of N mixed messages
  (prose, Markdown with lists, code fences and tables, tool calls with their
  results, reasoning, and PNG attachments stored in the media folder).
- `median`, `percentile`, `Result`, `print_results`, `machine_info`, and the
  `--quick` / `--runs` / `--results-json` command line every script shares.

Not a test: numbers depend on the machine. Nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
"""This folder."""
REPO = BENCH_DIR.parent
"""The checkout the benchmarks run against."""
BIN = Path(sys.executable).parent
"""Where the interpreter's console scripts (`vllm-chat`, `vllm-chat-sim`) are installed."""

LAST_MESSAGE_MARKER = "That closes the saved conversation, marker zq7x."
"""The sentence the last message of a built session ends with: a benchmark knows the
session is on screen when this is visible."""


def command(name: str) -> str:
    """The console script `name` installed next to this interpreter (or on PATH)."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: run `pip install -e .` in {REPO}")
    return found


# -- statistics -------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation, as numpy's default; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Result:
    """One figure of a benchmark, with its floor, ratio and verdict."""

    target: str
    """Which target of the issue it belongs to, e.g. `1 stream`."""
    name: str
    """What was measured."""
    value: float
    """The measured figure (a median unless the name says otherwise)."""
    unit: str
    """Unit of `value` and `floor`: `ms`, `s`, `MB`, `x`."""
    limit: str = ""
    """The target in words, e.g. `<= 1.5x floor` (empty: informational)."""
    passed: bool | None = None
    """PASS/FAIL against the target; None for an informational figure."""
    floor: float | None = None
    """The floor measured in the same run, if the target is relative to one."""
    ratio: float | None = None
    """`value / floor` (or the ratio the target names)."""
    note: str = ""
    """Anything a reader needs to interpret the figure (runs, spread)."""

    @property
    def verdict(self) -> str:
        """PASS, FAIL or `info`."""
        if self.passed is None:
            return "info"
        return "PASS" if self.passed else "FAIL"


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "n/a"
    if unit == "x":
        return f"{value:.2f}x"
    digits = 0 if abs(value) >= 100 else (1 if abs(value) >= 10 else 2)
    return f"{value:.{digits}f} {unit}".rstrip()


def print_results(results: Sequence[Result], title: str = "") -> None:
    """A plain-text table: target, measure, value, floor, ratio, limit, verdict."""
    rows = [("target", "measure", "value", "floor", "ratio", "limit", "verdict")]
    for r in results:
        rows.append((r.target, r.name, _fmt(r.value, r.unit), _fmt(r.floor, r.unit),
                     _fmt(r.ratio, "x") if r.ratio is not None else "", r.limit, r.verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    if title:
        print(f"\n{title}")
    for n, row in enumerate(rows):
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
    notes = [r for r in results if r.note]
    for r in notes:
        print(f"  * {r.name}: {r.note}")


def results_markdown(results: Sequence[Result]) -> str:
    """The same table in Markdown (for bench/README.md)."""
    lines = ["| target | measure | value | floor | ratio | limit | verdict |",
             "|---|---|---:|---:|---:|---|---|"]
    for r in results:
        lines.append(f"| {r.target} | {r.name} | {_fmt(r.value, r.unit)} | {_fmt(r.floor, r.unit)} | "
                     f"{_fmt(r.ratio, 'x') if r.ratio is not None else ''} | {r.limit} | {r.verdict} |")
    return "\n".join(lines)


# -- command line -------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every benchmark script takes.

    Also makes SIGTERM act like Ctrl+C, so that `finally:` blocks stop the
    servers and tmux sessions when run_all.py stops a benchmark that overran.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repetitions and shorter streams")
    p.add_argument("--runs", type=int, help="repetitions (default depends on the script and --quick)")
    p.add_argument("--results-json", metavar="PATH", help="also write the results as JSON (run_all.py uses this)")
    return p


def finish(results: Sequence[Result], title: str, json_path: str | None) -> int:
    """Print the table, write the JSON if asked; exit status 0 (FAIL is a finding, not an error)."""
    print_results(results, title)
    if json_path:
        Path(json_path).write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0


# -- environment ------------------------------------------------------------------


@dataclass
class BenchEnv:
    """Private folders for one benchmark run."""

    root: Path
    """Temporary folder holding everything below (removed at the end)."""
    data_dir: Path
    """`VLLM_CHAT_DATA_DIR`: sessions, media, prompt history."""
    config_home: Path
    """`XDG_CONFIG_HOME`: no config file is there, so defaults apply."""
    env: dict[str, str] = field(default_factory=dict)
    """The environment to hand to subprocesses."""


@contextlib.contextmanager
def bench_env(prefix: str = "vllm-chat-bench-") -> Iterator[BenchEnv]:
    """Point this process (and the env for subprocesses) at fresh data and config folders."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    data, config = root / "data", root / "config"
    data.mkdir()
    config.mkdir()
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("VLLM_CHAT_", "OPENAI_")):
            del os.environ[name]
    os.environ["VLLM_CHAT_DATA_DIR"] = str(data)
    os.environ["XDG_CONFIG_HOME"] = str(config)
    env = dict(os.environ)
    env.setdefault("TERM", "xterm-256color")
    try:
        yield BenchEnv(root, data, config, env)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(root, ignore_errors=True)


# -- the simulated server in its own process ---------------------------------------------

_SERVING = re.compile(r"at (http://\S+/v1)")


def _die_with_parent() -> Any:
    """A `preexec_fn` asking Linux to SIGTERM the child when the benchmark dies, so a
    killed benchmark leaves no server behind; None where that is not available.

    The function is looked up here, in the parent: the child must not import anything
    between fork and exec.
    """
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class SimProcess:
    """`vllm-chat-sim` in a subprocess on a free loopback port (the OS picks it).

    Use as a context manager; the process is terminated (then killed) on exit.
    """

    def __init__(self, *, tps: float = 0.0, ttft: float = 0.0, extra: Sequence[str] = (),
                 env: dict[str, str] | None = None, timeout: float = 20.0) -> None:
        self.args = [command("vllm-chat-sim"), "--host", "127.0.0.1", "--port", "0",
                     "--tps", str(tps), "--ttft", str(ttft), *extra]
        self.env = env
        self.timeout = timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        """`http://127.0.0.1:PORT/v1` once started."""

    def __enter__(self) -> SimProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until it answers `/v1/models`."""
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env, preexec_fn=_die_with_parent())
        try:
            line = self._first_line()
            match = _SERVING.search(line)
            if not match:
                raise RuntimeError(f"vllm-chat-sim did not say where it serves: {line!r}")
            self.base_url = match.group(1)
            self._wait_models()
        except BaseException:
            self.stop()
            raise

    def _first_line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + self.timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError(f"vllm-chat-sim did not start: {buf.decode(errors='replace')!r}")
            if sel.select(left):
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        sel.close()
        return buf.decode(errors="replace")

    def _wait_models(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with urllib.request.urlopen(self.base_url + "/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the server (kill it if it doesn't stop within 5 s)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def expected_long_reply(tokens: int) -> str:
    """The exact text the simulated server sends for `long N` (seed 0, first choice)."""
    from vllm_chat.simserver import longform

    return longform.long_markdown(tokens, seed=0)


# -- sessions with mixed messages ----------------------------------------------------

_QUESTIONS = (
    "How does paged attention decide which blocks to evict when the cache is full?",
    "Can you compare tensor and pipeline parallelism for an 8B model on two GPUs?",
    "What happens to a streaming request when the client disconnects halfway?",
    "Why does the first token take longer than the following ones?",
    "Explain prefix caching with an example of two prompts that share a system prompt.",
)


def _png(path: Path, rng: random.Random, size: tuple[int, int] = (160, 120)) -> Path:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = (x0, y0, x0 + rng.randint(10, 60), y0 + rng.randint(10, 40))
        draw.ellipse(box, fill=tuple(rng.randrange(256) for _ in range(3)))
    img.save(path, "PNG")
    return path


def build_conversation(n_messages: int, *, media_root: Path, seed: int = 1, model: str = "sim-vision") -> Any:
    """A `Conversation` of about `n_messages` messages that exercises every kind of view.

    It repeats a cycle of ten messages: a question; a long Markdown reply
    (headings, lists, code fences, tables, quotes); a question with a PNG
    attachment (generated with Pillow and stored in `media_root` like any
    attachment); an answer with reasoning; a request that needs a tool; the
    assistant's tool call; the tool's result; an answer with a table; a request
    for code; an answer with a code fence. It is cut to end on a plain
    assistant reply, whose text ends with `LAST_MESSAGE_MARKER`. The model is
    the simulated vision model, since the history holds images (a text-only
    model would refuse the next turn).
    """
    from vllm_chat.core.attachments import prepare_attachment
    from vllm_chat.core.config import AttachmentSettings
    from vllm_chat.core.conversation import (
        Conversation,
        Message,
        Timings,
        ToolCall,
        Usage,
    )
    from vllm_chat.simserver import longform

    rng = random.Random(seed)
    conv = Conversation(title=f"Benchmark session of {n_messages} messages", model=model,
                        base_url="http://127.0.0.1:8000/v1")
    images = media_root.parent / "bench-images"
    images.mkdir(parents=True, exist_ok=True)
    settings = AttachmentSettings()
    msgs: list[Any] = []
    i = 0

    def reply(content: str, **kw: Any) -> Any:
        return Message(role="assistant", content=content, model=model, finish_reason="stop",
                       usage=Usage(prompt_tokens=400 + 50 * len(msgs), completion_tokens=len(content) // 4),
                       timings=Timings(started_at=conv.created_at + len(msgs), ttft=0.1, duration=2.0), **kw)

    while len(msgs) < n_messages:
        png = _png(images / f"picture-{i}.png", rng)
        attachment = prepare_attachment(png, settings, media_root=media_root).attachment
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        call = ToolCall(id=f"chatcmpl-tool-{rng.getrandbits(64):016x}", name="calculator",
                        arguments=json.dumps({"expression": f"{a} * {b}"}))
        lang, code = (("python", "def kv_cache_bytes(layers, heads, dim, tokens):\n"
                                 "    return 2 * layers * heads * dim * tokens * 2\n"),
                      ("bash", "vllm serve Qwen/Qwen3-8B --max-model-len 32768 \\\n"
                               "  --enable-auto-tool-choice --tool-call-parser hermes\n"))[i % 2]
        msgs += [
            Message(role="user", content=_QUESTIONS[i % len(_QUESTIONS)]),
            reply(longform.long_markdown(rng.randint(250, 500), seed=i)),
            Message(role="user", content="What is in this picture?", attachments=[attachment]),
            reply(longform.filler(rng.randint(40, 90), rng),
                  reasoning=longform.filler(rng.randint(30, 60), rng)),
            Message(role="user", content="Multiply those two numbers for me, please."),
            Message(role="assistant", content="", tool_calls=[call], model=model, finish_reason="tool_calls"),
            Message(role="tool", tool_call_id=call.id, name="calculator", tool_status="ok",
                    content=str(a * b)),
            reply(f"The result, next to the inputs:\n\n| expression | result |\n|---|---:|\n| `{a} * {b}` | "
                  f"{a * b} |\n\n" + longform.filler(rng.randint(20, 50), rng)),
            Message(role="user", content="Show me the code for that."),
            reply(f"Here it is:\n\n```{lang}\n{code}```\n\n" + longform.filler(rng.randint(30, 80), rng)),
        ]
        i += 1
    del msgs[n_messages:]
    while msgs and not (msgs[-1].role == "assistant" and not msgs[-1].tool_calls):
        msgs.pop()
    msgs[-1].content = msgs[-1].content.rstrip() + "\n\n" + LAST_MESSAGE_MARKER
    conv.messages = msgs
    return conv


def save_session(n_messages: int, *, seed: int = 1) -> tuple[str, int]:
    """Build a conversation of about `n_messages` in the current data folder and save it
    with the store; returns (session id, message count)."""
    from vllm_chat.core.paths import media_dir
    from vllm_chat.core.store import SessionStore

    conv = build_conversation(n_messages, media_root=media_dir(), seed=seed)
    SessionStore().save(conv)
    return conv.id, len(conv.messages)


# -- the machine ---------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    """CPU count and model, RAM, load average now, Python, Textual, Rich and openai versions."""
    info = {"cpus": str(os.cpu_count()), "python": platform.python_version()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    with contextlib.suppress(OSError):
        info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("textual", "rich", "openai"):
        try:
            info[pkg] = version(pkg)
        except PackageNotFoundError:
            info[pkg] = "not installed"
    return info
