"""Themes: `themes/*.toml` files → validated plain data, plus the app's own theme variables.

A theme file holds the fields of Textual's `Theme` (`name`, `primary`, the other base
colours, `dark`, ...) and a `[variables]` table. Everything is checked here, without
Textual, so a broken file becomes one `ThemeProblem` (file + reason) instead of a crash
on the next CSS refresh:

- every colour is parsed with the same rules as `textual.color.Color.parse`;
- unknown keys and unknown variables are named, with a "did you mean" suggestion;
- `name` must equal the file name without `.toml`, so "which file defines theme X" is
  never a question and one folder cannot define a theme twice;
- `code-theme` must be a Pygments style (or Rich's `ansi_dark` / `ansi_light`).

`load_themes()` reads the shipped folder, then the user's folder; a user theme with
the name of a shipped one replaces it. The UI turns each `ThemeSpec` into a Textual
`Theme` with `Theme(**spec.theme_kwargs())`.

The app's own style variables (`$user-message-background`, ...) are listed in
`APP_VARIABLES`. Textual cannot resolve a variable that refers to another variable, so
`app_variables_for()` computes concrete colours from any theme's base colours (ours or
a Textual built-in); the UI returns them from `App.get_theme_variable_defaults()`, and
values set in a theme's `[variables]` win.
"""

from __future__ import annotations

import colorsys
import difflib
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_THEME = "vllm-night"
"""The theme used when none is configured, and the fallback when the configured one fails."""

MAX_THEME_FILE_BYTES = 256 * 1024
"""Theme files are tiny; anything larger is a mistake (and not worth parsing)."""

# --------------------------------------------------------------------------- colours


class Colour(NamedTuple):
    """A parsed colour: 0-255 channels and alpha 0-1; `ansi` names a terminal colour."""

    r: int
    """Red, 0-255."""
    g: int
    """Green, 0-255."""
    b: int
    """Blue, 0-255."""
    a: float = 1.0
    """Alpha, 0 (transparent) to 1 (opaque)."""
    ansi: str | None = None
    """The `ansi_*` name when the colour is the terminal's own (its RGB is a guess)."""

    @property
    def hex(self) -> str:
        """`#rrggbb`, or `#rrggbbaa` when not opaque."""
        rgb = f"#{self.r:02x}{self.g:02x}{self.b:02x}"
        return rgb if self.a >= 1.0 else f"{rgb}{round(self.a * 255):02x}"


def _colour_table(text: str) -> dict[str, tuple[int, int, int]]:
    pairs = (item.split(":") for item in text.split())
    return {name: (int(rgb[0:2], 16), int(rgb[2:4], 16), int(rgb[4:6], 16)) for name, rgb in pairs}


CSS_COLOUR_NAMES = _colour_table(
    """
    black:000000 silver:c0c0c0 gray:808080 white:ffffff maroon:800000 red:ff0000
    purple:800080 fuchsia:ff00ff green:008000 lime:00ff00 olive:808000 yellow:ffff00
    navy:000080 blue:0000ff teal:008080 aqua:00ffff orange:ffa500 aliceblue:f0f8ff
    antiquewhite:faebd7 aquamarine:7fffd4 azure:f0ffff beige:f5f5dc bisque:ffe4c4
    blanchedalmond:ffebcd blueviolet:8a2be2 brown:a52a2a burlywood:deb887
    cadetblue:5f9ea0 chartreuse:7fff00 chocolate:d2691e coral:ff7f50
    cornflowerblue:6495ed cornsilk:fff8dc crimson:dc143c cyan:00ffff darkblue:00008b
    darkcyan:008b8b darkgoldenrod:b8860b darkgray:a9a9a9 darkgreen:006400
    darkgrey:a9a9a9 darkkhaki:bdb76b darkmagenta:8b008b darkolivegreen:556b2f
    darkorange:ff8c00 darkorchid:9932cc darkred:8b0000 darksalmon:e9967a
    darkseagreen:8fbc8f darkslateblue:483d8b darkslategray:2f4f4f darkslategrey:2f4f4f
    darkturquoise:00ced1 darkviolet:9400d3 deeppink:ff1493 deepskyblue:00bfff
    dimgray:696969 dimgrey:696969 dodgerblue:1e90ff firebrick:b22222 floralwhite:fffaf0
    forestgreen:228b22 gainsboro:dcdcdc ghostwhite:f8f8ff gold:ffd700 goldenrod:daa520
    greenyellow:adff2f grey:808080 honeydew:f0fff0 hotpink:ff69b4 indianred:cd5c5c
    indigo:4b0082 ivory:fffff0 khaki:f0e68c lavender:e6e6fa lavenderblush:fff0f5
    lawngreen:7cfc00 lemonchiffon:fffacd lightblue:add8e6 lightcoral:f08080
    lightcyan:e0ffff lightgoldenrodyellow:fafad2 lightgray:d3d3d3 lightgreen:90ee90
    lightgrey:d3d3d3 lightpink:ffb6c1 lightsalmon:ffa07a lightseagreen:20b2aa
    lightskyblue:87cefa lightslategray:778899 lightslategrey:778899
    lightsteelblue:b0c4de lightyellow:ffffe0 limegreen:32cd32 linen:faf0e6
    magenta:ff00ff mediumaquamarine:66cdaa mediumblue:0000cd mediumorchid:ba55d3
    mediumpurple:9370db mediumseagreen:3cb371 mediumslateblue:7b68ee
    mediumspringgreen:00fa9a mediumturquoise:48d1cc mediumvioletred:c71585
    midnightblue:191970 mintcream:f5fffa mistyrose:ffe4e1 moccasin:ffe4b5
    navajowhite:ffdead oldlace:fdf5e6 olivedrab:6b8e23 orangered:ff4500 orchid:da70d6
    palegoldenrod:eee8aa palegreen:98fb98 paleturquoise:afeeee palevioletred:db7093
    papayawhip:ffefd5 peachpuff:ffdab9 peru:cd853f pink:ffc0cb plum:dda0dd
    powderblue:b0e0e6 rebeccapurple:663399 rosybrown:bc8f8f royalblue:4169e1
    saddlebrown:8b4513 salmon:fa8072 sandybrown:f4a460 seagreen:2e8b57 seashell:fff5ee
    sienna:a0522d skyblue:87ceeb slateblue:6a5acd slategray:708090 slategrey:708090
    snow:fffafa springgreen:00ff7f steelblue:4682b4 tan:d2b48c thistle:d8bfd8
    tomato:ff6347 turquoise:40e0d0 violet:ee82ee wheat:f5deb3 whitesmoke:f5f5f5
    yellowgreen:9acd32
    """
)
"""CSS colour names → RGB: the names `textual.color.Color.parse` knows (a test compares)."""

ANSI_COLOUR_NAMES = _colour_table(
    """
    ansi_black:000000 ansi_red:800000 ansi_green:008000 ansi_yellow:808000
    ansi_blue:000080 ansi_magenta:800080 ansi_cyan:008080 ansi_white:c0c0c0
    ansi_bright_black:808080 ansi_bright_red:ff0000 ansi_bright_green:00ff00
    ansi_bright_yellow:ffff00 ansi_bright_blue:0000ff ansi_bright_magenta:ff00ff
    ansi_bright_cyan:00ffff ansi_bright_white:ffffff
    """
)
"""The terminal's 16 colours (`ansi_red`, ...), with the RGB Textual assumes for them."""

# The same grammar as Textual's RE_COLOR, so both accept exactly the same strings
# (including its quirks: no spaces around the value, `$` also matching before a
# final newline).
_DECIMAL = r"-?\d+\.?\d*"
_PERCENT = r"-?\d+\.?\d*%"
_COMMA = r"\s*,\s*"
_OPEN = r"\(\s*"
_CLOSE = r"\s*\)"
_COLOUR_RE = re.compile(
    rf"""
    \#([0-9a-fA-F]{{3}})$|
    \#([0-9a-fA-F]{{4}})$|
    \#([0-9a-fA-F]{{6}})$|
    \#([0-9a-fA-F]{{8}})$|
    rgb{_OPEN}({_DECIMAL}{_COMMA}{_DECIMAL}{_COMMA}{_DECIMAL}){_CLOSE}$|
    rgba{_OPEN}({_DECIMAL}{_COMMA}{_DECIMAL}{_COMMA}{_DECIMAL}{_COMMA}{_DECIMAL}){_CLOSE}$|
    hsl{_OPEN}({_DECIMAL}{_COMMA}{_PERCENT}{_COMMA}{_PERCENT}){_CLOSE}$|
    hsla{_OPEN}({_DECIMAL}{_COMMA}{_PERCENT}{_COMMA}{_PERCENT}{_COMMA}{_DECIMAL}){_CLOSE}$
    """,
    re.VERBOSE,
)
_COLOUR_FORMS = (
    "#rrggbb, #rgb, #rrggbbaa, rgb(r,g,b), rgba(r,g,b,a), hsl(h,s%,l%) or a CSS colour name"
)


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _percent(text: str) -> float:
    return _clamp(float(text.strip()[:-1]) / 100.0, 0.0, 1.0)


def _from_hsl(h: str, s: str, l: str) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(float(h) % 360 / 360, _percent(l), _percent(s))
    return int(r * 255 + 0.5), int(g * 255 + 0.5), int(b * 255 + 0.5)


def parse_colour(text: str) -> Colour:
    """Parse a colour as Textual's `Color.parse` does; raise `ValueError` saying why not.

    Accepts `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb(r,g,b)`, `rgba(r,g,b,a)`,
    `hsl(h,s%,l%)`, `hsla(h,s%,l%,a)`, lower-case CSS colour names, `transparent`,
    `ansi_*` terminal colours and `ansi_default`.
    """
    if text == "ansi_default":
        return Colour(0, 0, 0, 1.0, ansi=text)
    if text in ANSI_COLOUR_NAMES:
        return Colour(*ANSI_COLOUR_NAMES[text], 1.0, ansi=text)
    if text == "transparent":
        return Colour(0, 0, 0, 0.0)
    if text in CSS_COLOUR_NAMES:
        return Colour(*CSS_COLOUR_NAMES[text])
    match = _COLOUR_RE.match(text)
    if match is None:
        raise ValueError(_colour_complaint(text))
    hex3, hex4, hex6, hex8, rgb, rgba, hsl, hsla = match.groups()
    if hex3 or hex4:
        digits = [int(d + d, 16) for d in (hex3 or hex4)]
        return Colour(*digits[:3], digits[3] / 255.0 if hex4 else 1.0)
    if hex6 or hex8:
        digits = [int((hex6 or hex8)[i : i + 2], 16) for i in range(0, len(hex6 or hex8), 2)]
        return Colour(*digits[:3], digits[3] / 255.0 if hex8 else 1.0)
    if rgb or rgba:
        values = [float(v) for v in (rgb or rgba).split(",")]
        r, g, b = (int(_clamp(int(v), 0, 255)) for v in values[:3])
        return Colour(r, g, b, _clamp(values[3], 0.0, 1.0) if rgba else 1.0)
    h, s, l, *alpha = (hsl or hsla).split(",")
    return Colour(*_from_hsl(h, s, l), _clamp(float(alpha[0]), 0.0, 1.0) if alpha else 1.0)


def _colour_complaint(text: str) -> str:
    if not text.strip():
        return "is empty; give a colour such as \"#7aa2f7\""
    if text != text.strip() and is_colour(text.strip()):
        return f"is not a colour: {text!r} (remove the spaces around it)"
    if text != text.lower() and is_colour(text.lower()):
        lower = text.lower()
        return f"is not a colour: {text!r} (colour names and functions are lower-case: {lower!r})"
    if not text.startswith(("#", "rgb", "hsl")):
        names = [*CSS_COLOUR_NAMES, *ANSI_COLOUR_NAMES, "transparent", "ansi_default"]
        close = difflib.get_close_matches(text.lower(), names, n=1)
        if close:
            return f"is not a colour: {text!r} (did you mean {close[0]!r}?)"
    return f"is not a colour: {text!r} (use {_COLOUR_FORMS})"


def is_colour(text: str) -> bool:
    """True when `parse_colour(text)` succeeds."""
    try:
        parse_colour(text)
    except ValueError:
        return False
    return True


def _split_alpha(value: str) -> tuple[str, float]:
    """`"#abc 50%"` → `("#abc", 0.5)`: Textual CSS allows a colour with an alpha percentage."""
    head, sep, tail = value.rpartition(" ")
    if sep and re.fullmatch(r"\d+(\.\d+)?%", tail):
        return head.rstrip(), _percent(tail)
    return value, 1.0


def _blend(a: Colour, b: Colour, factor: float) -> Colour:
    """Mix `a` towards `b` (0: all `a`, 1: all `b`), channel by channel as Textual does."""
    factor = _clamp(factor, 0.0, 1.0)
    return Colour(
        int(a.r + (b.r - a.r) * factor),
        int(a.g + (b.g - a.g) * factor),
        int(a.b + (b.b - a.b) * factor),
    )


def _luminance(colour: Colour) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(colour.r) + 0.7152 * linear(colour.g) + 0.0722 * linear(colour.b)


def _contrast(a: Colour, b: Colour) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio (1 to 21) of two opaque colours; 4.5 is the bar for body text."""
    return _contrast(parse_colour(first), parse_colour(second))


_WHITE = Colour(255, 255, 255)
_BLACK = Colour(0, 0, 0)


def _readable(colour: Colour, background: Colour, minimum: float = 4.5) -> Colour:
    """`colour`, nudged towards white or black just enough to reach `minimum` contrast."""
    if _contrast(colour, background) >= minimum:
        return colour
    extreme = _WHITE if _contrast(_WHITE, background) >= _contrast(_BLACK, background) else _BLACK
    for step in range(1, 21):
        nudged = _blend(colour, extreme, step / 20)
        if _contrast(nudged, background) >= minimum:
            return nudged
    return extreme


# ------------------------------------------------------------------------- variables

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
_TEXTUAL_OTHER_VARIABLES = ["text", "text-muted", "text-disabled", "text-primary", "text-secondary", "text-warning", "text-error", "text-success", "text-accent", "primary-muted", "secondary-muted", "accent-muted", "warning-muted", "error-muted", "success-muted", "foreground-muted", "foreground-disabled", "background-muted", "block-cursor-foreground", "block-cursor-background", "block-cursor-text-style", "block-cursor-blurred-foreground", "block-cursor-blurred-background", "block-cursor-blurred-text-style", "block-hover-background", "border", "border-blurred", "surface-active", "scrollbar", "scrollbar-hover", "scrollbar-active", "scrollbar-background", "scrollbar-corner-color", "scrollbar-background-hover", "scrollbar-background-active", "link-background", "link-background-hover", "link-color", "link-style", "link-color-hover", "link-style-hover", "footer-foreground", "footer-background", "footer-key-foreground", "footer-key-background", "footer-description-foreground", "footer-description-background", "footer-item-background", "input-cursor-background", "input-cursor-foreground", "input-cursor-text-style", "input-selection-background", "input-selection-foreground", "button-foreground", "button-color-foreground", "button-focus-text-style", "ansi-background", "ansi-foreground", "screen-selection-background", "screen-selection-foreground"]
TEXTUAL_VARIABLES: frozenset[str] = frozenset(
    [f"{name}{shade}" for name in _SHADED for shade in _SHADES]
    + _TEXTUAL_OTHER_VARIABLES
    + [f"markdown-h{n}-{part}" for n in range(1, 7) for part in ("color", "background", "text-style")]
)
"""The variables Textual's colour system defines (8.2): a theme's `[variables]` may set them."""

_STYLE_FLAGS = frozenset(
    ["b", "blink", "bold", "dim", "i", "italic", "none", "not", "o", "overline", "reverse", "strike", "u", "underline", "uu"]
)
_RICH_CODE_THEMES = ("ansi_dark", "ansi_light")


def _is_text_style_variable(name: str) -> bool:
    return name.endswith("text-style") or name in ("link-style", "link-style-hover")


def _check_css_colour(value: str) -> str | None:
    """Why `value` is not a CSS colour value (`<colour>` or `<colour> <n>%`), or None."""
    colour, _ = _split_alpha(value)
    try:
        parse_colour(colour)
    except ValueError as error:
        return str(error)
    return None


# Pygments is imported inside these two: it is only needed when a file names a style.


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


def _check_variable(name: str, value: Any) -> str | None:
    """What is wrong with `[variables]` entry `name = value`, or None."""
    if name not in APP_VARIABLES and name not in TEXTUAL_VARIABLES:
        close = difflib.get_close_matches(name, [*APP_VARIABLES, *sorted(TEXTUAL_VARIABLES)], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else " (see the list of theme variables)"
        return f"unknown variable {name!r}{hint}"
    if not isinstance(value, str):
        return f"variable {name!r} must be a string, not {_toml_type(value)}"
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
        if _split_alpha(value)[0] in ("auto", "initial"):
            return None
    reason = _check_css_colour(value)
    return f"variable {name!r} {reason}" if reason else None


# -------------------------------------------------------------- derived app variables


def _colour_or_none(value: str | None) -> Colour | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_colour(value)
    except ValueError:
        return None


def _opaque(colour: Colour, alpha: float, under: Colour) -> Colour:
    """The colour seen when `colour` at `alpha` (times its own) is painted over `under`."""
    seen = _blend(under, colour, colour.a * alpha)
    return seen._replace(ansi=None)


def app_variables_for(
    base: Mapping[str, str | None],
    dark: bool,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Concrete values for every app variable, derived from a theme's base colours.

    `base` maps `BASE_COLOUR_KEYS` to colour strings (missing or `None` keys take
    Textual's defaults); for a Textual `Theme` pass
    `{key: getattr(theme, key) for key in BASE_COLOUR_KEYS}`. `overrides` are the
    theme's own `[variables]`: any app variable set there is returned as given and is
    used when deriving the rest (e.g. status colours stay readable on an overridden
    panel background). Themes in terminal colours (`ansi_*`) get terminal colours back.
    Never raises: unusable values are treated as missing.
    """
    overrides = dict(overrides or {})
    colours = {key: _colour_or_none(base.get(key)) for key in BASE_COLOUR_KEYS}
    if any(colour is not None and colour.ansi for colour in colours.values()):
        return _ansi_app_variables(base, dark, overrides)

    primary = colours["primary"] or Colour(0x01, 0x78, 0xD4)
    secondary = colours["secondary"] or primary
    warning = colours["warning"] or primary
    error = colours["error"] or secondary
    success = colours["success"] or secondary
    accent = colours["accent"] or primary
    # Textual's own defaults for a theme that leaves these out (textual/design.py).
    background = colours["background"] or parse_colour("#121212" if dark else "#efefef")
    surface = colours["surface"] or parse_colour("#1e1e1e" if dark else "#f5f5f5")
    inverse = Colour(255 - background.r, 255 - background.g, 255 - background.b)
    foreground = colours["foreground"] or inverse
    panel = colours["panel"]
    if panel is None:
        panel = _blend(surface, primary, 0.1)
        if dark:
            boost = colours["boost"] or _WHITE._replace(a=0.04)
            panel = _opaque(boost, 1.0, panel)

    result: dict[str, str] = {}

    def put(name: str, derived: Colour) -> Colour:
        """Record `name`; an override wins and is what later derivations build on."""
        given = overrides.get(name)
        if isinstance(given, str) and _check_css_colour(given) is None:
            head, alpha = _split_alpha(given)
            result[name] = given
            return _opaque(parse_colour(head), alpha, background)
        result[name] = derived.hex
        return derived

    text_floor = min(4.5, _contrast(foreground, background))
    tint = 0.12 if dark else 0.08
    user_background = _blend(background, primary, tint)
    while tint > 0 and _contrast(foreground, user_background) < text_floor:
        tint = round(tint - 0.02, 2)
        user_background = _blend(background, primary, tint)
    put("user-message-background", user_background)
    put("user-message-border", primary)
    assistant_background = put("assistant-message-background", background)
    put("assistant-message-border", _blend(background, foreground, 0.25))
    muted = _blend(background, foreground, 0.65)
    put("reasoning-foreground", _readable(muted, assistant_background))
    put("reasoning-border", _blend(background, secondary, 0.5))
    # A theme whose surface is its background still gets panels that stand out.
    distinct_surface = surface[:3] != background[:3]
    tool_background = put(
        "tool-panel-background", surface if distinct_surface else _blend(background, foreground, 0.05)
    )
    put("tool-panel-border", _blend(background, accent, 0.6))
    put("tool-ok", _readable(success, tool_background))
    put("tool-error", _readable(error, tool_background))
    put("tool-pending", _readable(warning, tool_background))
    error_background = put("error-background", _blend(background, error, 0.15 if dark else 0.10))
    put("error-foreground", _readable(error, error_background))
    put("error-border", error)
    status_background = put("status-bar-background", panel)
    put("status-bar-foreground", _readable(foreground, status_background))
    result["code-theme"] = _code_theme(overrides, dark)
    return result


def _code_theme(overrides: Mapping[str, str], dark: bool) -> str:
    given = overrides.get("code-theme")
    if isinstance(given, str) and _check_variable("code-theme", given) is None:
        return given
    return "monokai" if dark else "friendly"


def _ansi_app_variables(
    base: Mapping[str, str | None], dark: bool, overrides: Mapping[str, str]
) -> dict[str, str]:
    """Terminal-colour themes: no arithmetic is possible, so name the terminal's colours."""

    def pick(key: str, fallback: str) -> str:
        value = base.get(key)
        return value if isinstance(value, str) and is_colour(value) else fallback

    primary = pick("primary", "ansi_blue")
    secondary = pick("secondary", primary)
    error = pick("error", "ansi_red")
    derived = {
        "user-message-background": "transparent",
        "user-message-border": primary,
        "assistant-message-background": "transparent",
        "assistant-message-border": "ansi_bright_black",
        "reasoning-foreground": "ansi_bright_black",
        "reasoning-border": secondary,
        "tool-panel-background": "transparent",
        "tool-panel-border": pick("accent", primary),
        "tool-ok": pick("success", "ansi_green"),
        "tool-error": error,
        "tool-pending": pick("warning", "ansi_yellow"),
        "error-background": "transparent",
        "error-foreground": error,
        "error-border": error,
        "status-bar-background": "transparent",
        "status-bar-foreground": "ansi_default",
    }
    for name in derived:
        given = overrides.get(name)
        if isinstance(given, str) and _check_css_colour(given) is None:
            derived[name] = given
    given_code = overrides.get("code-theme")
    if isinstance(given_code, str) and _check_variable("code-theme", given_code) is None:
        derived["code-theme"] = given_code
    else:
        derived["code-theme"] = "ansi_dark" if dark else "ansi_light"
    return derived


# ------------------------------------------------------------------------ theme files


class ThemeError(Exception):
    """A theme file cannot be used; `reason` says why, phrased for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ThemeProblem:
    """A theme file (or folder) that was skipped, and why."""

    path: Path
    """The file or folder."""
    reason: str
    """What is wrong, e.g. `unknown key 'primry' (did you mean 'primary'?)`."""

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class ThemeSpec:
    """A validated theme: the fields of Textual's `Theme`, plus where it came from."""

    name: str
    """Theme name, equal to the file name without `.toml` (e.g. `vllm-night`)."""
    primary: str
    """The main colour: focus borders, the user's messages, headings."""
    secondary: str | None = None
    """Second colour (Textual's default: `primary`)."""
    accent: str | None = None
    """Highlights such as footer keys and tool panels (default: `primary`)."""
    warning: str | None = None
    """Warnings and pending tool calls (default: `primary`)."""
    error: str | None = None
    """Errors and failed tool calls (default: `secondary`)."""
    success: str | None = None
    """Success, e.g. finished tool calls (default: `secondary`)."""
    foreground: str | None = None
    """Default text colour (default: the inverse of `background`)."""
    background: str | None = None
    """Screen background (default: #121212 dark, #efefef light)."""
    surface: str | None = None
    """Background of widgets on the screen (default: #1e1e1e dark, #f5f5f5 light)."""
    panel: str | None = None
    """Background of panels such as the footer and the status bar."""
    boost: str | None = None
    """A translucent colour Textual lays over backgrounds to lift them."""
    dark: bool = True
    """Whether the theme is dark (Textual derives shades and picks text colours from it)."""
    luminosity_spread: float | None = None
    """How far apart Textual's lighten/darken shades are (Textual's default: 0.15)."""
    text_alpha: float | None = None
    """Opacity of text (Textual's default: 0.95)."""
    ansi: bool = False
    """Use the terminal's own colours (`ansi_*`) rather than RGB (Textual's `Theme.ansi`)."""
    variables: dict[str, str] = field(default_factory=dict)
    """The `[variables]` table: app variables (`APP_VARIABLES`) and Textual's own."""
    source: Path | None = None
    """The file the theme was read from."""

    def base_colours(self) -> dict[str, str | None]:
        """The base colours by `BASE_COLOUR_KEYS` name (for `app_variables_for`)."""
        return {key: getattr(self, key) for key in BASE_COLOUR_KEYS}

    def app_variables(self) -> dict[str, str]:
        """Every app variable for this theme: derived values, with this file's settings winning."""
        return app_variables_for(self.base_colours(), self.dark, self.variables)

    def theme_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `textual.theme.Theme(**kwargs)`.

        Only what the file sets: unset colours and numbers keep Textual's defaults, and
        `variables` holds just the file's own `[variables]` (the app supplies the rest
        of its variables through `get_theme_variable_defaults()`).
        """
        kwargs: dict[str, Any] = {"name": self.name, "dark": self.dark}
        kwargs.update({key: value for key, value in self.base_colours().items() if value is not None})
        kwargs["variables"] = dict(self.variables)
        if self.luminosity_spread is not None:
            kwargs["luminosity_spread"] = self.luminosity_spread
        if self.text_alpha is not None:
            kwargs["text_alpha"] = self.text_alpha
        if self.ansi:
            kwargs["ansi"] = True
        return kwargs


_NUMBER_KEYS = ("luminosity_spread", "text_alpha")
_KNOWN_KEYS = ("name", *BASE_COLOUR_KEYS, "dark", *_NUMBER_KEYS, "ansi", "variables")
# Textual adds "-theme-<name>" to the App's classes, so a name must fit in a CSS class.
_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")


def _toml_type(value: Any) -> str:
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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_THEME_FILE_BYTES:
            raise ThemeError(f"is {size // 1024} KiB; a theme file is a few lines of TOML")
        raw = path.read_bytes()
    except OSError as error:
        raise ThemeError(f"cannot be read: {error.strerror or error}") from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ThemeError(
            f"is not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}); save it as UTF-8"
        ) from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ThemeError(f"is not valid TOML: {error}") from error


def load_theme_file(path: Path) -> ThemeSpec:
    """Read and validate one theme file; raise `ThemeError` listing everything wrong with it."""
    path = Path(path)
    data = _read_toml(path)
    issues: list[str] = []

    for key in data:
        if key not in _KNOWN_KEYS:
            close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
            known = ", ".join(_KNOWN_KEYS)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {known})"
            issues.append(f"unknown key {key!r}{hint}")

    name = data.get("name")
    if name is None:
        issues.append(f"missing 'name' (add name = \"{path.stem}\")")
    elif not isinstance(name, str):
        issues.append(f"'name' must be a string, not {_toml_type(name)}")
    elif not _NAME_RE.fullmatch(name):
        issues.append(f"'name' {name!r} may only contain letters, digits, '-' and '_'")
    elif name != path.stem:
        issues.append(
            f"'name' {name!r} does not match the file name; use name = \"{path.stem}\" "
            f"or rename the file to {name}.toml"
        )

    colours: dict[str, str | None] = {}
    if "primary" not in data:
        issues.append("missing 'primary' (the main colour, e.g. primary = \"#6cb0ff\")")
    for key in BASE_COLOUR_KEYS:
        value = data.get(key)
        if value is None:
            colours[key] = None
        elif not isinstance(value, str):
            issues.append(f'{key!r} must be a colour string such as "#6cb0ff", not {_toml_type(value)}')
        else:
            try:
                parse_colour(value)
            except ValueError as error:
                issues.append(f"{key!r} {error}")
            else:
                colours[key] = value

    flags: dict[str, bool] = {}
    for key, default in (("dark", True), ("ansi", False)):
        value = data.get(key, default)
        if isinstance(value, bool):
            flags[key] = value
        else:
            issues.append(f"{key!r} must be true or false, not {_toml_type(value)}")

    numbers: dict[str, float | None] = {}
    for key in _NUMBER_KEYS:
        value = data.get(key)
        if value is None:
            numbers[key] = None
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            issues.append(f"{key!r} must be a number from 0 to 1, not {_toml_type(value)}")
        else:
            numbers[key] = float(value)

    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        issues.append(f"'variables' must be a table ([variables]), not {_toml_type(variables)}")
        variables = {}
    for variable, value in variables.items():
        problem = _check_variable(variable, value)
        if problem:
            issues.append(problem)

    if issues:
        raise ThemeError("; ".join(issues))
    return ThemeSpec(
        name=name,
        **colours,  # type: ignore[arg-type]
        dark=flags["dark"],
        ansi=flags["ansi"],
        luminosity_spread=numbers["luminosity_spread"],
        text_alpha=numbers["text_alpha"],
        variables=dict(variables),
        source=path,
    )


def shipped_themes_dir() -> Path:
    """The themes that come with vllm-chat: `vllm_chat/themes` in an installed wheel,
    the repository's top-level `themes/` in a source checkout."""
    from importlib.resources import files

    packaged = files("vllm_chat").joinpath("themes")
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "themes"


def _theme_files(folder: Path) -> list[Path]:
    # Dotfiles are editor lock and backup files (e.g. Emacs' `.#night.toml`).
    return sorted(p for p in folder.glob("*.toml") if not p.name.startswith("."))


def load_themes(
    dirs: Sequence[Path] | None = None,
) -> tuple[dict[str, ThemeSpec], list[ThemeProblem]]:
    """Load every theme in `dirs` (default: the shipped folder, then the user's).

    A later folder's theme replaces an earlier one of the same name, so users can
    restyle a shipped theme by copying its file. Folders that do not exist are skipped.
    Problems are collected, never raised: each broken file is one `ThemeProblem` and
    the others still load.
    """
    problems: list[ThemeProblem] = []
    if dirs is None:
        from vllm_chat.core.paths import user_themes_dir

        shipped = shipped_themes_dir()
        if not shipped.is_dir():
            problems.append(ThemeProblem(shipped, "shipped themes are missing; reinstall vllm-chat"))
        dirs = [shipped, user_themes_dir()]

    themes: dict[str, ThemeSpec] = {}
    for folder in map(Path, dirs):
        if not folder.exists():
            continue
        if not folder.is_dir():
            problems.append(ThemeProblem(folder, "is not a folder (themes are *.toml files in a folder)"))
            continue
        try:
            files = _theme_files(folder)
        except OSError as error:
            problems.append(ThemeProblem(folder, f"cannot be listed: {error.strerror or error}"))
            continue
        for path in files:
            try:
                spec = load_theme_file(path)
            except ThemeError as error:
                problems.append(ThemeProblem(path, error.reason))
            else:
                themes[spec.name] = spec
    return themes, problems
