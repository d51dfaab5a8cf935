"""The UI's look comes from the theme: no widget CSS, stylesheet or Rich style in
`vllm_chat/ui` names a colour itself (`#hex`, `rgb()`, `hsl()`, `red`, `ansi_red`).

Colours are `$variables` only, so every theme (ours, the user's, Textual's) styles
every widget; `transparent`, `auto`, `initial` and `inherit` are not colours and are
allowed. The checkers are tested on bad samples first, so a guard that quietly
stopped seeing anything would fail too.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.errors import StyleSyntaxError
from rich.style import Style
from textual._color_constants import COLOR_NAME_TO_RGB
from textual.css.tokenize import tokenize
from textual.css.tokenizer import TokenError

import vllm_chat.ui

UI_ROOT = Path(vllm_chat.ui.__file__).parent

NOT_COLOURS = {"transparent", "auto", "initial", "inherit"}
"""Words that may stand where a colour goes without fixing one."""

NAMED_COLOURS = {name.lower() for name in COLOR_NAME_TO_RGB} - NOT_COLOURS
"""Every colour name Textual's CSS accepts (CSS names and the `ansi_*` terminal colours)."""

_LITERAL_FUNCTION = re.compile(r"\b(?:rgba?|hsla?)\s*\(", re.IGNORECASE)
_HEX = re.compile(r"#[0-9a-fA-F]{3,8}\b")


def literal_colours(css: str, where: str) -> list[str]:
    """Each literal colour in `css`, as `where: property: value` (empty when it only uses variables)."""
    found: list[str] = []
    prop = ""
    in_value = False
    try:
        for token in tokenize(css, (where, "")):
            if token.name in ("declaration_name", "variable_name"):
                prop, in_value = token.value.rstrip(":"), True
            elif token.name in ("declaration_end", "variable_value_end", "declaration_set_end"):
                in_value = False
            elif in_value and (token.name == "color" or
                               (token.name == "token" and token.value.lower() in NAMED_COLOURS)):
                found.append(f"{where}: {prop}: {token.value}")
            elif in_value and token.name in ("token", "string") and _LITERAL_FUNCTION.search(token.value):
                found.append(f"{where}: {prop}: {token.value}(...)")  # a colour function Textual couldn't tokenize
    except TokenError as exc:
        found.append(f"{where}: not valid Textual CSS ({exc}); fix it, then this guard can read it")
    return found


def rich_literal_colours(source: str, where: str) -> list[str]:
    """Literal colours in Rich styles written in Python: `Style(color="#...")`, a `style=`
    string such as "bold red", `Style.parse("...")`, and markup such as "[#ff0000]" or
    "[bold red]". Colours passed as variables (from `theme_color`) are not literals."""
    found: list[str] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node.func)
            if name == "Style":
                for keyword in node.keywords:
                    if keyword.arg in ("color", "bgcolor") and _is_text(keyword.value):
                        found.append(f"{where}:{node.lineno}: Style({keyword.arg}={keyword.value.value!r})")
            if name in ("Style.parse", "parse_style") and node.args and _is_text(node.args[0]):
                found += _style_colours(node.args[0].value, f"{where}:{node.lineno}")
            for keyword in node.keywords:
                if keyword.arg in ("style", "border_style") and _is_text(keyword.value):
                    found += _style_colours(keyword.value.value, f"{where}:{node.lineno}")
        elif _is_text(node) and "[" in node.value:
            for tag in re.findall(r"\[([^\[\]/=]+)\]", node.value):
                found += _style_colours(tag, f"{where}:{node.lineno}: markup [{tag}]")
    return found


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return ""


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _style_colours(text: str, where: str) -> list[str]:
    """`text` read as a Rich style: its colours, if it has any (text that isn't a style has none)."""
    if _HEX.search(text) or _LITERAL_FUNCTION.search(text):
        return [f"{where}: {text!r}"]
    try:
        style = Style.parse(text)
    except (StyleSyntaxError, ValueError):
        return []
    colours = [c for c in (style.color, style.bgcolor) if c is not None and c.name not in ("default",)]
    return [f"{where}: {text!r}"] if colours else []


# -- where the UI keeps CSS and Python -------------------------------------------------------


def ui_modules() -> list:
    """Every module of `vllm_chat.ui`, imported."""
    return [importlib.import_module(info.name)
            for info in pkgutil.walk_packages(vllm_chat.ui.__path__, "vllm_chat.ui.")]


def ui_css() -> Iterator[tuple[str, str]]:
    """(where, css) for each DEFAULT_CSS and CSS a UI class defines itself, and each .tcss file."""
    seen: set[type] = set()
    for module in ui_modules():
        for obj in vars(module).values():
            if not isinstance(obj, type) or obj in seen or not obj.__module__.startswith("vllm_chat.ui"):
                continue
            seen.add(obj)
            for attribute in ("DEFAULT_CSS", "CSS"):
                css = obj.__dict__.get(attribute)
                if isinstance(css, str) and css.strip():
                    yield f"{obj.__module__}.{obj.__qualname__}.{attribute}", css
    for path in sorted(UI_ROOT.rglob("*.tcss")):
        yield str(path.relative_to(UI_ROOT.parent)), path.read_text(encoding="utf-8")


# -- the checkers see what they must ----------------------------------------------------------


@pytest.mark.parametrize("css", [
    "Foo { color: red; }",
    "Foo { background: #fff; }",
    "Foo { border: round red; }",
    "Foo { tint: rgba(10, 20, 30, 0.4); }",
    "Foo { border-left: thick #12345678; }",
    "Foo { background: hsl(200, 50%, 40%); }",
    "Foo { & > .title { color: White 50%; } }",
    "Foo { scrollbar-color: ansi_bright_blue; }",
    "Foo { outline: solid DarkSlateGray; }",
    "$mine: black;\nFoo { color: $mine; }",
])
def test_the_css_checker_catches_literal_colours(css: str) -> None:
    assert literal_colours(css, "sample"), css


@pytest.mark.parametrize("css", [
    "Foo { color: $text-muted; background: $user-message-background 40%; }",
    "Foo { border: round $primary; border-left: thick $accent; tint: $error 20%; }",
    "Foo { background: transparent; color: auto 90%; scrollbar-color: initial; }",
    "Foo { & > .title { text-style: bold italic; border: none; } }",
    "Foo { border-title-color: inherit; }",
])
def test_the_css_checker_allows_variables_and_non_colour_words(css: str) -> None:
    assert literal_colours(css, "sample") == []


def test_the_rich_checker_catches_literal_colours() -> None:
    source = (
        'a = Style(color="#ff0000")\n'
        'b = Style(bold=True, bgcolor="red")\n'
        'c = Text("x", style="bold green")\n'
        'd = Text.from_markup("[#00ff00]hi[/]")\n'
        'e = "[bold red]loud[/]"\n'
        'f = Style.parse("on blue")\n'
        'g = Text("x", style="rgb(1,2,3)")\n'
    )
    found = rich_literal_colours(source, "sample.py")
    assert sorted({int(line.split(":")[1]) for line in found}) == [1, 2, 3, 4, 5, 6, 7], found


def test_the_rich_checker_allows_theme_colours_and_plain_styles() -> None:
    source = (
        'a = Style(color=primary, bold=True)\n'
        'b = Text("x", style="bold italic")\n'
        'c = Text("[image: cat.png 640x480]")\n'
        'd = theme_color(app, "surface", "#000000")\n'  # a fallback for a theme without the variable
        'e = Text("x", style=f"{theme_color(app, \'tool-ok\')} bold")\n'
        'f = "[dim]muted[/]"\n'
    )
    assert rich_literal_colours(source, "sample.py") == []


# -- the UI itself -------------------------------------------------------------------------------


def test_the_guard_reads_widget_css_and_every_stylesheet() -> None:
    where = [w for w, _ in ui_css()]
    assert any(w.endswith("MessageList.DEFAULT_CSS") for w in where)
    assert any(w.endswith("AssistantMessageView.DEFAULT_CSS") for w in where)
    assert {"ui/app.tcss", "ui/screens/chat.tcss", "ui/screens/settings.tcss"} <= set(where)


def test_widget_css_and_stylesheets_use_theme_variables_only() -> None:
    problems = [problem for where, css in ui_css() for problem in literal_colours(css, where)]
    assert problems == [], "literal colours (use a $variable):\n" + "\n".join(problems)


def test_rich_text_drawn_in_python_takes_colours_from_the_theme() -> None:
    problems = []
    for path in sorted(UI_ROOT.rglob("*.py")):
        problems += rich_literal_colours(path.read_text(encoding="utf-8"), str(path.relative_to(UI_ROOT.parent)))
    assert problems == [], "literal colours in Rich styles (use theme_color):\n" + "\n".join(problems)
