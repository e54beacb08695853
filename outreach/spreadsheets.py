"""CSV that is safe to open in a spreadsheet: every export the product writes goes through here.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula (CSV injection: ``=HYPERLINK(...)``,
``@SUM(...)``, DDE ``=cmd|...``). Such a cell is written with a leading apostrophe, which
spreadsheets show as text. Values that are only a phone number or a plain number
(``+1 555 010 0000``, ``-3``) cannot call anything and are kept as they are, so phone
columns stay readable.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_OR_PHONE = re.compile(r"^[+-]?[\d\s().\-/]*$")


def safe_cell(value: Any) -> Any:
    """``value`` defused for spreadsheets: text that would start a formula gets a leading '."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if value[0] in "+-" and _NUMBER_OR_PHONE.match(value):
        return value
    return "'" + value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """A row of cells, each defused (``None`` becomes an empty cell)."""
    return ["" if v is None else safe_cell(v) for v in values]


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` that defuses every cell it writes."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        """Write one row with its cells defused."""
        return super().writerow({k: "" if v is None else safe_cell(v) for k, v in rowdict.items()})


class SafeWriter:
    """``csv.writer`` that defuses every cell it writes."""

    def __init__(self, stream: IO[str], **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Sequence[Any]) -> Any:
        """Write one row with its cells defused."""
        return self._writer.writerow(safe_row(row))
