"""What a theme file may hold: its keys, the app's own variables and Textual's, and
the check of each `[variables]` entry (a colour, a text style, or a code theme).

Pygments is imported only inside the code-theme checks: it is needed only when a
file names a style.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Any

from vllm_chat.core.themes.colours import parse_colour, split_alpha

APP_VARIABLES: dict[str, str] = {
    "user-message-background": "Background of the user's messages: a faint tint of `primary`.",
    "user-message-border": "Border (accent line) of the user's messages.",
    "assistant-message-background": "Background of the model's replies: plain (the screen's).",
    "assistant-message-border": "Border of the model's replies: quiet, close to the background.",
    "reasoning-foreground": "Text of the reasoning (thinking) block: muted, still >= 4.5:1.",
    "reasoning-border": "Border of the reasoning block.",
    "tool-panel-background": "Background of tool-call panels.",
    "tool-panel-border": "Border of tool-call panels.",
    "tool-ok": "Text colour of a tool call's status when it succeeded (>= 4.5:1 on the panel).",
    "tool-error": "Text colour of a tool call's status when it failed (>= 4.5:1 on the panel).",
    "tool-pending": "Text colour of a tool call's status while it waits or runs (>= 4.5:1).",
    "error-background": "Background of error messages: a tint of `error`.",
    "error-foreground": "Text of error messages (>= 4.5:1 on `error-background`).",
    "error-border": "Border of error messages.",
    "status-bar-background": "Background of the status bar.",
    "status-bar-foreground": "Text of the status bar (>= 4.5:1 on its background).",
    "code-background": "Background of inline code and code blocks in replies.",
    "code-foreground": "Text of inline code in replies, table cells included (>= 4.5:1 on `code-background`).",
    "focus-border": "The bar beside the focused message (>= 3:1 on the background, as a focus mark must be).",
    "code-theme": "Not a colour: Pygments style for code rendered by Rich (or ansi_dark/ansi_light).",
}
"""The app's own theme variables (use as `$name` in CSS) and what each one styles."""

APP_COLOUR_VARIABLES: tuple[str, ...] = tuple(n for n in APP_VARIABLES if n != "code-theme")
"""The app variables that hold colours (all but `code-theme`)."""

BASE_COLOUR_KEYS: tuple[str, ...] = (
    "primary", "secondary", "accent", "warning", "error", "success",
    "foreground", "background", "surface", "panel", "boost",
)  # fmt: skip
"""The colour fields of Textual's `Theme`, in the order a theme file usually lists them."""

_SHADED = (
    "primary", "secondary", "primary-background", "secondary-background", "background",
    "foreground", "panel", "boost", "surface", "warning", "error", "success", "accent",
)  # fmt: skip
_SHADES = ("", *(f"-{way}-{n}" for way in ("lighten", "darken") for n in (1, 2, 3)))
_TEXTUAL_OTHER_VARIABLES = """
    text text-muted text-disabled text-primary text-secondary text-warning text-error
    text-success text-accent primary-muted secondary-muted accent-muted warning-muted
    error-muted success-muted foreground-muted foreground-disabled background-muted
    block-cursor-foreground block-cursor-background block-cursor-text-style
    block-cursor-blurred-foreground block-cursor-blurred-background
    block-cursor-blurred-text-style block-hover-background border border-blurred
    surface-active scrollbar scrollbar-hover scrollbar-active scrollbar-background
    scrollbar-corner-color scrollbar-background-hover scrollbar-background-active
    link-background link-background-hover link-color link-style link-color-hover
    link-style-hover footer-foreground footer-background footer-key-foreground
    footer-key-background footer-description-foreground footer-description-background
    footer-item-background input-cursor-background input-cursor-foreground
    input-cursor-text-style input-selection-background input-selection-foreground
    button-foreground button-color-foreground button-focus-text-style ansi-background
    ansi-foreground screen-selection-background screen-selection-foreground
""".split()
TEXTUAL_VARIABLES: frozenset[str] = frozenset(
    [f"{name}{shade}" for name in _SHADED for shade in _SHADES]
    + _TEXTUAL_OTHER_VARIABLES
    + [f"markdown-h{n}-{part}" for n in range(1, 7) for part in ("color", "background", "text-style")]
)
"""The variables Textual's colour system defines (8.2): a theme's `[variables]` may set them."""

_STYLE_FLAGS = frozenset(
    "b blink bold dim i italic none not o overline reverse strike u underline uu".split()
)
_RICH_CODE_THEMES = ("ansi_dark", "ansi_light")


def _is_text_style_variable(name: str) -> bool:
    return name.endswith("text-style") or name in ("link-style", "link-style-hover")


def check_css_colour(value: str) -> str | None:
    """Why `value` is not a CSS colour value (`<colour>` or `<colour> <n>%`), or None."""
    colour, _ = split_alpha(value)
    try:
        parse_colour(colour)
    except ValueError as error:
        return str(error)
    return None


@lru_cache(maxsize=64)
def _is_code_theme(name: str) -> bool:
    """Whether Rich can use `name` as a code theme (its own two, or any Pygments style)."""
    if name in _RICH_CODE_THEMES:
        return True
    from pygments.styles import get_style_by_name
    from pygments.util import ClassNotFound

    # Looked up the way Rich does, so a style missing from Pygments' list (as `native`
    # was in 2.16.0) or added by a plugin still counts.
    try:
        get_style_by_name(name)
    except (ClassNotFound, ImportError, ValueError):
        return False
    return True


@lru_cache(maxsize=1)
def _pygments_styles() -> tuple[str, ...]:
    from pygments.styles import get_all_styles

    return tuple(sorted(get_all_styles()))


def check_variable(name: str, value: Any) -> str | None:
    """What is wrong with `[variables]` entry `name = value`, or None."""
    if name not in APP_VARIABLES and name not in TEXTUAL_VARIABLES:
        close = difflib.get_close_matches(name, [*APP_VARIABLES, *sorted(TEXTUAL_VARIABLES)], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else " (see the list of theme variables)"
        return f"unknown variable {name!r}{hint}"
    if not isinstance(value, str):
        return f"variable {name!r} must be a string, not {toml_type(value)}"
    if name == "code-theme":
        if _is_code_theme(value):
            return None
        close = difflib.get_close_matches(value, [*_pygments_styles(), *_RICH_CODE_THEMES], n=1)
        hint = f"did you mean {close[0]!r}?" if close else "e.g. 'monokai', 'one-dark', 'friendly'"
        return f"variable 'code-theme' is not a Pygments style: {value!r} ({hint})"
    if _is_text_style_variable(name):
        bad = [word for word in value.split() if word not in _STYLE_FLAGS]
        if bad or not value.split():
            flags = ", ".join(sorted(_STYLE_FLAGS))
            return f"variable {name!r} is not a text style: {value!r} (use words from: {flags})"
        return None
    if name in TEXTUAL_VARIABLES:
        # Textual's own variables also take `auto` (contrasting text) and `initial`.
        if split_alpha(value)[0] in ("auto", "initial"):
            return None
    reason = check_css_colour(value)
    return f"variable {name!r} {reason}" if reason else None


NUMBER_KEYS = ("luminosity_spread", "text_alpha")
"""The keys that hold a number from 0 to 1."""
KNOWN_KEYS = ("name", *BASE_COLOUR_KEYS, "dark", *NUMBER_KEYS, "ansi", "variables")
"""Every key a theme file may have at its top level."""
# Textual adds "-theme-<name>" to the App's classes, so a name must fit in a CSS class.
NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
"""What a theme name may be made of."""


def toml_type(value: Any) -> str:
    """What a TOML value is, for a message: "an integer (3)", "a table"."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a date/time ({value})"
