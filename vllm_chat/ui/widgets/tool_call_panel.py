"""ToolCallPanel: one tool call, live — name, arguments as they stream, state, result.

The panel appears as soon as the call's name arrives, shows the arguments
growing, then pretty JSON once they are complete, then its state (waiting
for approval, running with elapsed time, done, failed, denied, stopped) and
the result. Long results are cut in the view (enter or a click shows all);
the session always keeps the whole result.

Arguments can be megabytes (a model writing a file into a call): the panel
redraws at most `REDRAW_INTERVAL` apart, shows the last `ARGS_TAIL_CHARS` while
they stream and an excerpt once they are longer than `ARGS_FULL_CHARS`, and
{open-tool-arguments} opens them whole (`TextViewScreen`).

A panel rebuilt from a saved session (`restore`) reads everything from the
call and its result message (state, text, how long the tool ran), so it looks
exactly as the live panel did when the turn ended.
"""

from __future__ import annotations

import json
import time
from typing import Literal

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from vllm_chat.core import format as fmt
from vllm_chat.core.conversation import Message, ToolCall
from vllm_chat.core.text import inert
from vllm_chat.ui.colors import theme_color
from vllm_chat.ui.keys import key_hint

PanelState = Literal["streaming", "ready", "approval", "running", "ok", "error", "denied", "stopped"]

RESULT_PREVIEW_LINES = 12
"""Result lines shown while the panel is folded."""
ARGS_FULL_CHARS = 8000
"""Arguments longer than this are shown as an excerpt (start and end), never whole."""
ARGS_TAIL_CHARS = 1500
"""Characters of the arguments shown while they stream (the end of them)."""
ARGS_EXCERPT_CHARS = 800
"""Characters shown from each end of long arguments once they are complete."""
REDRAW_INTERVAL = 1 / 15
"""Seconds between redraws while arguments stream."""

_STATE_LOOK: dict[str, tuple[str, str, str]] = {
    # state: (symbol, label, theme variable for the colour)
    "streaming": ("…", "writing arguments", "tool-pending"),
    "ready": ("…", "ready", "tool-pending"),
    "approval": ("?", "waiting for your approval", "warning"),
    "running": ("⟳", "running", "tool-pending"),
    "ok": ("✓", "done", "tool-ok"),
    "error": ("✗", "failed", "tool-error"),
    "denied": ("⊘", "denied", "tool-error"),
    "stopped": ("■", "stopped", "tool-error"),
}


def result_state(message: Message) -> PanelState:
    """The state a tool result message ends a panel in: `stopped` when the user stopped
    the call, else its tool status (ok, error, denied)."""
    if message.status == "stopped":
        return "stopped"
    return message.tool_status or "ok"


def pretty_arguments(raw: str) -> tuple[str, bool]:
    """Indented JSON for display, and whether `raw` was a valid JSON object."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):
        return raw, False
    if not isinstance(value, dict):
        return raw, False
    return json.dumps(value, indent=2, ensure_ascii=False), True


def arguments_preview(app: App, raw: str, *, background: str, open_id: str) -> RenderableType:
    """Arguments for display: pretty, highlighted JSON when short; when longer than
    `ARGS_FULL_CHARS`, their start and end around a note saying how much is left out
    and which key (the binding `open_id`) opens them whole."""
    if len(raw) <= ARGS_FULL_CHARS:
        pretty, valid = pretty_arguments(raw)
        return json_syntax(app, pretty, background=background) if valid else Text(inert(pretty))
    return long_text_excerpt(app, raw, "arguments", open_id)


def long_text_excerpt(app: App, raw: str, what: str, open_id: str) -> Text:
    """The start and the end of a long text around a note naming the key that opens it all."""
    from vllm_chat.ui.keys import with_keys

    cut = len(raw) - 2 * ARGS_EXCERPT_CHARS
    text = Text(inert(raw[:ARGS_EXCERPT_CHARS]))
    text.append(f"\n… {fmt.count(cut)} more characters of the {what} "
                + with_keys(app, f"({{{open_id}}} opens them all)") + " …\n", style="italic dim")
    text.append(inert(raw[-ARGS_EXCERPT_CHARS:]))
    return text


def long_text_tail(app: App, raw: str, what: str, open_id: str, *, length: int | None = None) -> Text:
    """The end of a text still streaming, under a note of how much came before. `raw` may
    be only the end of it (at least `ARGS_TAIL_CHARS`) when `length` gives the whole length."""
    from vllm_chat.ui.keys import with_keys

    length = len(raw) if length is None else length
    if length <= ARGS_TAIL_CHARS:
        return Text(inert(raw) or "…")
    text = Text(f"… {fmt.count(length - ARGS_TAIL_CHARS)} characters of the {what} before this "
                + with_keys(app, f"({{{open_id}}} opens them all)") + "\n", style="italic dim")
    text.append(inert(raw[-ARGS_TAIL_CHARS:]))
    return text


def json_syntax(app: App, pretty: str, *, background: str) -> RenderableType:
    """Highlighted JSON in the theme's code style, on the given theme background."""
    from rich.syntax import Syntax

    from vllm_chat.ui.markdown_render import code_theme

    style = code_theme(getattr(app, "theme_variables", {}) or {}, app.current_theme.dark)
    return Syntax(inert(pretty), "json", theme=style, word_wrap=True,
                  background_color=theme_color(app, background) or "default")


class ToolCallPanel(Vertical):
    """A tool call in the conversation."""

    DEFAULT_CSS = """
    ToolCallPanel {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
        background: $tool-panel-background;
        border: round $tool-panel-border;
        & > .header { height: 1; }
        & > .args { height: auto; color: $text-muted; }
        & > .result { height: auto; margin: 1 0 0 0; }
        &:focus { border: round $accent; }
    }
    """

    can_focus = True

    BINDINGS = [
        Binding("enter,space", "toggle", "Show all / fold", id="toggle-tool-result"),
        Binding("o", "open_whole", "Open the arguments whole", id="open-tool-arguments"),
    ]

    def __init__(self, index: int, name: str = "", call_id: str | None = None) -> None:
        super().__init__()
        self.index = index
        """Position of the call in its reply."""
        self.call_id = call_id
        """The call id, once known."""
        self.tool_name = name
        """The tool the model called."""
        self.state: PanelState = "streaming"
        """Where the call stands."""
        self._parts: list[str] = []
        self._length = 0  # of the arguments so far, kept as they stream (joining them is O(all))
        self.result: str | None = None
        """The tool's output (or the error / denial text sent to the model)."""
        self.expanded = False
        """Whether the whole result is shown."""
        self._started: float | None = None
        self._elapsed: float | None = None
        self._header = Static("", classes="header", markup=False)
        self._args = Static("", classes="args", markup=False)
        self._result = Static("", classes="result", markup=False)
        self._ticker = None
        self._redraw_at: float | None = None
        self._last_redraw = 0.0
        self._source: str | None = None

    @property
    def arguments(self) -> str:
        """The arguments as received (complete once the call is ready)."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @arguments.setter
    def arguments(self, value: str) -> None:
        self._parts = [value] if value else []
        self._length = len(value)

    def _arguments_tail(self) -> str:
        """At least the last `ARGS_TAIL_CHARS` of the arguments, joining only the parts
        that hold them: a redraw while megabytes stream costs what the tail costs."""
        parts, size = [], 0
        for part in reversed(self._parts):
            parts.append(part)
            size += len(part)
            if size >= ARGS_TAIL_CHARS:
                break
        return "".join(reversed(parts))

    @property
    def source(self) -> str | None:
        """Where the call runs when it is not local: `MCP server X` (asked of the session)."""
        if self._source is None and self.tool_name and self.is_attached:
            session = getattr(self.app, "session", None)
            lookup = getattr(session, "tool_source", None)
            self._source = lookup(self.tool_name) if lookup is not None else None
        return self._source

    def compose(self) -> ComposeResult:
        yield self._header
        yield self._args
        yield self._result

    def on_mount(self) -> None:
        self._redraw()

    # -- updates from events ----------------------------------------------------------

    def add_fragment(self, name: str | None, call_id: str | None, fragment: str) -> None:
        """A streamed piece of the call."""
        if name:
            self.tool_name = name
        if call_id:
            self.call_id = call_id
        if fragment:
            self._parts.append(fragment)
            self._length += len(fragment)
        self._redraw_soon()

    def _redraw_soon(self) -> None:
        """Redraw at most every `REDRAW_INTERVAL` while fragments pour in (one redraw per
        fragment made a 5 MB call take minutes)."""
        if self._redraw_at is not None:
            return
        wait = max(0.0, self._last_redraw + REDRAW_INTERVAL - time.monotonic())
        self._redraw_at = time.monotonic() + wait
        if self.is_mounted:
            self.set_timer(max(wait, 0.001), self._redraw)  # (a zero delay breaks Textual's timer)
        else:
            self.call_after_refresh(self._redraw)

    def set_ready(self, call: ToolCall) -> None:
        """The call is complete."""
        self.call_id, self.tool_name, self.arguments = call.id, call.name, call.arguments
        self.state = "ready"
        self._redraw()

    def set_state(self, state: PanelState) -> None:
        """Move to `state` (running starts the elapsed-time display)."""
        self.state = state
        if state == "running":
            self._started = time.monotonic()
            self._ticker = self.set_interval(0.2, self._redraw_header)
        elif self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
            if self._started is not None:
                self._elapsed = time.monotonic() - self._started
        self._redraw()

    def set_result(self, message: Message) -> None:
        """The tool message with the result (or the error / denial / stop)."""
        self.result = message.content
        self.set_state(result_state(message))
        if message.timings is not None and message.timings.duration is not None:
            self._elapsed = message.timings.duration  # the engine's measure, as saved
            self._redraw_header()

    def restore(self, call: ToolCall, result: Message | None, *, finished: bool) -> None:
        """Show a saved call: its result and state, or `stopped` when the reply is over
        and the call has no result (it was cut off, or the app stopped before it ran)."""
        self.call_id, self.tool_name, self.arguments = call.id, call.name, call.arguments
        self.state = "stopped" if finished else "ready"
        if result is not None:
            self.result = result.content
            self.state = result_state(result)
            if result.timings is not None:
                self._elapsed = result.timings.duration
        if self.is_mounted:
            self._redraw()

    def action_toggle(self) -> None:
        """Show the whole result, or fold it back."""
        self.expanded = not self.expanded
        self._redraw()

    def on_click(self) -> None:
        self.action_toggle()

    # -- drawing ---------------------------------------------------------------------------

    def action_open_whole(self) -> None:
        """Show the whole arguments (pretty JSON when they are valid) in a scrollable view."""
        from vllm_chat.ui.screens.text_view import TextViewScreen

        pretty, _ = pretty_arguments(self.arguments)
        self.app.push_screen(TextViewScreen(f"Arguments of {self.tool_name or 'the tool call'}", pretty))

    def _redraw(self) -> None:
        self._redraw_at = None
        self._last_redraw = time.monotonic()
        self._redraw_header()
        self._args.update(self._args_renderable())
        result = self._result_renderable()
        self._result.update(result if result is not None else "")
        self._result.display = result is not None

    def _redraw_header(self) -> None:
        symbol, label, colour = _STATE_LOOK[self.state]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{symbol} ", style=theme_color(self.app, colour))
        text.append(inert(self.tool_name) or "tool", style="bold")
        if self.source:
            text.append(f" · {inert(self.source)}", style="dim")
        text.append(f"  {label}", style=theme_color(self.app, colour))
        elapsed = self._elapsed
        if self.state == "running" and self._started is not None:
            elapsed = time.monotonic() - self._started
        if elapsed is not None:
            text.append(f"  {fmt.seconds(elapsed)}", style="dim")
        self._header.update(text)

    def _args_renderable(self) -> RenderableType:
        if self.state == "streaming":
            return long_text_tail(self.app, self._arguments_tail(), "arguments", "open-tool-arguments",
                                  length=self._length)
        raw = self.arguments
        if len(raw) > ARGS_FULL_CHARS:
            return long_text_excerpt(self.app, raw, "arguments", "open-tool-arguments")
        pretty, valid = pretty_arguments(raw)
        if not valid:
            # A call with bad arguments never reaches approval or running, so a stopped
            # one with bad arguments is one that was cut off while they streamed.
            note = ("cut off before the arguments were complete: the call did not run"
                    if self.state == "stopped" else "not a valid JSON object: the model was told why")
            return Group(Text(inert(pretty) or "(no arguments)"), Text(note, style="italic"))
        if pretty == "{}":
            return Text("(no arguments)", style="italic")
        return json_syntax(self.app, pretty, background="tool-panel-background")

    def _result_renderable(self) -> RenderableType | None:
        if self.result is None:
            return None
        lines = inert(self.result).splitlines() or [""]
        if self.expanded or len(lines) <= RESULT_PREVIEW_LINES:
            return Text("\n".join(lines))
        shown = "\n".join(lines[:RESULT_PREVIEW_LINES])
        text = Text(shown + "\n")
        key = key_hint(self.app, "toggle-tool-result", first_only=True)
        text.append(f"… {len(lines) - RESULT_PREVIEW_LINES} more lines ({key} shows all)", style="italic dim")
        return text

