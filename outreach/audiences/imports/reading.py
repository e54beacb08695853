"""Reading a CSV file: encoding, header, a sample, column guesses, rows in chunks."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from outreach.audiences.imports.settings import (
    ColumnMapping,
    CsvInfo,
    ImportProblem,
    ImportSettings,
)

_HEADER_GUESSES: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "email address", "e-mail address", "mail", "email_address"),
    "phone": (
        "phone",
        "mobile",
        "cell",
        "phone number",
        "mobile number",
        "cell phone",
        "phone_number",
        "mobile_number",
        "sms",
        "telephone",
    ),
    "first_name": ("first_name", "first name", "firstname", "given name", "name", "first"),
    "timezone": ("timezone", "time zone", "time_zone", "tz"),
    "language": ("language", "lang", "preferred language", "locale", "idioma"),
}


def _detect_encoding(path: Path) -> str:
    """utf-8 (with or without BOM) if the whole file decodes, else cp1252 (Excel on Windows)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def inspect_csv(path: Path, sample_rows: int = 5) -> CsvInfo:
    """Encoding, delimiter, header and a few rows of a CSV file; raises ImportProblem."""
    encoding = _detect_encoding(path)
    with path.open(encoding=encoding, newline="", errors="replace") as handle:
        head = handle.read(64 * 1024)
    if not head.strip():
        raise ImportProblem("the file is empty")
    try:
        delimiter = csv.Sniffer().sniff(head.split("\n", 20)[0], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(head), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise ImportProblem("the file has no header row") from None
    if not any(header):
        raise ImportProblem("the first row must name the columns (email, phone, ...)")
    if len(set(header)) != len(header):
        raise ImportProblem("two columns have the same name in the header row")
    sample = []
    for row in reader:
        if len(sample) >= sample_rows:
            break
        if any(cell.strip() for cell in row):
            sample.append(row)
    return CsvInfo(encoding=encoding, delimiter=delimiter, header=header, sample=sample)


def guess_mapping(header: list[str]) -> ColumnMapping:
    """Pick columns by their names (``Email``, ``Mobile number``, ``First name``, ...)."""
    normal = {re.sub(r"[\s_-]+", " ", h.strip().lower()): h for h in header}
    picked: dict[str, str | None] = {}
    for name, guesses in _HEADER_GUESSES.items():
        picked[name] = next(
            (normal[g2] for g in guesses if (g2 := re.sub(r"[\s_-]+", " ", g)) in normal),
            None,
        )
    return ColumnMapping(**picked)


def csv_rows(handle: IO[bytes], settings: ImportSettings) -> Iterator[tuple[int, dict[str, str]]]:
    text = io.TextIOWrapper(handle, encoding=settings.encoding, errors="replace", newline="")
    try:
        reader = csv.DictReader(text, delimiter=settings.delimiter)
        if reader.fieldnames is None:
            return
        reader.fieldnames = [(name or "").strip() for name in reader.fieldnames]
        for record in reader:
            yield reader.line_num, record
    finally:
        text.detach()  # leave the binary handle open: the caller reads its position


def chunks(rows: Iterator[tuple[int, dict[str, str]]], size: int) -> Iterator[list]:
    chunk: list = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def cell_value(record: dict[str, str], column: str | None) -> str:
    if not column:
        return ""
    value = record.get(column)
    return value.strip() if isinstance(value, str) else ""
