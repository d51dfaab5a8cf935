"""Themes: `themes/*.toml` files → validated plain data, plus the app's own theme variables.

A theme file holds the fields of Textual's `Theme` (`name`, `primary`, the other base
colours, `dark`, ...) and a `[variables]` table. Everything is checked here, without
Textual, so a broken file becomes one `ThemeProblem` (file + reason) instead of a crash
on the next CSS refresh:

- every colour is parsed with the same rules as `textual.color.Color.parse` (`colours`);
- unknown keys and unknown variables are named, with a "did you mean" suggestion (`schema`);
- `name` must equal the file name without `.toml`, so "which file defines theme X" is
  never a question and one folder cannot define a theme twice (`files`);
- `code-theme` must be a Pygments style (or Rich's `ansi_dark` / `ansi_light`) (`schema`).

`load_themes()` reads the shipped folder, then the user's folder; a user theme with
the name of a shipped one replaces it. The UI turns each `ThemeSpec` (`spec`) into a
Textual `Theme` with `Theme(**spec.theme_kwargs())`.

The app's own style variables (`$user-message-background`, ...) are listed in
`APP_VARIABLES`. Textual cannot resolve a variable that refers to another variable, so
`app_variables_for()` (`app_variables`) computes concrete colours from any theme's base
colours, keeping text readable by the contrast maths in `contrast`.
"""

from __future__ import annotations

from vllm_chat.core.themes.app_variables import app_variables_for
from vllm_chat.core.themes.colours import ANSI_COLOUR_NAMES, CSS_COLOUR_NAMES, Colour, is_colour, parse_colour
from vllm_chat.core.themes.contrast import contrast_ratio
from vllm_chat.core.themes.files import (
    MAX_THEME_FILE_BYTES,
    ThemeError,
    ThemeProblem,
    load_theme_file,
    load_themes,
    shipped_themes_dir,
)
from vllm_chat.core.themes.schema import (
    APP_COLOUR_VARIABLES,
    APP_VARIABLES,
    BASE_COLOUR_KEYS,
    TEXTUAL_VARIABLES,
)
from vllm_chat.core.themes.spec import ThemeSpec

DEFAULT_THEME = "vllm-night"
"""The theme used when none is configured, and the fallback when the configured one fails."""

__all__ = [
    "ANSI_COLOUR_NAMES",
    "APP_COLOUR_VARIABLES",
    "APP_VARIABLES",
    "BASE_COLOUR_KEYS",
    "CSS_COLOUR_NAMES",
    "DEFAULT_THEME",
    "MAX_THEME_FILE_BYTES",
    "TEXTUAL_VARIABLES",
    "Colour",
    "ThemeError",
    "ThemeProblem",
    "ThemeSpec",
    "app_variables_for",
    "contrast_ratio",
    "is_colour",
    "load_theme_file",
    "load_themes",
    "parse_colour",
    "shipped_themes_dir",
]
