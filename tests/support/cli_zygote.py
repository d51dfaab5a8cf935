"""The process the CLI tests' `vllm-chat` runs are forked from (see `tests.support.cli`).

It imports what a `vllm-chat` command imports as it starts (a third of a second of CPU,
three quarters of a one-shot run's), then waits on a Unix socket until its stdin closes
(the test process ended). For each connection it reads a run (arguments, environment,
folder) and the run's stdin, stdout and stderr, and forks a watcher, which forks the run
and reports its pid, then its exit status.

The run is `vllm-chat` from then on, as its console script runs it: `sys.exit(main())`,
with the interpreter's own ending (waiting for threads, exit handlers, flushing).

    python -m tests.support.cli_zygote SOCKET_PATH COMMAND_PATH
"""

from __future__ import annotations

import atexit
import io
import json
import os
import select
import signal
import socket
import sys
import threading
import traceback

PRELOADED = ("vllm_chat.cli", "vllm_chat.core.config", "vllm_chat.core.session", "vllm_chat.oneshot",
             "vllm_chat.sessions_cli", "vllm_chat.core.plain_stream", "vllm_chat.core.transport")
"""What a one-shot run imports before it sends anything."""


def main(path: str, command: str) -> None:
    import importlib

    for module in PRELOADED:
        importlib.import_module(module)
    assert threading.active_count() == 1, "a module started a thread as it was imported: forking would lose it"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # watchers are reaped by the kernel
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready:  # the test process closed our stdin: it ended, or it died
            return
        connection, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            _watch(connection, command)
        connection.close()


def _watch(connection: socket.socket, command: str) -> None:
    """In the watcher: fork the run, report its pid and then how it ended; never returns."""
    header, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    request = json.loads(header)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:
        connection.close()
        _run(request, fds, command)
    for fd in fds:
        os.close(fd)
    connection.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
    os._exit(0)


def _run(request: dict, fds: list[int], command: str) -> None:
    """In the run: become `vllm-chat ARGS` started in `request`'s folder and environment."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [command, *request["args"]]
    sys.stdin = _stream(0, "r")
    sys.stdout = _stream(1, "w")
    sys.stderr = _stream(2, "w", errors="backslashreplace", line_buffering=True)
    code = 0
    try:
        from vllm_chat.cli import main as vllm_chat

        code = vllm_chat()
    except SystemExit as exc:
        code = _exit_code(exc)
    except KeyboardInterrupt:
        _die_of(signal.SIGINT)
    except BaseException:  # as the interpreter does with an uncaught exception
        traceback.print_exc()
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]  # the interpreter's own ending, in its order
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120  # what the interpreter exits with when its final flush fails
    os._exit(code)


def _stream(fd: int, mode: str, errors: str = "strict", line_buffering: bool = False) -> io.TextIOWrapper:
    """A standard stream as the interpreter makes one at start: UTF-8, line-buffered on a
    terminal (stderr always)."""
    raw = io.FileIO(fd, mode, closefd=False)
    buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
    return io.TextIOWrapper(buffered, encoding="utf-8", errors=errors,
                            line_buffering=mode == "w" and (line_buffering or os.isatty(fd)))


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _die_of(signum: int) -> None:
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
