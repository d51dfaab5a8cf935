"""Colours as theme files write them: parsed with the same rules as Textual's
`Color.parse` (so a file Textual would refuse is refused here first, in words), and
the CSS and terminal colour names it knows."""

from __future__ import annotations

import colorsys
import difflib
import re
from typing import NamedTuple


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


def clamp(value: float, low: float, high: float) -> float:
    """`value`, kept within `low` and `high`."""
    return min(max(value, low), high)


def percent(text: str) -> float:
    """`"50%"` -> 0.5, kept within 0 and 1."""
    return clamp(float(text.strip()[:-1]) / 100.0, 0.0, 1.0)


def _from_hsl(hue: str, saturation: str, lightness: str) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(float(hue) % 360 / 360, percent(lightness), percent(saturation))
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
        return Colour(digits[0], digits[1], digits[2], digits[3] / 255.0 if hex4 else 1.0)
    if hex6 or hex8:
        digits = [int((hex6 or hex8)[i : i + 2], 16) for i in range(0, len(hex6 or hex8), 2)]
        return Colour(digits[0], digits[1], digits[2], digits[3] / 255.0 if hex8 else 1.0)
    if rgb or rgba:
        values = [float(v) for v in (rgb or rgba).split(",")]
        r, g, b = (int(clamp(int(v), 0, 255)) for v in values[:3])
        return Colour(r, g, b, clamp(values[3], 0.0, 1.0) if rgba else 1.0)
    hue, saturation, lightness, *alpha = (hsl or hsla).split(",")
    return Colour(*_from_hsl(hue, saturation, lightness), clamp(float(alpha[0]), 0.0, 1.0) if alpha else 1.0)


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


def split_alpha(value: str) -> tuple[str, float]:
    """`"#abc 50%"` → `("#abc", 0.5)`: Textual CSS allows a colour with an alpha percentage."""
    head, sep, tail = value.rpartition(" ")
    if sep and re.fullmatch(r"\d+(\.\d+)?%", tail):
        return head.rstrip(), percent(tail)
    return value, 1.0
