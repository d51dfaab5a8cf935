"""A program in a real terminal, with every byte it writes recorded: `TappedPane`.

The program runs in a 120x40 pane of a private tmux server (tmux is the
terminal: it answers the program's queries and keeps the screen). Before the
program starts, `tmux pipe-pane -O` hands a copy of everything it writes to
its pty to `bench/_tap.py`, which stores the bytes and when each piece came.
The program waits behind a FIFO until the tap listens, so `launch()` times the
start exactly and no byte is missed.

Afterwards `replay()` feeds the recorded bytes, in the pieces they came in,
through a terminal emulator (pyte) and tells when the screen first showed
something: the moment the bytes that drew it reached the terminal. Nothing
inside the measured program is patched.

`CpuClock` samples a process's CPU time (utime + stime from `/proc/PID/stat`)
every 50 ms in a thread, to read its CPU over any interval afterwards.
"""

from __future__ import annotations

import bisect
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

TAP = Path(__file__).resolve().parent / "_tap.py"
"""The recorder tmux pipes the pane's output to."""
_TICK = os.sysconf("SC_CLK_TCK")
QUIET = 0.003
"""Seconds without output after which the screen counts as drawn (see `TappedPane.replay`)."""

ScreenTest = Callable[[list[str]], bool]
"""Looks at the screen's rows (text only) and says whether it shows what is awaited."""


def pyte_available() -> bool:
    """Whether the terminal emulator used to replay the bytes is installed (the test extra has it)."""
    try:
        import pyte  # noqa: F401
    except ImportError:
        return False
    return True


class TappedPane:
    """`argv` in a 120x40 tmux pane, held until `launch()`; its output recorded with times."""

    def __init__(self, argv: list[str], *, env: dict[str, str], width: int = 120, height: int = 40) -> None:
        self.width, self.height = width, height
        self.root = Path(tempfile.mkdtemp(prefix="vllm-chat-tap-"))
        self.data, self.index = self.root / "data", self.root / "index"
        self.gate = self.root / "gate"
        os.mkfifo(self.gate)
        self.socket = f"vllm-chat-bench-{uuid.uuid4().hex[:10]}"
        self.launched = 0.0
        """`time.time()` when the program was let go (`launch()`)."""
        keep = {k: v for k, v in env.items()
                if k.startswith(("VLLM_CHAT_", "XDG_", "PYTHON")) or k in ("HOME", "PATH", "LANG", "LC_ALL")}
        keep.update(TERM="tmux-256color", COLORTERM="truecolor")
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in keep.items())
        shell = (f"read -r _ < {shlex.quote(str(self.gate))}; "
                 f"exec env {exports} {' '.join(shlex.quote(a) for a in argv)}")
        try:
            self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "bench", "-x", str(width), "-y", str(height),
                       "bash", "-c", shell)
            ready = self.root / "ready"
            tap = " ".join(shlex.quote(str(a)) for a in (sys.executable, TAP, self.data, self.index, ready))
            self._tmux("pipe-pane", "-O", "-t", "bench", f"exec {tap}")
            deadline = time.monotonic() + 30
            while not ready.exists():
                if time.monotonic() > deadline:
                    raise TimeoutError("the output tap did not start")
                time.sleep(0.005)
        except BaseException:
            self.close()
            raise

    def _tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30,
                             env={**os.environ, "TERM": "xterm-256color"})
        if out.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {out.stderr.strip()}")
        return out.stdout

    def launch(self) -> float:
        """Let the program start; returns `time.time()` just before."""
        with open(self.gate, "w") as gate:
            self.launched = time.time()
            gate.write("\n")
        return self.launched

    @property
    def pid(self) -> int:
        """The program's process id (bash execs it, so it is the pane's process)."""
        return int(self._tmux("display-message", "-p", "-t", "bench", "#{pane_pid}").strip())

    @property
    def server_pid(self) -> int:
        """The tmux server's process id (the terminal that parses what the program writes)."""
        return int(self._tmux("display-message", "-p", "#{pid}").strip())

    def type(self, text: str) -> None:
        """Type `text` literally."""
        self._tmux("send-keys", "-t", "bench", "-l", text)

    def press(self, key: str) -> float:
        """Press `key` (tmux's name, e.g. `Enter`); returns `time.time()` just before."""
        now = time.time()
        self._tmux("send-keys", "-t", "bench", key)
        return now

    def screen(self) -> list[str]:
        """The pane's rows as tmux shows them now."""
        return self._tmux("capture-pane", "-p", "-t", "bench").splitlines()

    def wait_screen(self, test: ScreenTest, timeout: float, what: str, step: float = 0.02) -> float:
        """Poll the pane until `test` holds; returns `time.time()` then (TimeoutError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.screen()
            if test(rows):
                return time.time()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the pane never showed {what} within {timeout:.0f} s:\n" + "\n".join(rows))
            time.sleep(step)

    def pieces(self) -> list[tuple[float, int]]:
        """(time, end offset) of every piece recorded so far."""
        out = []
        for line in self.index.read_text().splitlines():
            t, _, end = line.partition(" ")
            if end:
                out.append((float(t), int(end)))
        return out

    def bytes_between(self, start: float, end: float) -> int:
        """Bytes the program wrote to the terminal between two `time.time()` moments."""
        pieces = self.pieces()
        times = [t for t, _ in pieces]

        def offset(at: float) -> int:
            i = bisect.bisect_right(times, at)
            return pieces[i - 1][1] if i else 0

        return offset(end) - offset(start)

    def replay(self, tests: dict[str, tuple[float, ScreenTest]]) -> dict[str, float | None]:
        """For each `name: (since, test)`, the time of the first recorded piece, at or after
        `since`, after which the emulated screen passes `test` (None: it never did).

        The screen is only looked at where the output pauses (`QUIET` s without a byte, or
        the end): a frame is one write, but the terminal may read it in several pieces,
        and halfway through a frame that scrolls, the rows above are new and the rows
        below still old, which can show text that was never on screen as a whole. On a
        busy machine a write can pause halfway too, so a test must also pass at the next
        pause (the write's end) to count."""
        import pyte

        screen = pyte.Screen(self.width, self.height)
        stream = pyte.ByteStream(screen)
        data = self.data.read_bytes()
        pieces = self.pieces()
        found: dict[str, float | None] = dict.fromkeys(tests)
        passed: dict[str, float] = {}
        start = 0
        for i, (at, end) in enumerate(pieces):
            stream.feed(data[start:end])
            start = end
            last = i + 1 == len(pieces)
            if not last and pieces[i + 1][0] - at < QUIET:
                continue  # more of the same write follows
            rows: list[str] | None = None
            for name, (since, test) in tests.items():
                if found[name] is not None or at < since:
                    continue
                rows = screen.display if rows is None else rows
                if not test(rows):
                    passed.pop(name, None)
                elif name in passed or last:
                    found[name] = passed.get(name, at)
                else:
                    passed[name] = at
            if all(v is not None for v in found.values()):
                break
        return found

    def close(self) -> None:
        """Kill the private tmux server (and the program), remove the recording."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
        folder = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (folder / self.socket).unlink(missing_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TappedPane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CpuClock:
    """CPU seconds used by some processes, sampled every `period` s in a thread."""

    def __init__(self, pids: dict[str, int], period: float = 0.05) -> None:
        self.pids = pids
        self.samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(period,), daemon=True)
        self._thread.start()

    @staticmethod
    def cpu_seconds(pid: int) -> float:
        """utime + stime of a process, in seconds."""
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK

    def _run(self, period: float) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                try:
                    self.samples[name].append((time.time(), self.cpu_seconds(pid)))
                except OSError:
                    pass
            self._stop.wait(period)

    def used(self, name: str, start: float, end: float) -> float:
        """CPU seconds `name` used between two `time.time()` moments (linear between samples)."""
        samples = self.samples[name]
        times = [t for t, _ in samples]

        def at(moment: float) -> float:
            i = bisect.bisect_left(times, moment)
            if i == 0:
                return samples[0][1]
            if i >= len(samples):
                return samples[-1][1]
            (t0, c0), (t1, c1) = samples[i - 1], samples[i]
            return c0 + (c1 - c0) * (moment - t0) / (t1 - t0 or 1)

        return at(end) - at(start)

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()


_NOT_INK = re.compile(r"[^A-Za-z0-9]+")


def flat(rows: list[str]) -> str:
    """The screen's letters and digits as one string: no spaces, punctuation, borders,
    bullets or table rules, so Markdown and its rendering flatten alike. Rows are joined
    as they are, so a word the terminal wrapped mid-way (a raw stream hard-wraps at the
    edge) is whole again, as is one the app wrapped at a space."""
    return _NOT_INK.sub("", "".join(rows))


def unique_tail(text: str, least: int = 40) -> str:
    """The shortest run of whole words at the end of `text` (at least `least` characters
    once flattened like `flat`) that occurs nowhere else in it and holds no Markdown marks,
    flattened: seeing it on screen means the very end has been drawn, rendered or raw."""
    words = text.split()
    whole = flat([text])
    for n in range(1, len(words) + 1):
        tail = flat([" ".join(words[-n:])])
        if len(tail) >= least and whole.find(tail) == len(whole) - len(tail):
            if re.search(r"[*`|#_\[\]]", " ".join(words[-n:])):
                raise ValueError(f"the reply's end has Markdown marks in it: {tail!r}")
            return tail
    raise ValueError("no unique tail")
