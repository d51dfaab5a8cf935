"""A reply view handed a huge text at once, in an app of its own (for the tests of how it
draws a backlog)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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


@asynccontextmanager
async def backlog(app: App[None], text: str) -> AsyncIterator[tuple[Pilot[None], MarkdownView]]:
    """Run `app` (80x24) and give its reply view, once it is laid out, all of `text` at once
    (the stream over): most of it is then a backlog, drawn over the following updates."""
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(MarkdownView)
        await pilot.pause()
        view.append(text)
        view.finish()
        yield pilot, view
