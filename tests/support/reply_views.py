"""A reply view handed a huge text at once, in an app of its own (for the tests of how it
draws a backlog)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.pilot import Pilot

from vllm_chat.ui.widgets.markdown_view import MarkdownView


def paragraphs(count: int) -> str:
    """`count` short Markdown paragraphs with a little markup each ("Paragraph 0 with ...")."""
    return "".join(f"Paragraph {i} with *some* `markup` in it.\n\n" for i in range(count))


class ReplyHost(App[None]):
    """An app that shows one streaming `MarkdownView`, scrolled."""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield MarkdownView(id="view", streaming=True)


async def handed_at_once(app: App[None], pilot: Pilot[None], text: str) -> MarkdownView:
    """The app's reply view, once it is laid out, given all of `text` at once (the stream
    over): most of it is then a backlog, drawn over the following updates."""
    view = app.query_one(MarkdownView)
    await pilot.pause()
    view.append(text)
    view.finish()
    return view
