"""The charts' pure geometry: "nice" integer y-axis ticks (densely, and with hypothesis),
x-axis label spacing, and the SVG's labels and accessibility."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.results.charts import BarSeries, bar_chart, label_indices, nice_ticks


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (0, [0, 1]),
        (-3, [0, 1]),
        (0.2, [0, 1]),
        (1, [0, 1]),
        (2, [0, 1, 2]),
        (3, [0, 1, 2, 3]),
        (5, [0, 1, 2, 3, 4, 5]),
        (6, [0, 2, 4, 6]),
        (7, [0, 2, 4, 6, 8]),
        (11, [0, 5, 10, 15]),
        (150, [0, 50, 100, 150]),
        (151, [0, 50, 100, 150, 200]),
        (1_000_000, [0, 200_000, 400_000, 600_000, 800_000, 1_000_000]),
    ],
)
def test_nice_ticks_examples(top: float, ticks: list[int]) -> None:
    assert nice_ticks(top) == ticks


def _check(ticks: list[int], top: float, most: int) -> None:
    assert all(isinstance(t, int) for t in ticks)
    assert ticks[0] == 0 and len(ticks) >= 2
    assert all(a < b for a, b in zip(ticks, ticks[1:], strict=False))
    assert ticks[-1] >= top
    assert len(ticks) - 1 <= most
    step = ticks[1]
    assert all(b - a == step for a, b in zip(ticks, ticks[1:], strict=False))
    assert str(step).strip("0") in ("1", "2", "5")  # 1, 2 or 5 times a power of ten
    assert ticks[-1] - step < max(top, 1)  # no empty interval on top
    labels = [f"{t:,}" for t in ticks]
    assert len(set(labels)) == len(labels)


def test_nice_ticks_for_every_count_up_to_five_thousand() -> None:
    for top in range(5_001):
        _check(nice_ticks(top), top, 5)


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=1, max_value=12))
def test_nice_ticks_properties(top: int, most: int) -> None:
    _check(nice_ticks(top, most), top, most)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_nice_ticks_of_fractions(top: float) -> None:
    _check(nice_ticks(top), top, 5)


def test_nice_ticks_needs_an_interval() -> None:
    with pytest.raises(ValueError):
        nice_ticks(10, 0)


@given(st.integers(min_value=0, max_value=2_000))
def test_x_labels_start_first_stay_few_and_increase(count: int) -> None:
    chosen = label_indices(count)
    assert chosen == sorted(set(chosen))
    assert len(chosen) <= 8
    if count:
        assert chosen[0] == 0 and chosen[-1] < count
    if count <= 7:
        assert chosen == list(range(count))


def test_a_chart_has_labelled_axes_a_title_and_a_tooltip_per_bar() -> None:
    svg = bar_chart(
        "c",
        "Clicks <per> hour",
        "What it shows",
        ["01 Jun 10:00", "01 Jun 11:00"],
        [BarSeries("clicks", "clicks", "#000", [1, 0])],
        x_title="hour (UTC)",
        y_title="clicks",
    )
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" id="c" role="img"')
    assert 'aria-labelledby="c-title c-desc"' in svg
    assert '<title id="c-title">Clicks &lt;per&gt; hour</title>' in svg
    assert re.findall(r'text-anchor="end" fill="#5b6775">(\d+)</text>', svg) == ["0", "1"]
    assert ">hour (UTC)</text>" in svg and ">clicks</text>" in svg and "rotate(-90" in svg
    assert "<title>01 Jun 10:00: 1 clicks</title>" in svg
    assert "<script" not in svg
