"""How one Markdown block looks once rendered: headings sit on the left, a thematic
break is a solid line, and a link always shows where it goes."""

from __future__ import annotations

from rich.console import Console
from rich.style import Style

from vllm_chat.ui.markdown_render import markdown_theme, render_markdown


def rendered(source: str, width: int = 40) -> list[str]:
    strips = render_markdown(source, console=Console(width=width), width=width, base=Style(),
                             rich_theme=markdown_theme({}), code_style="monokai")
    return [strip.text.rstrip() for strip in strips]


def test_a_heading_starts_at_the_left_edge() -> None:
    assert rendered("# Title") == ["Title"]


def test_a_thematic_break_is_a_solid_line_across_the_width() -> None:
    assert rendered("---", width=30) == ["─" * 30]


def test_a_link_shows_its_text_and_its_address() -> None:
    assert rendered("see [the docs](https://docs.vllm.ai)", width=60) == ["see the docs (https://docs.vllm.ai)"]
