"""The server's own view of itself, for a session: a snapshot for the server panel,
the header's load indicator, and why a reply is slow to start.

Three readers of `/metrics`, all in background tasks with short timeouts, so
a server without metrics (or a slow one) never holds up a chat:

- the server panel: `watch_server()` takes a snapshot (version, models,
  metrics) every `PANEL_EVERY` seconds while a panel is open;
- a reply that waits for its first token longer than `EXPLAIN_AFTER` seconds
  (while a front end listens to the status): `/metrics` is read every second
  until the first token comes, and the status says why it waits ("3 requests
  ahead, KV cache 97 %");
- the header's load indicator: every reading above counts, and
  `watch_load()` adds one every `load_poll_interval` seconds while idle.

A server that has no `/metrics` (404) or hides it (401) is asked again only
by the panel (which shows why it can't say).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from vllm_chat.core.session.base import SessionBase
from vllm_chat.core.session.status import Activity, SessionStatus
from vllm_chat.core.telemetry.facts import load_label, waiting_reason
from vllm_chat.core.telemetry.probe import PROBE_TIMEOUT
from vllm_chat.core.telemetry.snapshot import (
    MetricsSample,
    ServerSnapshot,
    sample_metrics,
    take_snapshot,
)
from vllm_chat.core.urls import redact_url

PANEL_EVERY = 2.0
"""Seconds between snapshots while a server panel is open."""
EXPLAIN_AFTER = 1.0
"""Seconds a reply waits for its first token before the server is asked why."""
EXPLAIN_EVERY = 1.0
"""Seconds between readings while a reply keeps waiting."""
LOAD_FRESH = 60.0
"""Seconds a reading stays good enough for the header's load indicator."""
MAX_IDLE_BACKOFF = 120.0
"""Longest pause between idle readings of a server whose `/metrics` keeps timing out."""


class TelemetryPart(SessionBase):
    """The server panel's snapshots, the load indicator and the waiting line's reason."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._snapshot: ServerSnapshot | None = None
        self._latest: MetricsSample | None = None
        self._metrics_missing = False
        self._waiting_reason = ""
        self._panels = 0
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def _server_changed(self) -> None:
        self._snapshot, self._latest = None, None  # another server: its own load, version, models
        self._metrics_missing, self._waiting_reason = False, ""
        super()._server_changed()

    # -- what front ends read ----------------------------------------------------------

    def status(self) -> SessionStatus:
        """The base status, plus the server's load and why a reply waits."""
        status = super().status()
        latest = self._latest
        fresh = latest is not None and self._now() - latest.taken_at <= LOAD_FRESH
        load = load_label(latest.metrics) if fresh and latest is not None else ""
        if not load and not self._waiting_reason:
            return status
        return replace(status, server_load=load, waiting_reason=self._waiting_reason)

    def server_snapshot(self) -> ServerSnapshot | None:
        """The latest snapshot of the server (None before the first)."""
        return self._snapshot

    async def refresh_server(self, timeout: float = PROBE_TIMEOUT) -> ServerSnapshot:
        """Ask the server for its version, models and metrics now, each within `timeout`
        seconds (never raises; what it could not tell is in the snapshot's problems). A
        model list that came back replaces the session's (adapters loaded at runtime appear)."""
        snapshot = await take_snapshot(self._client, redact_url(self.settings.base_url),
                                       previous=self._snapshot, timeout=timeout)
        self._snapshot = snapshot
        if snapshot.models:
            self.models = list(snapshot.models)
        self._take(snapshot.sample)
        self._status_changed()
        return snapshot

    # -- the panel ------------------------------------------------------------------------

    def watch_server(self) -> Callable[[], None]:
        """Take a snapshot now and every `PANEL_EVERY` seconds until the returned call is
        made (a panel calls it when it closes). Listeners hear of each snapshot."""
        self._panels += 1
        self._start_task("panel", self._panel_loop)
        stopped = False

        def stop() -> None:
            nonlocal stopped
            if stopped:
                return
            stopped = True
            self._panels -= 1
            if self._panels <= 0:
                self._panels = 0
                self._cancel("panel")

        return stop

    async def _panel_loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a bug here must not end the panel's updates
                await self.refresh_server()
            await asyncio.sleep(PANEL_EVERY)

    # -- the header's load indicator -----------------------------------------------------------

    def watch_load(self) -> None:
        """Read `/metrics` every `load_poll_interval` seconds while nothing else does, for
        the header's load indicator (0 in the settings: never while idle)."""
        if self.settings.load_poll_interval > 0:
            self._start_task("load", self._load_loop)

    async def _load_loop(self) -> None:
        pause = self.settings.load_poll_interval
        while True:
            await asyncio.sleep(pause)
            if self._metrics_missing or "panel" in self._tasks or "waiting" in self._tasks:
                continue
            sample = await self._read_metrics()
            timed_out = sample.metrics is None and not sample.missing
            pause = min(pause * 2, MAX_IDLE_BACKOFF) if timed_out else self.settings.load_poll_interval

    # -- a reply slow to start ----------------------------------------------------------------

    def _mark_activity(self, activity: Activity | None) -> None:
        # Every change of what a turn does comes through here: a wait for the first token
        # starts the reading of /metrics (when a front end listens: one-shot mode doesn't),
        # anything else ends it.
        if activity is not None and activity.phase == "waiting" and self._listeners:
            if "waiting" not in self._tasks:
                self._start_task("waiting", self._explain_wait)
        elif "waiting" in self._tasks or self._waiting_reason:
            self._cancel("waiting")
            self._waiting_reason = ""
        super()._mark_activity(activity)

    async def _explain_wait(self) -> None:
        await asyncio.sleep(EXPLAIN_AFTER)
        while not self._metrics_missing:
            sample = await self._read_metrics()
            activity = self._activity
            if activity is None or activity.phase != "waiting":
                return
            reason = waiting_reason(sample.metrics)
            if reason != self._waiting_reason:
                self._waiting_reason = reason
                self._status_changed()
            await asyncio.sleep(EXPLAIN_EVERY)

    # -- plumbing -----------------------------------------------------------------------------------

    async def _read_metrics(self) -> MetricsSample:
        sample = await sample_metrics(self._client)
        self._take(sample)
        return sample

    def _take(self, sample: MetricsSample) -> None:
        """Keep a reading for the load indicator (a failed one clears it: stale figures lie)."""
        self._metrics_missing = sample.missing
        before = load_label(self._latest.metrics) if self._latest is not None else ""
        self._latest = sample
        if load_label(sample.metrics) != before:
            self._status_changed()

    def _start_task(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = self._tasks.get(name)
        if task is not None and not task.done():
            return
        try:
            task = asyncio.get_running_loop().create_task(work())
        except RuntimeError:
            return  # no event loop (a synchronous caller): nothing can run in the background
        self._tasks[name] = task
        task.add_done_callback(lambda done: self._forget(name, done))

    def _forget(self, name: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(name) is task:
            del self._tasks[name]
        if not task.cancelled():
            task.exception()  # retrieved: a failure here must never surface as a loop warning

    def _cancel(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()

    async def aclose(self) -> None:
        """Stop reading the server's metrics, then close the session as usual."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await super().aclose()
