"""Files for people to open in a spreadsheet: no cell of ours ever becomes a formula.

A value that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (``=HYPERLINK("http://…")`` sends the reader away, ``=cmd|…``
has run programs). Text that people or other systems typed — a fund code, a bill number, an import
row id — reaches our CSV and XLSX files, so every text cell that would start a formula is written with
a leading apostrophe (CSV), or stored as text (XLSX), which every spreadsheet shows as plain text.
Numbers stay numbers: ``-1500.00`` is a recovery, not a formula.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def spreadsheet_text(value: Any) -> Any:
    """``value`` as a cell that cannot start a formula (non-text values are returned as they are)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.match(value):
        return "'" + value
    return value


class SpreadsheetSafeWriter:
    """A ``csv.writer`` whose every text cell goes through :func:`spreadsheet_text`."""

    def __init__(self, handle: IO[str], **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([spreadsheet_text(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_csv_writer(handle: IO[str], **options: Any) -> SpreadsheetSafeWriter:
    return SpreadsheetSafeWriter(handle, **options)


def store_formulas_as_text(book: Any) -> int:
    """Mark every cell of an openpyxl workbook that openpyxl took for a formula as text; how many."""
    marked = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS)):
                    cell.data_type = "s"
                    marked += 1
    return marked
