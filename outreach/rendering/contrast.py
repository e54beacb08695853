"""Colour contrast as WCAG 2.2 defines it: CSS colours parsed, relative luminance, the
contrast ratio, and what AA asks of normal and large text (SC 1.4.3)."""

from __future__ import annotations

import re

#: WCAG AA: 4.5:1 for normal text, 3:1 for large text (24 px, or 18.66 px bold).
AA_NORMAL = 4.5
AA_LARGE = 3.0
LARGE_PX = 24.0
LARGE_BOLD_PX = 18.66

#: The CSS named colours emails use most (anything else unknown is not judged).
NAMED = {
    "black": "#000000", "white": "#ffffff", "red": "#ff0000", "green": "#008000",
    "blue": "#0000ff", "yellow": "#ffff00", "orange": "#ffa500", "gray": "#808080",
    "grey": "#808080", "silver": "#c0c0c0", "navy": "#000080", "maroon": "#800000",
    "purple": "#800080", "teal": "#008080", "olive": "#808000", "lime": "#00ff00",
    "aqua": "#00ffff", "fuchsia": "#ff00ff", "lightgray": "#d3d3d3", "lightgrey": "#d3d3d3",
    "darkgray": "#a9a9a9", "darkgrey": "#a9a9a9", "pink": "#ffc0cb", "gold": "#ffd700",
}  # fmt: skip

_HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})\b")
_RGB = re.compile(
    r"rgba?\(\s*(\d{1,3})[\s,]+(\d{1,3})[\s,]+(\d{1,3})\s*(?:[,/]\s*([\d.]+%?))?\s*\)"
)

Rgb = tuple[int, int, int]


def parse_color(value: str) -> Rgb | None:
    """An opaque CSS colour as ``(r, g, b)``; None for anything else (transparent,
    ``inherit``, half-transparent colours, variables)."""
    value = value.strip().lower()
    value = NAMED.get(value, value)
    match = _HEX.fullmatch(value)
    if match:
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    match = _RGB.fullmatch(value)
    if match:
        alpha = match.group(4)
        if alpha is not None:
            opacity = float(alpha[:-1]) / 100 if alpha.endswith("%") else float(alpha)
            if opacity < 1:
                return None
        channels = tuple(int(match.group(i)) for i in (1, 2, 3))
        if all(0 <= c <= 255 for c in channels):
            return channels  # type: ignore[return-value]
    return None


def first_color(value: str) -> Rgb | None:
    """The colour in a ``background`` shorthand (``#fff url(...) no-repeat``)."""
    for token in re.findall(r"rgba?\([^)]*\)|#[0-9a-fA-F]{3,6}\b|[a-zA-Z]+", value):
        found = parse_color(token)
        if found is not None:
            return found
    return None


def luminance(color: Rgb) -> float:
    """Relative luminance (WCAG 2.2, with the sRGB threshold 0.04045)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(foreground: Rgb, background: Rgb) -> float:
    """The contrast ratio, 1 to 21."""
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def required(font_px: float | None, bold: bool) -> float:
    """What AA asks of text of this size and weight."""
    if font_px is not None and (font_px >= LARGE_PX or (bold and font_px >= LARGE_BOLD_PX)):
        return AA_LARGE
    return AA_NORMAL


def hex_of(color: Rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)
