"""Render Markdown blocks to Textual strips with Rich, in the app's colours.

Finished blocks are rendered once into `Strip`s (plain lists of segments),
which cost nothing per frame afterwards. Colours come from the current
Textual theme, turned into a Rich theme, so Markdown follows theme changes.
Links are shown as `text (url)` rather than terminal hyperlinks: a chat
reply must not be able to disguise where a link goes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Heading, HorizontalRule, Markdown
from rich.rule import Rule
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from rich.theme import Theme
from textual.color import Color
from textual.strip import Strip

from vllm_chat.core.markdown_blocks import markdown_parser


class _LeftHeading(Heading):
    """Headings aligned left: centred titles look lost in a chat column."""

    LEVEL_ALIGN: ClassVar[dict[str, str]] = {f"h{i}": "left" for i in range(1, 7)}  # type: ignore[assignment]  # Rich types it as its Literal alignments

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = self.text.copy()
        text.justify = "left"
        yield text


class _SolidRule(HorizontalRule):
    """A thematic break drawn as a solid line, like the table rules, not Rich's dashes."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Rule(style=console.get_style("markdown.hr", default="none"), characters="─")
        yield Text()


class ChatMarkdown(Markdown):
    """Rich's Markdown with left-aligned headings and one shared parser.

    Rich builds a new MarkdownIt parser for every Markdown object; rendering a
    block at a time, that was a third of the rendering cost. The shared one
    has the same configuration (CommonMark, tables, strikethrough).
    """

    elements = {**Markdown.elements, "heading_open": _LeftHeading, "hr": _SolidRule}

    def __init__(self, markup: str, *, code_theme: str = "monokai", hyperlinks: bool = False,
                 tokens: list[Any] | None = None) -> None:
        self.markup = markup
        self.parsed = tokens if tokens is not None else markdown_parser().parse(markup)
        self.code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = hyperlinks
        self.inline_code_lexer = None
        self.inline_code_theme = code_theme


def _hex(value: str | None, background: Color, fallback: str) -> str:
    if not value:
        return fallback
    try:
        color = Color.parse(value)
    except Exception:
        return fallback
    if color.a < 1:
        color = background + color
    return color.hex6


def markdown_theme(variables: dict[str, str]) -> Theme:
    """A Rich theme for Markdown built from the Textual theme's CSS variables. Every text
    colour is kept >= 4.5:1 against what it is drawn on (the reply's background, or
    `$code-background` for inline code), whatever the theme's own colours are."""
    background = Color.parse(variables.get("background", "#000000"))
    reply = Color.parse(_hex(variables.get("assistant-message-background"), background, background.hex6))

    def col(name: str, fallback: str) -> str:
        return _hex(variables.get(name), background, fallback)

    def text(name: str, fallback: str, on: Color = reply) -> str:
        return _legible(col(name, fallback), on)

    primary = text("primary", "#5fafff")
    secondary = text("secondary", "#af87ff")
    accent = text("accent", "#ffaf5f")
    muted = text("foreground-muted", col("text-muted", "#9e9e9e"))
    panel = col("panel", "#444444")
    code_bg = col("code-background", col("boost", col("surface", "#202020")))
    code = _legible(col("code-foreground", accent), Color.parse(code_bg))
    return Theme(
        {
            "markdown.h1": Style(color=primary, bold=True, underline=True),
            "markdown.h2": Style(color=primary, bold=True),
            "markdown.h3": Style(color=primary, bold=True),
            "markdown.h4": Style(color=secondary, bold=True),
            "markdown.h5": Style(color=secondary, italic=True),
            "markdown.h6": Style(color=muted, italic=True),
            "markdown.code": Style(color=code, bgcolor=code_bg),
            "markdown.code_block": Style(bgcolor=code_bg),
            "markdown.block_quote": Style(color=muted, italic=True),
            "markdown.list": Style(color=primary),
            "markdown.item.bullet": Style(color=primary, bold=True),
            "markdown.item.number": Style(color=primary),
            "markdown.hr": Style(color=panel),
            "markdown.link": Style(color=secondary, underline=True),
            "markdown.link_url": Style(color=muted),
            "markdown.table.border": Style(color=panel),
            "markdown.table.header": Style(color=primary, bold=True),
            "markdown.kbd": Style(color=accent, bold=True),
        },
        inherit=True,
    )


def _legible(colour: str, background: Color) -> str:
    """`colour`, nudged towards white or black until it reads >= 4.5:1 on `background`
    (a terminal's own colours are left as they are: their real values are unknown)."""
    if background.ansi is not None or not colour.startswith("#"):
        return colour
    from vllm_chat.core.themes.colours import parse_colour
    from vllm_chat.core.themes.contrast import readable

    return readable(parse_colour(colour), parse_colour(background.hex6)).hex


@lru_cache(maxsize=8)
def _known_pygments_style(name: str) -> bool:
    from pygments.styles import get_all_styles

    return name in set(get_all_styles())


def code_theme(variables: dict[str, str], dark: bool) -> str:
    """The Pygments style for code fences: the theme's `code-theme`, else a default."""
    name = variables.get("code-theme", "").strip().strip("\"'")
    if name and _known_pygments_style(name):
        return name
    return "monokai" if dark else "default"


def render_markdown(
    source: str,
    *,
    console: Console,
    width: int,
    base: Style,
    rich_theme: Theme,
    code_style: str,
    tokens: list[Any] | None = None,
) -> list[Strip]:
    """Render one block (or a whole document) of Markdown to strips `width` cells wide,
    with `base` (the widget's colours) under every segment. `tokens`, when given, are
    the source already parsed (the block splitter parsed it anyway)."""
    if width <= 0:
        return []
    markdown = ChatMarkdown(source, code_theme=code_style, hyperlinks=False, tokens=tokens)
    options = console.options.update(width=width, height=None, highlight=False)
    with console.use_theme(rich_theme):
        lines = console.render_lines(markdown, options, pad=True)
    return _strips(_trim_blank_edges(lines), width, base)


def _strips(lines: list[list[Segment]], width: int, base: Style) -> list[Strip]:
    # One Strip per line, styled as it is made rather than made and then restyled
    # (`Strip.apply_style`): half the strips, and half the garbage.
    apply = Segment.apply_style
    return [Strip(list(apply(line, base)), width) for line in lines]


def _is_blank(line: list[Segment]) -> bool:
    # Unstyled blank lines only: a code block's padding has a background and stays.
    return all(not seg.text.strip() and not (seg.style and seg.style.bgcolor) for seg in line)


def _trim_blank_edges(lines: list[list[Segment]]) -> list[list[Segment]]:
    """Rich pads some elements (tables, lists) with blank lines; blocks are spaced
    by the view instead, so every block is separated by exactly one line."""
    start, end = 0, len(lines)
    while start < end and _is_blank(lines[start]):
        start += 1
    while end > start and _is_blank(lines[end - 1]):
        end -= 1
    return lines[start:end]


def render_text(text: str, *, console: Console, width: int, base: Style) -> list[Strip]:
    """Render plain text (no Markdown, no markup) to strips, wrapping at `width`."""
    if width <= 0:
        return []
    options = console.options.update(width=width, height=None, highlight=False)
    lines = console.render_lines(Text(text), options, pad=True)
    return _strips(lines, width, base)
