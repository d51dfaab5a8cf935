"""Instrumentation inside the app, for the benchmarks: frames, paints, and event times.

The app has no hooks for "this frame reached the terminal" or "the UI has
applied this event", so the benchmarks add them here without touching
product code:

- `FrameProbe` patches Textual's `App._display` (called once per frame with
  the compositor's update) and `Screen._on_timer_update` (the screen's frame
  timer: layout, render, display). A *paint* is a `_display` call with an
  update; a *frame* is a timer tick that painted, timed from its start to the
  end of its display. Headless apps skip the conversion of the update into
  escape codes; the probe does it anyway so that a frame costs what it would
  in a terminal. Listeners are called after each paint (their own time is
  excluded from frame times).
- `EventClock` wraps `ChatSession.run` of one session: when the screen's turn
  worker asks for the next event, it has applied the previous one, so that
  moment is "the UI has applied event k". One `ContentDelta` per SSE chunk,
  which with the simulated server is one token.
- `screen_text` / `screen_shows` read what the compositor shows now (without
  disturbing its dirty regions), to confirm a paint really shows some text.
- `headless_app` builds `VllmChatApp(ChatSession(load_settings({...}), store=...))`
  and runs it with `run_test`.

Hooks the app could offer instead are listed in bench/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from textual.app import App
from textual.screen import Screen

Listener = Callable[[App, float], None]
"""Called after each paint with the app and the `perf_counter()` time of the paint."""


class FrameProbe:
    """Class-level patches of `App._display` and `Screen._on_timer_update` (one probe at a time)."""

    _active: FrameProbe | None = None

    def __init__(self, *, render_headless: bool = True) -> None:
        self.render_headless = render_headless
        """Convert headless updates into escape codes, as a terminal app would."""
        self.frames: list[tuple[float, float]] = []
        """(start time, milliseconds) of every frame-timer tick that painted."""
        self.paints = 0
        """How many updates were displayed (frames plus paints outside the timer)."""
        self.listeners: list[Listener] = []
        """Called after every paint."""
        self._painted = False
        self._listener_time = 0.0
        self._originals: tuple[Any, Any] | None = None

    def install(self) -> FrameProbe:
        """Patch Textual; call before the app is created."""
        if FrameProbe._active is not None:
            raise RuntimeError("another FrameProbe is installed")
        FrameProbe._active = self
        display, timer_update = App._display, Screen._on_timer_update
        self._originals = (display, timer_update)
        probe = self

        def _display(app: App, screen: Screen, renderable: Any) -> None:
            display(app, screen, renderable)
            if renderable is None or app._batch_count:
                return
            if probe.render_headless and app.is_headless and hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)
            now = time.perf_counter()
            probe.paints += 1
            probe._painted = True
            if probe.listeners:
                for listener in list(probe.listeners):
                    listener(app, now)
                probe._listener_time += time.perf_counter() - now

        def _on_timer_update(screen: Screen) -> None:
            probe._painted = False
            probe._listener_time = 0.0
            start = time.perf_counter()
            timer_update(screen)
            if probe._painted:
                spent = time.perf_counter() - start - probe._listener_time
                probe.frames.append((start, spent * 1000))

        App._display = _display  # type: ignore[method-assign]
        Screen._on_timer_update = _on_timer_update  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        """Undo the patches."""
        if self._originals is not None:
            App._display, Screen._on_timer_update = self._originals  # type: ignore[method-assign]
            self._originals = None
        if FrameProbe._active is self:
            FrameProbe._active = None

    def __enter__(self) -> FrameProbe:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def frame_ms_between(self, start: float, end: float) -> list[float]:
        """Durations of the frames that started between two `perf_counter()` times."""
        return [ms for t, ms in self.frames if start <= t <= end]


# -- what the screen shows ---------------------------------------------------------------

_NON_TEXT = re.compile(r"[^\x20-\x7e]+")
_SPACES = re.compile(r"\s+")


def screen_text(app: App) -> str:
    """The characters the current screen shows, one line per row."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def normalise(text: str) -> str:
    """ASCII only (borders and block characters dropped), whitespace collapsed."""
    return _SPACES.sub(" ", _NON_TEXT.sub(" ", text)).strip()


def screen_shows(app: App, needle: str) -> bool:
    """Whether `needle` (normalised) is on screen; lines are joined, so wrapped prose matches."""
    return normalise(needle) in normalise(screen_text(app).replace("\n", " "))


def tail_words(text: str, chars: int = 40) -> str:
    """The last whole words of `text`, about `chars` characters: enough to be unique
    at the bottom of the screen, short enough to fit a wrapped line or two."""
    flat = normalise(text)
    cut = flat[-chars:]
    return cut.split(" ", 1)[1] if " " in cut and len(flat) > chars else cut


# -- when the UI applied each event ----------------------------------------------------------


@dataclass
class EventClock:
    """Times at which the chat screen had applied the events of a turn (perf_counter)."""

    content_times: list[float] = field(default_factory=list)
    """When each `ContentDelta` had been applied (one per chunk = one simulated token)."""
    content_chars: int = 0
    """Characters of content received."""
    started_at: float | None = None
    """When the session started the turn (the request is about to go out)."""
    finished_at: float | None = None
    """When the turn's last event (finished, stopped or failed) had been applied."""
    outcome: str = ""
    """The class name of the last event (`TurnFinished` when all went well)."""
    on_finished: list[Callable[[float], None]] = field(default_factory=list)
    """Called with `finished_at`."""

    def attach(self, session: Any) -> EventClock:
        """Wrap `session.run` (this instance only)."""
        original = session.run
        clock = self

        async def run(options: Any = None) -> AsyncIterator[Any]:
            clock.started_at = time.perf_counter()
            async with contextlib.aclosing(original(options)) as events:
                async for event in events:
                    try:
                        yield event
                    finally:
                        # The consumer asked for the next event, or took no more (the chat
                        # screen stops at the turn's end): it has applied this one.
                        clock.applied(event)

        session.run = run
        return self

    def applied(self, event: Any) -> None:
        """Note that the front end has applied `event`."""
        from vllm_chat.core.events import TURN_ENDS, ContentDelta

        now = time.perf_counter()
        if isinstance(event, ContentDelta):
            self.content_times.append(now)
            self.content_chars += len(event.text)
        elif isinstance(event, TURN_ENDS):
            self.finished_at = now
            self.outcome = type(event).__name__
            for callback in list(self.on_finished):
                callback(now)


def last_reply_source(app: Any) -> str | None:
    """The text the last reply's MarkdownView holds (`view.body.source`), if one is mounted."""
    for widget in reversed(list(app.chat.messages.query("*"))):
        body = getattr(widget, "body", None)
        source = getattr(body, "source", None)
        if isinstance(source, str):
            return source
    return None


class OnScreenWatch:
    """Notes the first paint, after a turn ended, that shows the whole reply.

    "Whole reply" means: the conversation's last message holds `expected`, the
    reply's MarkdownView holds it too, and the screen shows its last words.
    The screen check runs only after the turn ended (a handful of paints); its
    own time is subtracted from the result. If no paint follows the end of the
    turn (everything was already painted), `settle()` checks the screen as it
    stands and takes the last paint.
    """

    def __init__(self, app: Any, probe: FrameProbe, clock: EventClock, expected: str) -> None:
        self.app = app
        self.expected = expected.strip()
        self.tail = tail_words(expected)
        self.done_at: float | None = None
        """`perf_counter()` of the paint that completed the reply on screen."""
        self.source_ok: bool | None = None
        """Whether the MarkdownView held exactly the expected text."""
        self.screen_ok: bool | None = None
        """Whether the screen showed the reply's last words."""
        self.done = asyncio.Event()
        self._probe = probe
        self._armed = False
        self._overhead = 0.0
        self._last_paint = 0.0
        probe.listeners.append(self._paint)
        clock.on_finished.append(self._finished)

    def close(self) -> None:
        """Stop listening."""
        with contextlib.suppress(ValueError):
            self._probe.listeners.remove(self._paint)

    def _finished(self, at: float) -> None:
        self._armed = True

    def _complete(self) -> bool:
        conv = self.app.session.conversation
        if not conv.messages or conv.messages[-1].content.strip() != self.expected:
            return False
        source = last_reply_source(self.app)
        self.source_ok = source is not None and source.strip() == self.expected
        self.screen_ok = screen_shows(self.app, self.tail)
        return bool(self.source_ok and self.screen_ok)

    def _paint(self, app: App, at: float) -> None:
        self._last_paint = at
        if not self._armed or self.done_at is not None:
            return
        start = time.perf_counter()
        if self._complete():
            self.done_at = at - self._overhead
            self.done.set()
        self._overhead += time.perf_counter() - start

    def diagnose(self) -> str:
        """Why the reply does not count as on screen (for error messages)."""
        conv = self.app.session.conversation
        content = conv.messages[-1].content if conv.messages else ""
        source = last_reply_source(self.app)
        return (f"turn ended={self._armed}, conversation has {len(content.strip())}/{len(self.expected)} chars, "
                f"view has {len(source.strip()) if source else None}, "
                f"screen shows {self.tail!r}: {screen_shows(self.app, self.tail)}; the screen's last lines:\n"
                + "\n".join(screen_text(self.app).splitlines()[-12:]))

    async def wait(self, timeout: float) -> float:
        """Wait for the completing paint; returns its time (raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        while not self.done.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the reply never appeared whole on screen: {self.diagnose()}")
            try:
                await asyncio.wait_for(self.done.wait(), 0.25)
            except asyncio.TimeoutError:
                # A quarter second with no completing paint after the turn ended:
                # maybe the final text had been painted before the end event.
                if self._armed and time.perf_counter() - self._last_paint > 0.2 and self._complete():
                    self.done_at = self._last_paint - self._overhead
                    self.done.set()
        assert self.done_at is not None
        return self.done_at


# -- running the app headless ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def headless_app(base_url: str, *, conversation: Any = None, size: tuple[int, int] = (120, 40),
                       settings: dict[str, Any] | None = None,
                       before_run: Callable[[Any], None] | None = None) -> AsyncIterator[tuple[Any, Any]]:
    """`VllmChatApp` on a `ChatSession` for `base_url`, run headless; yields (app, pilot).

    Images are drawn with half blocks (as the tests pin them), since a headless
    app has no terminal to ask. `before_run(app)` runs after the app is
    created and before it starts (e.g. to attach an `EventClock`).
    """
    import os

    from vllm_chat.core.config import load_settings
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.store import SessionStore
    from vllm_chat.ui import images
    from vllm_chat.ui.app import VllmChatApp

    os.environ[images.RENDERER_ENV] = "halfcell"
    images.prepare_terminal("halfcell")
    chat = ChatSession(load_settings({"base_url": base_url, **(settings or {})}),
                       conversation=conversation, store=SessionStore())
    app = VllmChatApp(chat)
    if before_run is not None:
        before_run(app)
    try:
        async with app.run_test(size=size) as pilot:
            yield app, pilot
            chat.stop()
    finally:
        await chat.aclose()


async def wait_for(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.005) -> Any:
    """Poll `predicate` on the running loop until truthy; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(step)


async def wait_connected(app: Any, timeout: float = 30.0) -> None:
    """Until the session knows the server's models (the background connection is done)."""
    await wait_for(lambda: app.session.models, timeout, "the model list", step=0.01)


def submit(app: Any, text: str) -> float:
    """Type `text` into the prompt and send it as Enter would; returns the time of sending."""
    prompt = app.chat.prompt
    prompt.load_text(text)
    start = time.perf_counter()
    prompt.action_submit()
    return start


async def ticker(samples: list[tuple[float, float]], stop: asyncio.Event, period: float = 0.005) -> None:
    """Sleep `period` over and over; record (time, ms late) each time: the loop's stall."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(period)
        now = time.perf_counter()
        samples.append((now, (now - start - period) * 1000))
