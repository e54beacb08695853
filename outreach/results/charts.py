"""Server-rendered SVG bar charts for the results page: pure geometry and markup, no
Flask, no database, no script (the CSP forbids inline scripts; inline styles are fine).

Every chart is ``role="img"`` with a ``<title>`` and a ``<desc>``; each bar carries its own
``<title>`` (a tooltip) and a ``data-<series>`` attribute with its value. The page shows the
same numbers as a table next to each chart (the text alternative).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape

WIDTH, HEIGHT = 760, 270
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 70, 12, 30, 54
FONT = 'font-size="11" font-family="system-ui,sans-serif"'
GRID, INK, MUTED = "#e5e7eb", "#1d2733", "#5b6775"
#: At most this many category labels under the x axis (every k-th one beyond that).
MAX_X_LABELS = 7
#: Multipliers of a power of ten that make "nice" tick steps.
_STEPS = (1, 2, 5)


def nice_ticks(max_value: float, most: int = 5) -> list[int]:
    """Integer y-axis ticks from 0 to at least ``max_value``, evenly spaced by 1, 2 or 5
    times a power of ten, with at most ``most`` intervals: 1 -> [0, 1], 2 -> [0, 1, 2],
    7 -> [0, 2, 4, 6, 8], 150 -> [0, 50, 100, 150]. Nothing to show still gets [0, 1]."""
    if most < 1:
        raise ValueError("most must be at least 1")
    top = math.ceil(max_value) if max_value > 0 else 0
    if top <= 0:
        return [0, 1]
    magnitude = 1
    while True:
        for multiplier in _STEPS:
            step = multiplier * magnitude
            intervals = -(-top // step)
            if intervals <= most:
                return [i * step for i in range(intervals + 1)]
        magnitude *= 10


@dataclass(frozen=True)
class BarSeries:
    """One coloured series of bars: ``key`` names its data attribute (``data-sent``)."""

    key: str
    label: str
    colour: str
    values: Sequence[int]


def label_indices(count: int, most: int = MAX_X_LABELS) -> list[int]:
    """Which categories get a label under the x axis: all when few, else every k-th from
    the first (labels never crowd each other)."""
    if count <= most:
        return list(range(count))
    every = -(-count // most)
    return list(range(0, count, every))


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" {FONT} text-anchor="{anchor}" fill="{MUTED}"'
        f"{extra}>{escape(text)}</text>"
    )


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[BarSeries],
    *,
    x_title: str,
    y_title: str,
    value_labels: bool = False,
) -> str:
    """Grouped vertical bars, one group per category, with a labelled y axis (nice integer
    ticks), a labelled x axis and a legend. ``value_labels`` prints each bar's value on it
    (for a few bars, e.g. the funnel)."""
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    bottom = PAD_TOP + plot_h
    ticks = nice_ticks(max((max(s.values, default=0) for s in series), default=0))
    top = ticks[-1]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" style="max-width:{WIDTH}px;height:auto" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    ]
    for tick in ticks:
        y = bottom - plot_h * tick / top
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}"/>' + _text(PAD_LEFT - 6, y + 4, f"{tick:,}", "end")
        )
    parts.append(
        f'<line x1="{PAD_LEFT}" x2="{PAD_LEFT}" y1="{PAD_TOP}" y2="{bottom}" stroke="{MUTED}"/>'
        f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{bottom}" y2="{bottom}" '
        f'stroke="{MUTED}"/>'
    )
    middle = PAD_TOP + plot_h / 2
    parts.append(
        _text(14, middle, y_title, extra=f' transform="rotate(-90 14 {middle:.1f})"')
        + _text(PAD_LEFT + plot_w / 2, HEIGHT - 6, x_title)
    )
    slot = plot_w / max(len(categories), 1)
    bar = max(slot * 0.8 / max(len(series), 1), 0.5)
    for index, category in enumerate(categories):
        left = PAD_LEFT + index * slot + (slot - bar * len(series)) / 2
        for offset, one in enumerate(series):
            value = one.values[index]
            height = plot_h * value / top
            x, y = left + offset * bar, bottom - height
            parts.append(
                f'<rect x="{x:.2f}" y="{y:.2f}" width="{bar:.2f}" height="{height:.2f}" '
                f'fill="{one.colour}" data-{one.key}="{value}">'
                f"<title>{escape(category)}: {value:,} {escape(one.label)}</title></rect>"
            )
            if value_labels:
                parts.append(
                    f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" {FONT} text-anchor="middle" '
                    f'fill="{INK}">{value:,}</text>'
                )
    for index in label_indices(len(categories)):
        x = PAD_LEFT + (index + 0.5) * slot
        anchor = "end" if x + 36 > WIDTH else "middle"  # the last label stays inside
        parts.append(_text(min(x, WIDTH - 2), bottom + 16, categories[index], anchor))
    x = PAD_LEFT
    for one in series:
        parts.append(
            f'<rect x="{x}" y="8" width="10" height="10" fill="{one.colour}"/>'
            f'<text x="{x + 14}" y="17" {FONT} fill="{INK}">{escape(one.label)}</text>'
        )
        x += 24 + 7 * len(one.label)
    parts.append("</svg>")
    return "".join(parts)
