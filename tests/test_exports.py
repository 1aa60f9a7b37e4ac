"""No cell of a file equicover writes for people becomes a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from equicover.exports import FORMULA_STARTS, safe_csv_writer, spreadsheet_text, store_formulas_as_text
from equicover.registry.importer import import_persons_file
from tests.registry.test_import import MAPPING, TODAY, read_report, write_csv


@given(st.text())
def test_no_text_cell_starts_a_formula_unless_it_is_a_number(value: str) -> None:
    safe = spreadsheet_text(value)
    if safe.startswith(FORMULA_STARTS):
        assert float(safe) == float(value)  # a signed number, written as it was
    else:
        assert safe in (value, "'" + value)
        assert safe == value or value.startswith(FORMULA_STARTS)


def test_formulas_are_written_as_text_and_amounts_as_numbers() -> None:
    assert (
        spreadsheet_text('=HYPERLINK("http://x.example/","pay here")') == '\'=HYPERLINK("http://x.example/","pay here")'
    )
    assert spreadsheet_text("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_text("+1-2") == "'+1-2"
    assert spreadsheet_text("\tcmd") == "'\tcmd"
    assert spreadsheet_text("-1500.00") == "-1500.00"
    assert spreadsheet_text("S1-D01-CH") == "S1-D01-CH"
    assert spreadsheet_text(42) == 42


def test_the_safe_csv_writer_neutralises_every_cell() -> None:
    out = io.StringIO()
    safe_csv_writer(out, lineterminator="\n").writerows([["=1+1", "-3", "ok"], ["@x", "", None]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["'=1+1", "-3", "ok"], ["'@x", "", ""]]


def test_an_xlsx_formula_cell_is_stored_as_text(tmp_path: Path) -> None:
    book = Workbook()
    book.worksheets[0].append(['=HYPERLINK("http://x.example/")', "fund", 12.5])
    assert store_formulas_as_text(book) == 1
    book.save(tmp_path / "report.xlsx")
    cell = load_workbook(tmp_path / "report.xlsx").worksheets[0]["A1"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x.example/")'


def test_an_import_row_id_that_looks_like_a_formula_is_text_in_the_error_report(session_factory, geo, tmp_path) -> None:
    path = write_csv(
        tmp_path / "people.csv", [['=HYPERLINK("http://x.example/")', "", "Nam", "1990-01-01", "HH9", "C11", ""]]
    )
    report = tmp_path / "report.csv"
    import_persons_file(
        factory=session_factory, path=path, mapping=MAPPING, source="census", report_path=report, today=TODAY
    )
    (row,) = read_report(report)
    assert row["source_row_id"] == '\'=HYPERLINK("http://x.example/")'
    assert row["field"] == "full_name"
