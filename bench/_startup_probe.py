"""Run the real `vllm-chat` with timing hooks, for benchmarks in a real terminal (tmux).

    python bench/_startup_probe.py TRACE [--submit TEXT --expect-tokens N] [--marker TEXT] [--exit-after S]
                                  -- [vllm-chat arguments]

It starts exactly like the `vllm-chat` console script (`vllm_chat.cli.main`),
after patching Textual and the app so that it appends JSON lines to TRACE,
each `{"event": NAME, "t": time.time(), "pc": time.perf_counter(), ...}`:

- `start`: the probe's first line ran (interpreter up); with `pid`.
- `app`: the `VllmChatApp` was created.
- `ready`: first paint with the chat screen current and the prompt focused.
- `connected`: `ChatSession.connect()` returned (model list known).
- `shown`: first paint whose screen contains `--marker` TEXT (`paint` is its
  perf_counter time less the time earlier marker checks took).
- `submitted` / `done`: with `--submit`, the probe sends TEXT once the app is
  ready and connected, then notes the first paint, after the turn ended, that
  shows the whole reply (`long N` from the simulated server, `--expect-tokens N`).
  After `done` the app exits.

The app itself is unchanged; what this needs from it is described in
bench/README.md ("Hooks the app could offer").
"""

from __future__ import annotations

import json
import os
import sys
import time

_TRACE = sys.argv[1]
_START = (time.time(), time.perf_counter())


def emit(event: str, **fields: object) -> None:
    """Append one event to the trace file."""
    line = json.dumps({"event": event, "t": time.time(), "pc": time.perf_counter(), **fields})
    with open(_TRACE, "a") as f:
        f.write(line + "\n")


def _options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    split = argv.index("--") if "--" in argv else len(argv)
    own, rest = argv[:split], argv[split + 1:]
    opts: dict[str, str] = {}
    for i in range(0, len(own) - 1, 2):
        opts[own[i].lstrip("-")] = own[i + 1]
    return opts, rest


def install(opts: dict[str, str]) -> None:
    """Patch Textual, the session and the app class (before the app exists)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _apphooks import EventClock, FrameProbe, OnScreenWatch, screen_shows, submit

    from vllm_chat.core.session import ChatSession
    from vllm_chat.ui.app import VllmChatApp

    state: dict[str, object] = {"ready": False, "connected": False, "shown": False, "submitted": False}
    checks = [0.0]  # seconds spent looking for the marker: they delay later paints
    probe = FrameProbe(render_headless=False).install()
    marker = opts.get("marker")
    prompt = opts.get("submit")

    init = VllmChatApp.__init__

    def __init__(self: VllmChatApp, *args: object, **kwargs: object) -> None:
        emit("app")
        init(self, *args, **kwargs)

    VllmChatApp.__init__ = __init__  # type: ignore[method-assign]

    connect = ChatSession.connect

    async def connect_traced(self: ChatSession) -> object:
        models = await connect(self)
        if not state["connected"]:
            state["connected"] = True
            emit("connected", models=len(models))
        return models

    ChatSession.connect = connect_traced  # type: ignore[method-assign]

    def start_turn(app: VllmChatApp) -> None:
        from vllm_chat.simserver import longform

        clock = EventClock().attach(app.session)
        watch = OnScreenWatch(app, probe, clock, longform.long_markdown(int(opts["expect-tokens"]), seed=0))
        submitted = submit(app, prompt or "")
        emit("submitted", submitted=submitted)

        async def finish() -> None:
            done = await watch.wait(float(opts.get("timeout", "600")))
            emit("done", seconds=done - submitted, submitted=submitted, done=done,
                 deltas=len(clock.content_times), source_ok=watch.source_ok, screen_ok=watch.screen_ok)
            app.exit(0)

        app.run_worker(finish(), exit_on_error=False)

    def on_paint(app: object, at: float) -> None:
        if not isinstance(app, VllmChatApp):
            return
        if not state["ready"]:
            try:
                chat = app.chat
                ready = app.screen is chat and app.focused is chat.prompt
            except Exception:  # noqa: BLE001 - the chat screen is not there yet
                ready = False
            if ready:
                state["ready"] = True
                emit("ready", paint=at)
        if marker and not state["shown"]:
            start = time.perf_counter()
            if screen_shows(app, marker):
                state["shown"] = True
                emit("shown", paint=at - checks[0], checks=checks[0])
            checks[0] += time.perf_counter() - start
        if prompt and state["ready"] and state["connected"] and not state["submitted"]:
            state["submitted"] = True
            app.call_later(start_turn, app)

    probe.listeners.append(on_paint)


def main() -> int:
    """Trace, patch, then run `vllm-chat` with the arguments after `--`."""
    emit("start", pid=os.getpid(), t_start=_START[0])
    opts, args = _options(sys.argv[2:])
    install(opts)
    sys.argv = ["vllm-chat", *args]
    from vllm_chat.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
