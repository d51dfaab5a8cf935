"""QueueView: the prompts sent while a reply streams, waiting under it to go out next."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from vllm_chat.core.session import QueuedPrompt
from vllm_chat.core.text import inert

SHOWN = 3
"""Queued prompts listed by name; more are counted."""


class QueueView(Static):
    """The queued prompts, oldest (next) first; hidden while none waits."""

    DEFAULT_CSS = """
    QueueView {
        display: none;
        height: auto;
        margin: 0 1;
        padding: 0 1;
        color: $text-muted;
        border-left: thick $accent;
        &.-waiting { display: block; }
    }
    """

    def show(self, queued: list[QueuedPrompt]) -> None:
        """List `queued` (the view hides when it is empty)."""
        self.set_class(bool(queued), "-waiting")
        if not queued:
            self.update("")
            return
        from vllm_chat.ui.keys import key_hint

        text = Text()
        for i, prompt in enumerate(queued[:SHOWN]):
            first = " ".join(prompt.text.split())
            first = first if len(first) <= 70 else first[:69] + "…"
            media = f"  +{len(prompt.attachments)} attached" if prompt.attachments else ""
            text.append(("⏳ next: " if i == 0 else "   then: ") + inert(first) + media + "\n")
        if len(queued) > SHOWN:
            text.append(f"   and {len(queued) - SHOWN} more\n")
        text.append(f"{key_hint(self.app, 'edit-queued')} takes the last one back to edit or remove it",
                    style="italic")
        self.update(text)
