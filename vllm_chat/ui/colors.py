"""Theme colours for Rich text drawn in Python (CSS covers everything else)."""

from __future__ import annotations

from textual.app import App
from textual.color import Color


def theme_color(app: App, name: str, fallback: str = "") -> str:
    """The theme variable `name` as a `#rrggbb` Rich colour (alpha blended onto the
    background), or `fallback` if the theme has no such colour."""
    variables = getattr(app, "theme_variables", {}) or {}
    value = variables.get(name)
    if not value:
        return fallback
    try:
        color = Color.parse(value)
        if color.a < 1:
            color = Color.parse(variables.get("background", "#000000")) + color
        return color.hex6
    except Exception:
        return fallback
