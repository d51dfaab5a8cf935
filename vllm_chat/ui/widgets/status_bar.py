"""StatusBar: the header line, drawn from one `SessionStatus` snapshot.

Model, server, connection state or what the running turn is doing (and why a
reply waits, when the server's metrics say), the context meter (`ctx 1.2k/2k`
when the server counted the next request exactly, `ctx ~1.2k/2k` for an
estimate), the server's load while it is busy, and standing remarks, on one
line. When the line is too narrow the remarks (the load last of them) and the
server go first, then the model name is shortened in the middle; the state
and the context meter always stay.
"""

from __future__ import annotations

import math
import time

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from vllm_chat.core import format as fmt
from vllm_chat.core.session import SessionStatus
from vllm_chat.core.session.status import Activity
from vllm_chat.core.text import inert
from vllm_chat.core.urls import url_host
from vllm_chat.ui.colors import theme_color

STATE_LABELS = {
    "connecting": ("◌", "connecting…"),
    "connected": ("●", "connected"),
    "disconnected": ("○", "disconnected"),
    "error": ("✗", "server problem"),
}

METER_WARNING = 0.8
"""Share of the context window from which the meter is drawn in the warning colour."""

_MIN_MODEL = 12
"""Columns the model name keeps, however narrow the line (shortened in the middle)."""
INSECURE = "  · TLS unchecked"
"""The warning while certificates are not checked (`insecure = true`)."""
SHORT_FORMS = {INSECURE: "  · !TLS"}
"""Shorter forms of the standing parts, for a narrow line."""


def middle_ellipsis(text: str, width: int) -> str:
    """`text` cut to `width` columns by taking out its middle: the start (the family) and
    the end (the size, the quantisation) are what tell models apart."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def waiting_labels(activity: Activity, now: float, reason: str) -> list[str]:
    """Ways to say a reply waits for its first token, longest first: with why (the
    server's metrics, `reason`), then shorter as the reason loses its last parts
    ("waiting 4 s · 3 requests ahead", "waiting 4 s · 3 ahead"), down to "waiting 4 s"."""
    elapsed = f"{now - activity.since:.0f} s"
    parts = [p.strip() for p in inert(reason).split(",") if p.strip()]
    labels = [f"waiting for the first token · {elapsed}" + (f" · {', '.join(parts)}" if parts else "")]
    for keep in range(len(parts), 0, -1):
        labels.append(f"waiting {elapsed} · {', '.join(parts[:keep])}")
    if parts:  # the first reason in brief ("2 ahead") before none at all
        labels.append(f"waiting {elapsed} · {parts[0].replace(' requests ahead', ' ahead').replace('KV cache', 'KV')}")
    labels.append(f"waiting {elapsed}")
    return labels


def activity_label(activity: Activity, now: float, reason: str = "") -> str:
    """What the running turn is doing, in a few words ("waiting for the first token · 3 s"),
    with why it waits when the server's metrics say (`reason`); a compaction says so first
    ("compacting · streaming")."""
    label = _phase_label(activity.at(now), now, reason)
    return f"compacting · {label}" if activity.task == "compact" else label


def _phase_label(activity: Activity, now: float, reason: str) -> str:
    elapsed = now - activity.since
    match activity.phase:
        case "waiting":
            return waiting_labels(activity, now, reason)[0]
        case "approval":
            return f"waiting for your approval ({inert(activity.tool or 'tool')})"
        case "tool":
            return f"running {inert(activity.tool or 'a tool')} · {elapsed:.0f} s"
        case "calling":
            return "writing a tool call"
        case "busy":
            return f"server busy, retrying in {_seconds_left(activity, now)} s"
    speed = activity.tokens_per_second(now)
    verb = "thinking" if activity.phase == "thinking" else "streaming"
    return f"{verb} · ~{speed:.0f} tok/s" if speed is not None else verb


def _seconds_left(activity: Activity, now: float) -> int:
    """Whole seconds until a busy server's request goes again (rounded up: 0 only when due)."""
    return max(math.ceil((activity.retry_at or now) - now), 0)


def context_meter(status: SessionStatus) -> str:
    """The context meter: `ctx 1.2k/2k` for the server's exact count, `ctx ~1.2k/2k` for an
    estimate ('' when neither the size nor the window is known)."""
    if status.context_used is None and not status.context_max:
        return ""
    used = "?" if status.context_used is None else fmt.count(status.context_used)
    mark = "" if status.context_exact or status.context_used is None else "~"
    window = f"/{fmt.count(status.context_max)}" if status.context_max else ""
    return f"ctx {mark}{used}{window}"


class StatusBar(Static):
    """The line at the top: where we are connected and what is happening."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $status-bar-background;
        color: $text-muted;
    }
    """

    snapshot: reactive[SessionStatus | None] = reactive(None)
    """The session's status the line shows."""

    def show(self, status: SessionStatus) -> None:
        """Draw `status` (the only way the line changes)."""
        if status == self.snapshot and status.activity is None:
            return  # nothing moves while idle: typing (which re-estimates the meter) costs no redraw
        self.snapshot = status
        self.refresh()  # the same snapshot still moves: elapsed seconds, speed

    def render(self) -> Text:
        status = self.snapshot
        if status is None:
            return Text("")
        width = max(self.content_size.width, 20)
        icon, state, state_style = self._state(status)
        fixed = [(f"  · {state}", state_style if status.activity is not None else "")]
        if status.insecure:
            fixed.append((INSECURE, theme_color(self.app, "error")))
        meter = context_meter(status)
        if meter:
            fixed.append((f"  · {meter}", self._meter_style(status)))
        optional: list[tuple[str, str]] = []
        if status.context_problem:
            optional.append((f"  · {status.context_problem}", ""))
        now = time.monotonic()
        activity = status.activity.at(now) if status.activity is not None else None
        waiting = activity is not None and activity.phase == "waiting"
        if status.server_load and not (waiting and status.waiting_reason):
            optional.append((f"  · {inert(status.server_load)}", theme_color(self.app, "warning")))
        if not status.tools_on:
            optional.append(("  · tools off", ""))
        elif status.tool_choice != "auto":
            optional.append((f"  · tools: {status.tool_choice}", ""))
        if status.completion_mode:
            optional.append(("  · completion", "bold"))
        if status.constraint:
            optional.append((f"  · {inert(status.constraint)}", ""))
        if status.note:
            optional.append((f"  · {inert(status.note)}", ""))
        host = url_host(status.server)  # never user:password@, and no crash on a malformed URL
        where = [(f"  @ {inert(status.profile)} ({inert(host)})" if status.profile else f"  @ {inert(host)}", "")]
        if status.demo:
            where.append(("  (demo)", "italic"))
        model = inert(status.model) or "no model"

        def length(parts: list[tuple[str, str]]) -> int:
            return sum(len(t) for t, _ in parts)

        if activity is not None and waiting:
            # A long reason gives way before the context meter does.
            for label in waiting_labels(activity, now, status.waiting_reason):
                fixed[0] = (f"  · {label}", fixed[0][1])
                if width - 2 - length(fixed) >= min(len(inert(status.model) or "no model"), _MIN_MODEL):
                    break
        if width - 2 - length(fixed) < min(len(model), _MIN_MODEL):
            # Narrow: the short forms, so the warning and the countdown both stay in view.
            fixed = [(SHORT_FORMS.get(text, text), style) for text, style in fixed]
            if activity is not None and activity.phase == "busy":
                fixed[0] = (f"  · busy, retry in {_seconds_left(activity, now)} s", fixed[0][1])
        room = width - 2 - length(fixed)
        # Drop remarks, then the server, until the model name has its minimum.
        while optional and room - length(where) - length(optional) < min(len(model), _MIN_MODEL):
            optional.pop()
        if room - length(where) - length(optional) < min(len(model), _MIN_MODEL):
            where = [p for p in where if p[0] == "  (demo)"]
        model_room = room - length(where) - length(optional)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(icon + " ", style=state_style)
        text.append(middle_ellipsis(model, max(model_room, _MIN_MODEL)), style="bold")
        for part, style in where + fixed + optional:
            text.append(part, style=style)
        return text

    def _meter_style(self, status: SessionStatus) -> str:
        """The meter in the error colour once a reply would not fit, in the warning colour
        from `METER_WARNING` of the window on."""
        share = status.context_share
        if status.context_over:
            return theme_color(self.app, "error")
        if share is not None and share >= METER_WARNING:
            return theme_color(self.app, "warning")
        return ""

    def _state(self, status: SessionStatus) -> tuple[str, str, str]:
        """The icon, the words and the style of the connection state (or the running turn)."""
        if status.activity is not None:
            label = activity_label(status.activity, time.monotonic(), status.waiting_reason)
            colour = "accent" if status.activity.phase == "approval" else "warning"
            return "●", label, theme_color(self.app, colour)
        icon, label = STATE_LABELS.get(status.connection, ("?", status.connection))
        colour = {"connected": "success", "disconnected": "error", "error": "error"}.get(status.connection)
        return icon, label, theme_color(self.app, colour) if colour else ""
