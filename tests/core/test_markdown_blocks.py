"""Streamed Markdown is cut into top-level blocks exactly as if it arrived whole."""

from __future__ import annotations

import pytest

from vllm_chat.core.markdown_blocks import BlockStream, split_blocks

DOC = """# Title

Some text here
and more.

- a
- b

  still item b

1. one
2. two

```python
x = 1

y = 2
```

| a | b |
|---|---|
| 1 | 2 |

> quote
lazy continuation

Setext heading
--------------

    indented code

---
Last paragraph with `code` and a [link](http://example.com).
"""


def stream(text: str, size: int) -> list[str]:
    s = BlockStream()
    out: list[str] = []
    for i in range(0, len(text), size):
        out += [b.source for b in s.feed(text[i:i + size])]
    if s.tail.strip():
        out.append(s.tail)
    return out


def test_blocks_are_the_top_level_elements() -> None:
    blocks = split_blocks(DOC)
    assert blocks[0] == "# Title\n\n"
    assert blocks[2].startswith("- a\n- b\n\n  still item b")
    assert any(b.startswith("```python\nx = 1\n\ny = 2\n```") for b in blocks)
    assert any(b.startswith("| a | b |") for b in blocks)
    assert "".join(blocks) == DOC


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13, 64, 10_000])
def test_any_chunking_gives_the_same_blocks(size: int) -> None:
    assert stream(DOC, size) == split_blocks(DOC)


def test_a_block_is_handed_out_only_once_the_next_one_starts() -> None:
    s = BlockStream()
    assert s.feed("para one\n") == []
    assert s.feed("\n") == []
    assert [b.source for b in s.feed("para two\n")] == ["para one\n\n"]
    assert s.tail == "para two\n"


def test_an_unclosed_fence_stays_open_across_blank_lines() -> None:
    s = BlockStream()
    assert s.feed("```\ncode\n\n\nmore code\n") == []
    assert s.tail.startswith("```")
