"""ServerPanelScreen: what the server says about itself, refreshed while it is open.

vLLM's version, the served models (context windows, LoRA adapters and their
base models), requests running and waiting, KV-cache use, prefix-cache hits,
preemptions and the server-side latency distributions, from `/version`,
`/v1/models` and `/metrics`. The session takes a snapshot every 2 s while a
panel watches (`ChatSession.watch_server`); the panel redraws when the
session says something changed. What a server doesn't report says so, with
the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from vllm_chat.core.session import ChatSession
from vllm_chat.core.telemetry.facts import server_facts
from vllm_chat.core.text import inert
from vllm_chat.ui.colors import theme_color
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog

LABEL_WIDTH = 21
"""Cells of the label column."""


class ServerPanelScreen(Dialog[None]):
    """The server's version, models, load, caches and latencies, live."""

    DEFAULT_CSS = """
    ServerPanelScreen {
        & > Vertical { width: 100; }
        & .title { dock: top; }
        /* Docked, so on a short terminal only the facts scroll and the keys stay in view. */
        & #server-footer { dock: bottom; height: auto; }
        & #server-scroll { height: auto; }
        & #server-facts { height: auto; }
        & #server-updated { color: $text-muted; height: auto; }
    }
    """

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="close-server-panel"),
        Binding("r", "refresh_now", "Refresh", id="refresh-server-panel"),
    ]

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        """Whose server is shown."""
        self._stop_watching: Callable[[], None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._shown: object = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Server", classes="title", markup=False)
            with VerticalScroll(id="server-scroll"):
                yield Static("Asking the server…", id="server-facts", markup=False)
            with Vertical(id="server-footer"):
                yield Static("", id="server-updated", markup=False)
                yield Static(with_keys(self.app, "{refresh-server-panel} refresh now · {close-server-panel} close · "
                                                 "refreshed every 2 s while open"), classes="hint", markup=False)

    def on_mount(self) -> None:
        self._unsubscribe = self.session.subscribe(self._changed)
        self._stop_watching = self.session.watch_server()
        self.set_interval(1.0, self._age)
        self._changed()

    def on_unmount(self) -> None:
        if self._stop_watching is not None:
            self._stop_watching()
        if self._unsubscribe is not None:
            self._unsubscribe()

    def _changed(self) -> None:
        snapshot = self.session.server_snapshot()
        if snapshot is None or snapshot is self._shown or not self.is_attached:
            return
        self._shown = snapshot
        colours = {"warn": theme_color(self.app, "warning"), "bad": theme_color(self.app, "error"),
                   "missing": theme_color(self.app, "text-muted")}
        # Two columns, so a long value wraps under itself, not under the labels.
        table = Table.grid(padding=(0, 1))
        table.add_column(width=LABEL_WIDTH - 1, no_wrap=True)
        table.add_column(ratio=1)
        for fact in server_facts(snapshot):
            colour = colours.get(fact.level)
            style = f"{colour} italic" if fact.level == "missing" and colour else colour or ""
            table.add_row(Text(fact.label, style="bold"), Text(inert(fact.value), style=style))
        self.query_one("#server-facts", Static).update(table)
        self._age()

    def _age(self) -> None:
        snapshot = self.session.server_snapshot()
        if snapshot is None:
            return
        seconds = max(0, int(time.time() - snapshot.taken_at))
        self.query_one("#server-updated", Static).update(f"updated {seconds} s ago")

    def action_refresh_now(self) -> None:
        """Ask the server again now."""
        self.run_worker(self.session.refresh_server(), exclusive=True, group="server-refresh",
                        exit_on_error=False)

    def action_close(self) -> None:
        """Back to the conversation (the panel's refreshing stops)."""
        self.dismiss(None)
