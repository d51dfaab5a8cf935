"""The views of compaction in the conversation: the summary that stands for older messages
(or the mark where the oldest turns were left out), and the panel a compaction streams
its summary into while it runs.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from vllm_chat.core import format as fmt
from vllm_chat.core.context.compaction import CompactionStarted
from vllm_chat.core.conversation import Compaction
from vllm_chat.core.conversation import Message as ChatMessage
from vllm_chat.ui.widgets.markdown_view import MarkdownView
from vllm_chat.ui.widgets.message_views import MessageView

_SUMMARY_ACTIONS = ("menu", "copy", "originals", "delete", "prompt")
"""What a focused summary answers (see `ChatSession.actions_for`)."""


def compaction_title(message: ChatMessage, record: Compaction | None) -> str:
    """The line over a summary ("Summary of 12 earlier messages · 1.8k → 420 tokens") or the
    whole text of the mark of left-out turns."""
    count = len(record.messages) if record is not None else 0
    what = f"{count} earlier message{'s' if count != 1 else ''}"
    tokens = ""
    if record is not None and record.tokens_before is not None and record.tokens_after is not None:
        about = "" if record.exact else "~"
        tokens = f" · {about}{fmt.count(record.tokens_before)} → {about}{fmt.count(record.tokens_after)} tokens"
    if message.is_summary:
        return f"Summary of {what} (compacted){tokens}"
    return f"{what.capitalize()} left out here to make room{tokens}"


class SummaryMessageView(MessageView):
    """A compaction's summary, marked as one, or the mark of left-out turns; `o` shows the
    messages it stands for (kept in the session file)."""

    DEFAULT_CSS = """
    SummaryMessageView {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
        background: $boost;
        border-left: thick $secondary;
        & > .title { color: $secondary; text-style: bold italic; }
        & > .hint { color: $text-muted; }
        /* Focused: barred on both sides, a shape and not a colour alone. (A tint would have the
           text drawn again in the new background, a long reply at every step of j/k.) */
        &:focus { border-left: thick $focus-border; border-right: thick $focus-border; padding: 0 0 0 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "request('originals')", "Originals", id="show-originals"),
    ]

    def __init__(self, message: ChatMessage, record: Compaction | None) -> None:
        super().__init__(message)
        self.record = record
        """What the summary stands for (None if the session file lost the record)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A summary is not a prompt: it can't be edited or regenerated (the footer hides those).
        if action != "request" or not parameters:
            return True
        # A mark of left-out turns has no text to copy.
        return parameters[0] in _SUMMARY_ACTIONS and not (parameters[0] == "copy" and not self.message.content)

    def compose(self) -> ComposeResult:
        from vllm_chat.ui.keys import with_keys

        yield Static(compaction_title(self.message, self.record), classes="title", markup=False)
        if self.message.content:
            yield MarkdownView(self.message.content, classes="body")
        if self.record is not None:
            hint = "{show-originals} on this message shows the originals (reach it with {focus-messages})"
            yield Static(with_keys(self.app, hint), classes="hint", markup=False)


class CompactionPanel(Vertical):
    """Where a running compaction streams its summary; it goes once the compaction ends
    (the summary then takes the place of the older messages)."""

    DEFAULT_CSS = """
    CompactionPanel {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
        border: round $secondary;
        & > .title { color: $secondary; text-style: bold; }
    }
    """

    def __init__(self, started: CompactionStarted) -> None:
        super().__init__()
        about = "" if started.exact else "~"
        self._title = Static(Text(f"Compacting {started.messages} earlier messages "
                                  f"({about}{fmt.count(started.tokens_before)} tokens)…"),
                             classes="title", markup=False)
        self.body = MarkdownView("", streaming=True, classes="body")
        """The summary as it streams."""

    def compose(self) -> ComposeResult:
        yield self._title
        yield self.body

    def append(self, text: str) -> None:
        """More of the summary arrived."""
        self.body.append(text)

    def finish(self, outcome: str) -> None:
        """The compaction ended: say how (stays until the conversation is shown again)."""
        self.body.finish()
        self._title.update(Text(outcome))
