"""Streaming never changes the result: a long reply with every Markdown element, fed in
many chunk sizes (one character at a time, splits inside fences and table rows), ends
up drawn exactly as the same text given whole."""

from __future__ import annotations

import random

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from tests.support.pilot import wait_for_text, wait_until
from vllm_chat.ui.widgets.markdown_view import MarkdownView

DOC = """# A reply with everything

Plain prose with **bold**, *italic*, `inline code`, ~~struck~~ and a [link](https://example.com).
A second line of the same paragraph.

## Lists

- first item
- second item with `code`
  - nested item
- third item

1. one
2. two
3. three

> A quote that
> spans two lines.

```python
def fib(n: int) -> int:
    if n < 2:
        return n

    return fib(n - 1) + fib(n - 2)
```

| Name | Value | Notes |
|------|------:|-------|
| alpha | 1 | first |
| beta | 22 | second, longer note |
| gamma | 333 | third |

    indented code block

---

Setext heading
==============

Final paragraph \x1b[31mwith an escape\x1b[0m and [b]markup[/b] that stay inert.
"""


class Host(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield MarkdownView(id="streamed", streaming=True)
            yield MarkdownView(id="whole")


def lines(view: MarkdownView) -> list[list[tuple[str, object]]]:
    return [[(seg.text, seg.style) for seg in strip] for strip in view.rendered_lines()]


def chunks(text: str, size: int | str) -> list[str]:
    if size == "random":
        rng, out, i = random.Random(7), [], 0
        while i < len(text):
            n = rng.randint(1, 12)
            out.append(text[i:i + n])
            i += n
        return out
    return [text[i:i + size] for i in range(0, len(text), size)]  # type: ignore[operator]


def fence_and_row_splits(text: str) -> list[str]:
    """Cut right inside the fence marker, a code line and a table row."""
    cuts = sorted({text.index("```py") + 2, text.index("return fib") + 3, text.index("| beta") + 4,
                   text.index("|------") + 3, text.index("==") + 1})
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 64, "random", "splits"])
async def test_streamed_rendering_equals_whole_rendering(size: int | str) -> None:
    app = Host()
    async with app.run_test(size=(90, 60)) as pilot:
        streamed = app.query_one("#streamed", MarkdownView)
        whole = app.query_one("#whole", MarkdownView)
        whole.set_text(DOC)
        pieces = fence_and_row_splits(DOC) if size == "splits" else chunks(DOC, size)
        for i, piece in enumerate(pieces):
            streamed.append(piece)
            if i % 50 == 0:
                await pilot.pause()  # let some flushes happen mid-stream
        streamed.finish()
        assert streamed.source == whole.source
        # Drawing has a time budget per update (the rest follows in the next ones), and a scroll
        # bar appearing at the end draws both again, narrower: wait for both drawn and equal.
        await wait_until(pilot, lambda: streamed.settled and whole.settled and lines(streamed) == lines(whole),
                         message="the same lines as the whole text")
        await wait_for_text(pilot, app, "␛[31mwith an escape", "[b]markup[/b]")


async def test_the_source_is_inert_before_it_is_drawn_as_after() -> None:
    app = Host()
    async with app.run_test(size=(90, 60)):
        view = app.query_one("#streamed", MarkdownView)
        view.append("a \x1b[31mred\x1b[0m word")  # drawn at the next update, not yet
        assert view.source == "a ␛[31mred␛[0m word"


async def test_a_replys_first_words_are_drawn_at_once_then_updates_are_spaced(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MarkdownView, "FLUSH_INTERVAL", 30.0)  # later updates: far beyond the test
    app = Host()
    async with app.run_test(size=(90, 60)) as pilot:
        view = app.query_one("#streamed", MarkdownView)
        for piece in ("# ", "A ", "long ", "reply"):  # the heading's `#` shows nothing on its own
            view.append(piece)
            await wait_until(pilot, lambda: view.settled, timeout=5)
        await wait_for_text(pilot, app, "A long reply")
        view.append("\n\nThe heading is a finished block now")
        await wait_until(pilot, lambda: view.settled, timeout=5)
        view.append(": from here on, text waits for the next update.")
        await pilot.pause()
        assert not view.settled


class HiddenHost(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield MarkdownView(id="hidden", streaming=True).set_styles("display: none;")


async def test_a_view_hidden_before_its_first_layout_waits_for_one_without_working() -> None:
    """A reasoning block folds as soon as the answer begins: from a fast server, or on a
    loaded machine, before it was ever laid out. What it was given waits, parsed, for a
    width; no step runs meanwhile (it ran every 5 ms for as long as the block stayed
    folded), and it is drawn once the view is shown."""
    app = HiddenHost()
    async with app.run_test(size=(90, 60)) as pilot:
        view = app.query_one("#hidden", MarkdownView)
        view.append(DOC)
        await wait_until(pilot, lambda: view.settled, message="the text taken in")
        steps = view.work_steps
        assert view._flush_handle is None, "no step scheduled while there is nothing to draw into"
        assert view.work_steps == steps, "no step while there is nothing to draw into"
        view.display = True
        await wait_for_text(pilot, app, "A reply with everything", "Final paragraph")
        assert view.settled
