"""The confidence heat-map's colours, from the theme in use.

A token's probability picks one of five levels: sure tokens keep the plain
background; the less likely a token was, the warmer its background (the
theme's `warning`, then its `error`, blended into its `background`, each
level a fixed share so the levels stay apart in every theme). Every level
keeps its text readable: where the theme's text colour would fall under 4.5:1
on a level's background, it is nudged towards white or black until it doesn't. Themes in terminal colours
(`ansi_*`) can't be blended: their levels are underlines and the terminal's
own warning and error colours instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from textual.app import App
from textual.color import Color

from vllm_chat.core.themes import contrast_ratio

LEVELS: tuple[tuple[float, str], ...] = (
    (0.9, "90 % or more"),
    (0.6, "60–90 %"),
    (0.3, "30–60 %"),
    (0.1, "10–30 %"),
    (0.0, "under 10 %"),
)
"""The heat levels: the lowest probability of each, and how the legend names it."""
_BLENDS = ((None, 0.0), ("warning", 0.18), ("warning", 0.38), ("error", 0.32), ("error", 0.55))
MIN_CONTRAST = 4.5
"""Text on every level stays at least this readable (WCAG's bar for body text)."""


def level_of(probability: float) -> int:
    """The heat level (0 = sure … 4 = unlikely) of a token's probability."""
    for level, (floor, _) in enumerate(LEVELS):
        if probability >= floor:
            return level
    return len(LEVELS) - 1


@dataclass(frozen=True)
class HeatPalette:
    """One Rich style per heat level, for the theme it was made from."""

    styles: tuple[Style, ...]
    """Styles by level (0 = sure … 4 = unlikely)."""
    backgrounds: tuple[str | None, ...]
    """Each level's background as `#rrggbb` (None: the plain background, or a terminal theme)."""
    foregrounds: tuple[str | None, ...]
    """Each level's text colour as `#rrggbb` (None: the terminal's own)."""


def _parse(value: str | None) -> Color | None:
    if not value:
        return None
    try:
        color = Color.parse(value)
    except Exception:  # noqa: BLE001 - a theme value Textual can't read: treat as missing
        return None
    return None if color.ansi is not None else color


def heat_palette(app: App) -> HeatPalette:
    """The heat levels' styles for the app's current theme."""
    variables = getattr(app, "theme_variables", {}) or {}
    background = _parse(variables.get("background"))
    foreground = _parse(variables.get("foreground"))
    if background is None or foreground is None:
        return _terminal_palette(variables)
    if foreground.a < 1:
        foreground = background + foreground
    styles, backgrounds, foregrounds = [], [], []
    for name, amount in _BLENDS:
        tint = _parse(variables.get(name)) if name else None
        if tint is None or amount == 0:
            styles.append(Style(color=foreground.hex6))
            backgrounds.append(None)
            foregrounds.append(foreground.hex6)
            continue
        shade = background.blend(tint, amount).hex6
        text = _readable(foreground, shade)
        styles.append(Style(color=text, bgcolor=shade))
        backgrounds.append(shade)
        foregrounds.append(text)
    return HeatPalette(tuple(styles), tuple(backgrounds), tuple(foregrounds))


def _readable(text: Color, background: str) -> str:
    """`text` as `#rrggbb`, nudged towards white or black until it reads on `background`."""
    if contrast_ratio(text.hex6, background) >= MIN_CONTRAST:
        return text.hex6
    white, black = Color(255, 255, 255), Color(0, 0, 0)
    extreme = white if contrast_ratio(white.hex6, background) >= contrast_ratio(black.hex6, background) else black
    for step in range(1, 21):
        nudged = text.blend(extreme, step / 20).hex6
        if contrast_ratio(nudged, background) >= MIN_CONTRAST:
            return nudged
    return extreme.hex6


def _terminal_palette(variables: dict[str, str]) -> HeatPalette:
    warning = variables.get("warning", "")
    error = variables.get("error", "")

    def colour(value: str) -> str | None:
        return value.removeprefix("ansi_") if value.startswith("ansi_") else None

    styles = (
        Style(),
        Style(underline=True),
        Style(color=colour(warning), underline=True),
        Style(color=colour(error), underline=True),
        Style(color=colour(error), bold=True, underline=True),
    )
    return HeatPalette(styles, (None,) * len(styles), (None,) * len(styles))
