"""ReasoningBlock: a reply's reasoning, open while it streams and folded once the answer starts.

A long reasoning (megabytes, from a model stuck in a loop) is drawn as its tail,
as plain text, redrawn a few times a second, so drawing costs the same per
update however long it grows; `whole_text` gives all of it to open in a
`TextViewScreen` ({open-whole} on the message).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from vllm_chat.core import format as fmt
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.widgets.markdown_view import MarkdownView

REASONING_FULL_CHARS = 20_000
"""Reasoning longer than this is shown as its last `REASONING_TAIL_CHARS`, as plain text."""
REASONING_TAIL_CHARS = 6_000
"""Characters shown of a long reasoning (its end); {open-whole} opens all of it."""
TAIL_REDRAW_INTERVAL = 0.1
"""Seconds between redraws of a long reasoning's tail while it streams."""


class ReasoningBlock(Vertical):
    """The model's reasoning: open while it streams, folded once the answer starts.

    A reply that is only reasoning (cut while thinking) stays open: folding it
    would leave nothing to read. A long reasoning (megabytes, from a model
    stuck in a loop) is shown as its tail, redrawn a few times a second, and
    `whole_text` gives all of it to open in a `TextViewScreen`."""

    DEFAULT_CSS = """
    ReasoningBlock {
        height: auto;
        margin: 0 0 1 0;
        border-left: outer $reasoning-border;
        padding: 0 0 0 1;
        & > .title { color: $reasoning-foreground; text-style: italic; }
        & > MarkdownView { color: $reasoning-foreground; }
        &.-collapsed > MarkdownView { display: none; }
    }
    """

    def __init__(self, text: str = "", *, streaming: bool = False, folded: bool = True) -> None:
        super().__init__()
        self._streaming = streaming
        self._chars = len(text)
        self._parts = [text] if text else []
        self._tail_due = False
        self.set_class(folded and not streaming, "-collapsed")
        long = self.truncated
        self._view = MarkdownView(self._tail_text() if long else text, plain=long, streaming=streaming and not long)
        self._title_line = Static(self._title(), classes="title", markup=False)

    def compose(self) -> ComposeResult:
        yield self._title_line
        yield self._view

    @property
    def collapsed(self) -> bool:
        """Whether only the title line is shown."""
        return self.has_class("-collapsed")

    def toggle(self) -> None:
        """Fold or unfold."""
        self.set_class(not self.collapsed, "-collapsed")
        self._title_line.update(self._title())

    @property
    def streaming(self) -> bool:
        """True while reasoning is still arriving."""
        return self._streaming

    @property
    def truncated(self) -> bool:
        """Whether only the end of the reasoning is shown (it is longer than `REASONING_FULL_CHARS`)."""
        return self._chars > REASONING_FULL_CHARS

    def whole_text(self) -> str:
        """All of the reasoning."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def _tail_text(self) -> str:
        """The last `REASONING_TAIL_CHARS` characters, from a line start when one is near."""
        parts, size = [], 0
        for part in reversed(self._parts):
            parts.append(part)
            size += len(part)
            if size >= REASONING_TAIL_CHARS:
                break
        tail = "".join(reversed(parts))[-REASONING_TAIL_CHARS:]
        newline = tail.find("\n", 0, 500)
        return tail[newline + 1:] if newline >= 0 else tail

    def append(self, text: str) -> None:
        """More reasoning arrived."""
        was_long = self.truncated
        self._chars += len(text)
        self._parts.append(text)
        if not self.truncated:
            self._view.append(text)
            return
        if not was_long:
            self._view.plain = True  # from now on the tail, as plain text (set_text starts over)
        if not self._tail_due:
            self._tail_due = True
            if self.is_mounted:
                self.set_timer(TAIL_REDRAW_INTERVAL if was_long else 0.001, self._show_tail)
            else:
                self.call_after_refresh(self._show_tail)

    def _show_tail(self) -> None:
        self._tail_due = False
        self._view.set_text(self._tail_text())
        self._title_line.update(self._title())

    def finish(self, fold: bool = True) -> None:
        """Reasoning is over (the answer started or the turn ended): fold it, unless
        `fold` is false."""
        if self._streaming:
            self._streaming = False
            if self.truncated:
                self._show_tail()
            self._view.finish()
            self.set_class(fold, "-collapsed")
        self._title_line.update(self._title())

    def on_click(self) -> None:
        self.toggle()

    def _title(self) -> str:
        long = ""
        if self.truncated:
            long = with_keys(self.app, f" · {fmt.count(self._chars)} chars, the last "
                                       f"{fmt.count(REASONING_TAIL_CHARS)} shown ({{open-whole}} opens it all)")
        if self._streaming:
            return "▾ Thinking…" + long
        arrow = "▸" if self.has_class("-collapsed") else "▾"
        return long and f"{arrow} Reasoning{long}" or f"{arrow} Reasoning · {fmt.count(self._chars)} chars"
