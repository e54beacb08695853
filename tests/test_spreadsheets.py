"""Exports defuse spreadsheet formulas (CSV injection) without mangling phones or numbers."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.spreadsheets import FORMULA_STARTS, SafeDictWriter, SafeWriter, safe_cell


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://evil.example","click")',
        "=cmd|' /C calc'!A0",
        "@SUM(A1:A2)",
        "+SUM(A1)",
        "-1+cmd|x",
        "\t=1",
        "\r=1",
        "-@x",
    ],
)
def test_formula_cells_are_written_as_text(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell", ["+1 555 010 0000", "+15550100000", "-3", "-2.5", "(555) 010-0000", "", "Ann", "1+1"]
)
def test_phones_numbers_and_ordinary_text_are_kept(cell: str) -> None:
    assert safe_cell(cell) == cell


def test_non_text_values_pass_through() -> None:
    assert safe_cell(42) == 42 and safe_cell(None) is None


@given(st.text())
def test_no_defused_cell_can_start_a_formula_and_nothing_is_lost(cell: str) -> None:
    out = safe_cell(cell)
    assert out in (cell, "'" + cell)  # the value itself is never changed
    if out == cell and cell.startswith(FORMULA_STARTS):
        # only a bare number or phone number may keep its sign: no letters, no calls
        assert cell[0] in "+-" and not any(ch.isalpha() or ch in "=@|!\"'" for ch in cell)


@given(st.lists(st.text(), min_size=1, max_size=6))
def test_writers_round_trip_every_cell_defused(cells: list[str]) -> None:
    plain, keyed = io.StringIO(), io.StringIO()
    SafeWriter(plain).writerow(cells)
    fields = [f"c{i}" for i in range(len(cells))]
    writer = SafeDictWriter(keyed, fieldnames=fields)
    writer.writerow(dict(zip(fields, cells, strict=True)))
    expected = [safe_cell(c) for c in cells]
    read_plain = next(csv.reader(io.StringIO(plain.getvalue(), newline="")))
    read_keyed = next(csv.reader(io.StringIO(keyed.getvalue(), newline="")))
    assert read_plain == read_keyed
    assert read_plain == expected
