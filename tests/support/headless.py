"""Headless Textual apps at a test suite's pace: three of Textual's defaults that cost the
Pilot tests time nobody looks at, and what the suite uses instead (`install`, from
`tests/conftest.py`; the frames' way per test, from `tests/ui/conftest.py`). What an app
does is unchanged; these change when the suite looks.

- CSS: every app parses the same stylesheets; the rules are kept for the apps after it.
- Frames: a headless app composites every frame and throws it away (Textual writes
  nothing without a terminal); here a frame is composited when a test reads the screen.
- Idle waits: `pilot.press` waits twice per key, and `pilot.pause` once, until the test
  process looks idle, in 20 ms steps; here in 5 ms steps, and only once the app's queues
  are empty too.

Each one uses a Textual internal (named where it is used); a Textual upgrade that moves
one fails the suite as it starts rather than slowing it silently.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import textual.app
import textual.pilot
from textual._context import active_app
from textual.css.stylesheet import Stylesheet
from textual.screen import Screen

_PARSED: dict[tuple[Any, ...], list[Any]] = {}
_PARSE_RULES = Stylesheet._parse_rules
_COMPOSITOR_REFRESH = Screen._compositor_refresh


def parse_once(sheet: Stylesheet, css: str, read_from: Any, is_default_rules: bool = False,
               tie_breaker: int = 0, scope: str = "") -> list[Any]:
    """`Stylesheet._parse_rules`, kept per piece of CSS and set of theme variables for the
    life of the test process (a running app keeps a cache of the same kind; a fifth of an
    app's start is parsing the app's and every widget's CSS)."""
    # The variables are replaced, never changed in place (Stylesheet.set_variables).
    variables = sheet._variables
    signature = getattr(sheet, "_suite_signature", None)
    if signature is None or signature[0] is not variables:
        signature = sheet._suite_signature = (variables, tuple(sorted(variables.items())))
    key = (signature[1], css, read_from, is_default_rules, tie_breaker, scope)
    if key not in _PARSED:
        _PARSED[key] = _PARSE_RULES(sheet, css, read_from, is_default_rules, tie_breaker, scope)
    return _PARSED[key]


class _UnseenFrame:
    """What a headless app is handed in place of a frame nobody reads."""

    def __rich_console__(self, console: Any, options: Any) -> Any:
        return iter(())


_UNSEEN_FRAME = _UnseenFrame()


def composite_when_read(screen: Screen[Any]) -> None:
    """`Screen._compositor_refresh` for a headless app: the frame's changed regions are
    dropped instead of composited, and the app is handed a stand-in frame, so what follows
    a paint (the app's `_display`: keys noted as on the screen) happens as before. The
    screen reads in `tests.support.pilot` composite the whole screen themselves; a test of
    the frames themselves (`@pytest.mark.paints`) keeps Textual's."""
    app = screen.app
    if not app.is_headless or app.is_inline or screen is not app.screen:
        _COMPOSITOR_REFRESH(screen)
        return
    compositor = screen._compositor
    changed = bool(compositor._dirty_regions)
    compositor._dirty_regions.clear()
    app._display(screen, _UNSEEN_FRAME if changed else None)
    screen._dirty_widgets.clear()


_STEP = 0.005
"""Seconds between looks in `wait_for_idle` (Textual's: 0.02)."""


async def wait_for_idle(min_sleep: float = _STEP, max_sleep: float = 1.0) -> None:
    """Textual's `wait_for_idle` (what `pilot.press` and `pilot.pause` wait on) in 5 ms
    steps: over when the process used under a twentieth of a step's CPU in a step, as
    Textual's is, and, more than Textual's asks, the running app, its screen and the
    focused widget have nothing queued (a process that waits for a core uses no CPU
    either, and a step is short); after `max_sleep` seconds in any case."""
    start = time.monotonic()
    while True:
        used = time.process_time()
        await asyncio.sleep(_STEP)
        used = time.process_time() - used
        elapsed = time.monotonic() - start
        if elapsed >= max_sleep:
            return
        if elapsed > min_sleep and used < _STEP / 20 and _nothing_queued():
            return


def _nothing_queued() -> bool:
    app = active_app.get(None)
    if app is None or not app.is_running or not app._screen_stack:
        return True
    pumps = (app, app.screen, app.focused)
    return not any(pump is not None and pump.message_queue_size for pump in pumps)


def install() -> None:
    """Put the suite's ways in place for the rest of the process (the frames' way is put in
    place per test, by a fixture, so that a test can keep Textual's)."""
    for module in (textual.app, textual.pilot):
        if not hasattr(module, "wait_for_idle"):
            raise RuntimeError(f"{module.__name__} no longer waits with wait_for_idle: see tests/support/headless.py")
    Stylesheet._parse_rules = parse_once  # type: ignore[method-assign]
    textual.app.wait_for_idle = wait_for_idle  # type: ignore[attr-defined]
    textual.pilot.wait_for_idle = wait_for_idle  # type: ignore[attr-defined]
