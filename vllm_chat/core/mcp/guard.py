"""The guard a stdio MCP server runs under, so that it never outlives vllm-chat.

vllm-chat starts `python -I -S guard.py PROGRAM ARGS...` instead of the
server itself. The SDK gives the guard a process group of its own; the guard
starts the server in that group, handing it the same stdin, stdout and
stderr, and then waits. It stops the whole group (SIGTERM, then SIGKILL
after `GRACE` seconds) when

- vllm-chat dies, however it dies (SIGTERM, a crash, SIGKILL): on Linux the
  kernel tells the guard at once (`PR_SET_PDEATHSIG`), elsewhere it notices
  within a second that its parent changed;
- the guard itself is told to stop (the SDK's own shutdown signals the group);
- the server exits, taking along anything it left running in the group.

When the server is gone the guard writes one last stderr line,
`EXIT_MARK <status>`, which the client reads to say how the server ended,
and exits with the server's status. Only the standard library is used, so
the guard starts in a few milliseconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

EXIT_MARK = "[vllm-chat: mcp server exit status]"
"""Start of the guard's last stderr line; the exit status follows it."""

GRACE = 3.0
"""Seconds between SIGTERM and SIGKILL when the group is stopped."""

_PR_SET_PDEATHSIG = 1
_STOPS = {signal.SIGTERM, signal.SIGHUP, signal.SIGALRM}


def _ask_for_parent_death_signal() -> None:
    """On Linux, have the kernel send SIGTERM to this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the polling thread below still notices


class _Guard:
    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.parent = os.getppid()
        self.stopping = False

    def stop_group(self, *_: object) -> None:
        """SIGTERM to every process of the group (this one ignores it), SIGKILL after GRACE.

        A signal handler, and signals come in bursts (SIGTERM and SIGHUP, the parent's
        death): a second one runs this again inside the first. So it takes no lock and
        starts no thread (a nested call would wait forever on the lock the interrupted one
        holds); the kernel's timer sends the SIGKILL."""
        if self.stopping:
            return
        self.stopping = True
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        _signal_group(signal.SIGTERM)
        signal.signal(signal.SIGALRM, lambda *_: _signal_group(signal.SIGKILL))
        signal.setitimer(signal.ITIMER_REAL, GRACE)

    def watch_parent(self) -> None:
        """Where the kernel can't tell us (not Linux), notice the parent's death by polling."""
        while not self.stopping:
            if os.getppid() != self.parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(1.0)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop_group)
        signal.signal(signal.SIGHUP, self.stop_group)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl+c in the terminal is vllm-chat's
        _ask_for_parent_death_signal()
        if os.getppid() != self.parent:  # the parent died before the signal was armed
            return 1
        try:
            child = subprocess.Popen(self.argv)
        except OSError as exc:
            reason = "no such program" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
            sys.stderr.write(f"cannot start {self.argv[0]!r}: {reason}\n")
            _report(127 if isinstance(exc, FileNotFoundError) else 126)
            return 127
        # The server holds the pipes now; the guard's copies would hide its exit from the client.
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        # The stop signals go to the main thread only: there they interrupt the wait for the
        # server; taken by the watching thread, they would wait until the server exits by
        # itself. The thread inherits the mask, so it never has them unblocked.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
        threading.Thread(target=self.watch_parent, daemon=True).start()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
        status = child.wait()
        # Whatever the server left running in the group goes with it.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _signal_group(signal.SIGTERM)
        _report(status)
        return status if status >= 0 else 128 - status


def _signal_group(sig: int) -> None:
    try:
        os.killpg(os.getpgrp(), sig)
    except OSError:
        pass


def _report(status: int) -> None:
    try:
        sys.stderr.write(f"{EXIT_MARK} {status}\n")
        sys.stderr.flush()
    except OSError:
        pass


def main(argv: list[str]) -> int:
    """Run `argv` under the guard; returns its exit status."""
    if not argv:
        sys.stderr.write("usage: guard.py PROGRAM [ARGS...]\n")
        return 2
    return _Guard(argv).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
