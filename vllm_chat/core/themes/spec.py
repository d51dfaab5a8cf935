"""ThemeSpec: a validated theme as plain data, and what Textual's `Theme` is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_chat.core.themes.app_variables import app_variables_for
from vllm_chat.core.themes.schema import BASE_COLOUR_KEYS


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
