"""Colour arithmetic: mixing two colours as Textual does, and the WCAG contrast
between them, used to derive the app's variables so that text stays readable
(>= 4.5:1) on whatever backgrounds a theme chooses."""

from __future__ import annotations

from vllm_chat.core.themes.colours import Colour, clamp, parse_colour


def blend(a: Colour, b: Colour, factor: float) -> Colour:
    """Mix `a` towards `b` (0: all `a`, 1: all `b`), channel by channel as Textual does."""
    factor = clamp(factor, 0.0, 1.0)
    return Colour(
        int(a.r + (b.r - a.r) * factor),
        int(a.g + (b.g - a.g) * factor),
        int(a.b + (b.b - a.b) * factor),
    )


def luminance(colour: Colour) -> float:
    """The WCAG relative luminance of `colour` (0 black to 1 white)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(colour.r) + 0.7152 * linear(colour.g) + 0.0722 * linear(colour.b)


def contrast(a: Colour, b: Colour) -> float:
    """The WCAG 2 contrast ratio of `a` and `b` (1 to 21)."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio (1 to 21) of two opaque colours; 4.5 is the bar for body text."""
    return contrast(parse_colour(first), parse_colour(second))


WHITE = Colour(255, 255, 255)
"""Opaque white."""
BLACK = Colour(0, 0, 0)
"""Opaque black."""


def readable(colour: Colour, background: Colour, minimum: float = 4.5) -> Colour:
    """`colour`, nudged towards white or black just enough to reach `minimum` contrast."""
    if contrast(colour, background) >= minimum:
        return colour
    extreme = WHITE if contrast(WHITE, background) >= contrast(BLACK, background) else BLACK
    for step in range(1, 21):
        nudged = blend(colour, extreme, step / 20)
        if contrast(nudged, background) >= minimum:
            return nudged
    return extreme


def opaque(colour: Colour, alpha: float, under: Colour) -> Colour:
    """The colour seen when `colour` at `alpha` (times its own) is painted over `under`."""
    seen = blend(under, colour, colour.a * alpha)
    return seen._replace(ansi=None)
