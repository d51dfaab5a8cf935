"""A preview reads Markdown as the prose it shows: markers of headings, fences, quotes,
rules and tables go, inline Markdown shows its words, table cells are kept apart."""

from __future__ import annotations

from vllm_chat.core.markdown_line import markdown_line


def test_headings_and_emphasis_read_as_their_words() -> None:
    assert markdown_line("# A long reply\n\nAbout **batching**:\n\n## 1. Batching") == \
        "A long reply About batching: 1. Batching"


def test_a_preview_flattened_to_one_line_loses_its_markers_too() -> None:
    assert markdown_line("# A long reply … ## 1. Batching") == "A long reply … 1. Batching"


def test_code_links_and_images_show_what_they_say() -> None:
    assert markdown_line("Run `vllm serve` (see [the docs](https://docs.vllm.ai)) ![a chart](c.png)") == \
        "Run vllm serve (see the docs) a chart"


def test_a_table_keeps_its_cells_apart() -> None:
    assert markdown_line("| Setting | Effect |\n|---|---|\n| `max_num_seqs` | requests |") == \
        "Setting · Effect · max_num_seqs · requests"


def test_fences_quotes_and_rules_go_but_their_text_stays() -> None:
    assert markdown_line("> quoted\n\n```python\nprint(1)\n```\n\n---\n\nafter") == "quoted print(1) after"


def test_plain_prose_is_left_as_it_is() -> None:
    for text in ("C# is fine, #hashtag too", "3 > 2, and 1 < 2", "a * b * c"):
        assert markdown_line(text) == text
