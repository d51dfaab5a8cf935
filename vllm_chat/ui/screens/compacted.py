"""CompactedScreen: the messages a compaction summarised (or left out), shown again from the
session file, read-only."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from vllm_chat.core.conversation import Compaction
from vllm_chat.core.export import messages_markdown
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog
from vllm_chat.ui.widgets.markdown_view import MarkdownView


class CompactedScreen(Dialog[None]):
    """The original messages behind a summary; Esc closes, the usual keys scroll."""

    DEFAULT_CSS = """
    CompactedScreen {
        & > VerticalScroll { width: 100; height: 90%; }
        & .body { margin: 1 0; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Close", id="close-originals")]

    def __init__(self, record: Compaction) -> None:
        super().__init__()
        self.record = record
        """The compaction whose messages are shown."""

    def compose(self) -> ComposeResult:
        count = len(self.record.messages)
        how = "summarised" if self.record.kind == "summary" else "left out"
        with VerticalScroll():
            yield Static(f"The {count} message{'s' if count != 1 else ''} a compaction {how} "
                         "(kept in the session file; not sent any more)", classes="title", markup=False)
            yield MarkdownView(messages_markdown(self.record.messages), classes="body")
            yield Static(with_keys(self.app, "{close-originals} close"), classes="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)
