"""The app's own theme variables (`$user-message-background`, ...), derived from any
theme's base colours, ours or a Textual built-in.

Textual cannot resolve a variable that refers to another variable, so concrete
colours are computed here; the UI returns them from
`App.get_theme_variable_defaults()`, and values set in a theme's `[variables]` win.
"""

from __future__ import annotations

from collections.abc import Mapping

from vllm_chat.core.themes.colours import Colour, is_colour, parse_colour, split_alpha
from vllm_chat.core.themes.contrast import BLACK, WHITE, blend, contrast, opaque, readable
from vllm_chat.core.themes.schema import BASE_COLOUR_KEYS, check_css_colour, check_variable


def _colour_or_none(value: str | None) -> Colour | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_colour(value)
    except ValueError:
        return None


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
        panel = blend(surface, primary, 0.1)
        if dark:
            boost = colours["boost"] or WHITE._replace(a=0.04)
            panel = opaque(boost, 1.0, panel)

    result: dict[str, str] = {}

    def put(name: str, derived: Colour) -> Colour:
        """Record `name`; an override wins and is what later derivations build on."""
        given = overrides.get(name)
        if isinstance(given, str) and check_css_colour(given) is None:
            head, alpha = split_alpha(given)
            result[name] = given
            return opaque(parse_colour(head), alpha, background)
        result[name] = derived.hex
        return derived

    text_floor = min(4.5, contrast(foreground, background))
    tint = 0.12 if dark else 0.08
    user_background = blend(background, primary, tint)
    while tint > 0 and contrast(foreground, user_background) < text_floor:
        tint = round(tint - 0.02, 2)
        user_background = blend(background, primary, tint)
    user_background = put("user-message-background", user_background)
    put("user-message-border", primary)
    assistant_background = put("assistant-message-background", background)
    put("assistant-message-border", blend(background, foreground, 0.25))
    muted = blend(background, foreground, 0.65)
    put("reasoning-foreground", readable(muted, assistant_background))
    put("reasoning-border", blend(background, secondary, 0.5))
    # A theme whose surface is its background still gets panels that stand out.
    distinct_surface = surface[:3] != background[:3]
    tool_background = put(
        "tool-panel-background", surface if distinct_surface else blend(background, foreground, 0.05)
    )
    put("tool-panel-border", blend(background, accent, 0.6))
    put("tool-ok", readable(success, tool_background))
    put("tool-error", readable(error, tool_background))
    put("tool-pending", readable(warning, tool_background))
    error_background = put("error-background", blend(background, error, 0.15 if dark else 0.10))
    put("error-foreground", readable(error, error_background))
    put("error-border", error)
    status_background = put("status-bar-background", panel)
    put("status-bar-foreground", readable(foreground, status_background))
    # Textual's `boost` (a faint veil of the text colour) over the background, as code had it.
    boost = colours["boost"] or (WHITE if dark else BLACK)._replace(a=0.04)
    code_background = put("code-background", opaque(boost, 1.0, background))
    put("code-foreground", readable(accent, code_background))
    # Seen beside replies (the background) and prompts (their tint): >= 3:1 against both.
    put("focus-border", readable(readable(accent, background, 3.0), user_background, 3.0))
    result["code-theme"] = _code_theme(overrides, dark)
    return result


def _code_theme(overrides: Mapping[str, str], dark: bool) -> str:
    given = overrides.get("code-theme")
    if isinstance(given, str) and check_variable("code-theme", given) is None:
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
        "code-background": "transparent",
        "code-foreground": pick("accent", primary),
        "focus-border": pick("accent", primary),
    }
    for name in derived:
        given = overrides.get(name)
        if isinstance(given, str) and check_css_colour(given) is None:
            derived[name] = given
    given_code = overrides.get("code-theme")
    if isinstance(given_code, str) and check_variable("code-theme", given_code) is None:
        derived["code-theme"] = given_code
    else:
        derived["code-theme"] = "ansi_dark" if dark else "ansi_light"
    return derived
