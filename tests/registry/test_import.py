"""Bulk import of persons: every bad row reported without its values, nothing half-written,
re-import idempotent, CSV and XLSX alike."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from equicover.errors import ValidationFailed
from equicover.registry.importer import ImportMapping, import_persons_file
from equicover.registry.models import Household, Person
from equicover.registry.quality_models import ImportRun, PersonNameForms, PersonSource

TODAY = dt.date(2024, 6, 30)
MAPPING = ImportMapping.from_dict(
    {
        "columns": {
            "source_row_id": "ID",
            "full_name": "Ho ten",
            "sex": "Gioi tinh",
            "birth_date": "Ngay sinh",
            "household_code": "Ma ho",
            "location_code": "Ma xa",
            "national_id": "CCCD",
        },
        "defaults": {"id_type": "vneid"},
        "values": {"sex": {"Nam": "male", "Nữ": "female"}},
        "options": {"date_formats": ["%Y-%m-%d", "%d/%m/%Y"], "national_id_pattern": "^[0-9]{12}$"},
    }
)
HEADER = ["ID", "Ho ten", "Gioi tinh", "Ngay sinh", "Ma ho", "Ma xa", "CCCD"]
ROWS = [
    ["r1", "Nguyễn Văn An", "Nam", "1980-05-01", "HH1", "C11", "001080000001"],  # line 2 ok
    ["r2", "Trần Thị Bình", "Nữ", "02/03/1985", "HH1", "C11", ""],  # line 3 ok, same household
    ["r3", "", "Nam", "1990-01-01", "HH2", "C11", ""],  # line 4: no name
    ["r4", "Lê Văn Cường", "X", "1990-01-01", "HH2", "C11", ""],  # line 5: sex
    ["r5", "Phạm Thị Dung", "Nữ", "31/02/1990", "HH2", "C11", ""],  # line 6: no such date
    ["r6", "Hoàng Văn Em", "Nam", "2099-01-01", "HH2", "C11", ""],  # line 7: future
    ["r7", "Vũ Thị Giang", "Nữ", "1970-07-07", "HH2", "ZZZ", ""],  # line 8: unknown location
    ["r8", "Đỗ Văn Hải", "Nam", "1970-07-07", "HH2", "C12", "12345"],  # line 9: ID format
    ["r9", "Bùi Thị Lan", "Nữ", "1971-07-07", "HH3", "C12", "001080000001"],  # line 10: ID repeats line 2
    ["r1", "Ngô Văn Minh", "Nam", "1972-07-07", "HH3", "C12", ""],  # line 11: row id repeats line 2
    ["r10", "محمد العلوي", "Nam", "1975-01-01", "HH3", "C12", "٠٠١٠٨٠٠٠٠٠٠٢"],  # line 12 ok, Arabic digits
    ["r11", "張偉", "Nam", "1976-01-01", "HH4", "", ""],  # line 13: new household without location
]
BAD_LINES = {4: "full_name", 5: "sex", 6: "birth_date", 7: "birth_date", 8: "location_code", 9: "national_id",
             10: "national_id", 11: "source_row_id", 13: "location_code"}  # fmt: skip


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_import_reports_every_bad_row_and_is_idempotent(session_factory, geo, tmp_path, row_counts, kind) -> None:  # type: ignore[no-untyped-def]
    path = (write_csv if kind == "csv" else write_xlsx)(tmp_path / f"list.{kind}", ROWS)
    report = tmp_path / "rejected.csv"
    before = row_counts("persons", "households")
    summary = import_persons_file(
        factory=session_factory, path=path, mapping=MAPPING, source="poverty-census-2024", report_path=report, today=TODAY, batch_size=4
    )
    assert (summary.rows_read, summary.imported, summary.rejected, summary.already_imported) == (12, 3, 9, 0)
    rejected = read_report(report)
    assert {int(row["line"]): row["field"] for row in rejected} == BAD_LINES
    # No personal value ever appears in the report.
    report_text = report.read_text(encoding="utf-8")
    for cells in ROWS:
        for value in cells[1:4] + cells[6:]:
            if len(value) > 3 and value not in ("Nam",):
                assert value not in report_text
    after = row_counts("persons", "households")
    assert after["persons"] - before["persons"] == 3
    assert after["households"] - before["households"] == 2  # HH1 (two members) and HH3

    with session_factory() as reader:
        people = {p.full_name: p for p in reader.scalars(select(Person).where(Person.id.in_(select(PersonSource.person_id))))}
        assert set(people) == {"Nguyễn Văn An", "Trần Thị Bình", "محمد العلوي"}
        assert people["Nguyễn Văn An"].household_id == people["Trần Thị Bình"].household_id
        assert people["محمد العلوي"].national_id == "001080000002" and people["محمد العلوي"].id_type == "vneid"
        assert people["Trần Thị Bình"].birth_date == dt.date(1985, 3, 2)
        forms = reader.get(PersonNameForms, people["Nguyễn Văn An"].id)
        assert (forms.folded, forms.romanised, forms.sorted_key) == ("nguyen van an", "nguyen van an", "an nguyen van")
        run = reader.get(ImportRun, summary.run_id)
        assert (run.rows_read, run.rows_imported, run.rows_rejected) == (12, 3, 9)

    # The same file again: nothing imported twice; the same bad rows reported again.
    again = import_persons_file(
        factory=session_factory, path=path, mapping=MAPPING, source="poverty-census-2024", report_path=report, today=TODAY, batch_size=5
    )
    assert (again.imported, again.already_imported, again.rejected) == (0, 3, 9)
    assert row_counts("persons", "households") == after


def test_a_batch_the_database_refuses_is_not_half_written(session_factory, geo, tmp_path, row_counts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """If writing a batch fails midway (here: the source rows after the persons), the whole batch
    is rolled back and its rows reported; earlier batches stay."""
    from equicover.registry import importer

    path = write_csv(tmp_path / "list.csv", [ROWS[0], ROWS[1], ROWS[10]])
    calls = {"n": 0}
    real = importer.bulk_insert_rows

    def failing(session, table, rows, **kwargs):  # type: ignore[no-untyped-def]
        if table.name == "person_sources":
            calls["n"] += 1
            if calls["n"] == 2:
                raise ValidationFailed("person_sources (bulk load)", "uq_person_sources_source_source_row_id", "a row breaks a constraint")
        return real(session, table, rows, **kwargs)

    monkeypatch.setattr(importer, "bulk_insert_rows", failing)
    before = row_counts("persons", "households", "person_name_forms", "person_sources")
    summary = import_persons_file(
        factory=session_factory, path=path, mapping=MAPPING, source="s", report_path=tmp_path / "r.csv", today=TODAY, batch_size=2
    )
    assert (summary.imported, summary.rejected) == (2, 1)
    after = row_counts("persons", "households", "person_name_forms", "person_sources")
    assert {name: after[name] - before[name] for name in after} == {"persons": 2, "households": 1, "person_name_forms": 2, "person_sources": 2}
    assert [row["line"] for row in read_report(tmp_path / "r.csv")] == ["4"]


def test_mapping_errors_are_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        ImportMapping.from_dict({"columns": {"full_name": "x"}})
    assert caught.value.field == "columns"
    with pytest.raises(ValidationFailed):
        ImportMapping.from_dict({"columns": {**MAPPING.columns, "shoe_size": "S"}})


def test_missing_header_column_is_refused_before_anything_is_written(session_factory, geo, tmp_path, row_counts) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.csv"
    path.write_text("ID,Ho ten\nr1,An\n", encoding="utf-8")
    before = row_counts("persons")
    with pytest.raises(ValidationFailed) as caught:
        import_persons_file(factory=session_factory, path=path, mapping=MAPPING, source="s", report_path=tmp_path / "r.csv", today=TODAY)
    assert caught.value.field == "header"
    assert row_counts("persons") == before


def test_pipelined_import_gives_the_same_result(empty_db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Writing batch N while validating batch N+1 (PostgreSQL, an engine-bound factory): one row
    per batch, so a household's second member arrives while the first is still being written."""
    from equicover.db.engine import make_engine
    from equicover.db.migrate import upgrade
    from equicover.db.session import make_session_factory, session_scope
    from equicover.registry.importer import _can_pipeline
    from equicover.registry.service import bulk_insert_locations

    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        factory = make_session_factory(engine)
        assert _can_pipeline(factory) == (engine.dialect.name == "postgresql")
        with session_scope(factory) as session:
            bulk_insert_locations(session=session, rows=[
                {"id": 1, "code": "VN", "name": "VN", "level": "country", "parent_id": None},
                {"id": 2, "code": "LC", "name": "LC", "level": "province", "parent_id": 1},
                {"id": 3, "code": "D1", "name": "D1", "level": "district", "parent_id": 2},
                {"id": 4, "code": "C11", "name": "C11", "level": "commune", "parent_id": 3},
                {"id": 5, "code": "C12", "name": "C12", "level": "commune", "parent_id": 3},
            ])  # fmt: skip
        path = write_csv(tmp_path / "list.csv", ROWS)
        report = tmp_path / "rejected.csv"
        summary = import_persons_file(factory=factory, path=path, mapping=MAPPING, source="s", report_path=report,
                                      today=TODAY, batch_size=1, pipeline=True)  # fmt: skip
        assert (summary.imported, summary.rejected) == (3, 9)
        assert {int(row["line"]): row["field"] for row in read_report(report)} == BAD_LINES
        with factory() as reader:
            households = reader.scalars(select(Household.code).order_by(Household.code)).all()
            assert households == ["HH1", "HH3"]
            members = reader.scalars(select(Person.household_id)).all()
            assert len(members) == 3 and len(set(members)) == 2
        again = import_persons_file(factory=factory, path=path, mapping=MAPPING, source="s", report_path=report,
                                    today=TODAY, batch_size=3, pipeline=True)  # fmt: skip
        assert (again.imported, again.already_imported) == (0, 3)
    finally:
        engine.dispose()
