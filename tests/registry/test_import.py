"""Bulk import of persons: every bad row reported without its values, nothing half-written,
re-import idempotent, CSV and XLSX alike."""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from equicover.audit.models import ChangeLog
from equicover.db.session import session_scope
from equicover.errors import ValidationFailed
from equicover.registry.importer import ImportMapping, import_persons_file, start_import_run
from equicover.registry.models import Household, Person
from equicover.registry.normalise import name_forms
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
def test_import_reports_every_bad_row_and_is_idempotent(session_factory, geo, tmp_path, row_counts, kind) -> None:
    path = (write_csv if kind == "csv" else write_xlsx)(tmp_path / f"list.{kind}", ROWS)
    report = tmp_path / "rejected.csv"
    before = row_counts("persons", "households")
    summary = import_persons_file(
        factory=session_factory,
        path=path,
        mapping=MAPPING,
        source="poverty-census-2024",
        report_path=report,
        today=TODAY,
        batch_size=4,
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
        people = {
            p.full_name: p for p in reader.scalars(select(Person).where(Person.id.in_(select(PersonSource.person_id))))
        }
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
        factory=session_factory,
        path=path,
        mapping=MAPPING,
        source="poverty-census-2024",
        report_path=report,
        today=TODAY,
        batch_size=5,
    )
    assert (again.imported, again.already_imported, again.rejected) == (0, 3, 9)
    assert row_counts("persons", "households") == after


def test_a_batch_the_database_refuses_is_not_half_written(session_factory, geo, tmp_path, row_counts) -> None:
    """Another import of the same source writes one of the second batch's row ids after the
    first batch (the import found the source new at its start, so it does not look row ids up
    again): the database refuses the second batch at its last table (person_sources), after its
    household, person and name forms went in. The whole batch is rolled back and its row
    reported; the first batch stays."""
    path = write_csv(tmp_path / "list.csv", [ROWS[0], ROWS[1], ROWS[10]])  # batches: lines 2-3 (HH1), line 4 (HH3)

    def after_first_batch_another_import_writes(rows_done: int) -> None:
        if rows_done == 2:
            with session_scope(session_factory) as other:
                run = start_import_run(session=other, source="s", file_name="other.csv", actor="other")
                someone = other.scalar(select(PersonSource.person_id).where(PersonSource.source == "s").limit(1))
                other.add(PersonSource(source="s", source_row_id="r10", person_id=someone, import_run_id=run.id))

    before = row_counts("persons", "households", "person_name_forms", "person_sources")
    summary = import_persons_file(
        factory=session_factory,
        path=path,
        mapping=MAPPING,
        source="s",
        report_path=tmp_path / "r.csv",
        today=TODAY,
        batch_size=2,
        progress=after_first_batch_another_import_writes,
    )
    assert (summary.imported, summary.rejected) == (2, 1)
    after = row_counts("persons", "households", "person_name_forms", "person_sources")
    assert {name: after[name] - before[name] for name in after} == {
        "persons": 2,
        "households": 1,
        "person_name_forms": 2,
        "person_sources": 2 + 1,
    }  # + the other import's row
    [refused] = read_report(tmp_path / "r.csv")
    assert (
        refused["line"] == "4" and "source_row_id" in refused["field"]
    )  # the constraint (PostgreSQL) or its columns (SQLite)
    assert refused["reason"] == "batch refused by the database; nothing of it was written"
    with session_factory() as reader:
        assert reader.scalar(select(Household.id).where(Household.code == "HH3")) is None
        run = reader.get(ImportRun, summary.run_id)
        assert (run.rows_read, run.rows_imported, run.rows_rejected) == (3, 2, 1)


def test_mapping_errors_are_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        ImportMapping.from_dict({"columns": {"full_name": "x"}})
    assert caught.value.field == "columns"
    with pytest.raises(ValidationFailed):
        ImportMapping.from_dict({"columns": {**MAPPING.columns, "shoe_size": "S"}})


def test_missing_header_column_is_refused_before_anything_is_written(
    session_factory, geo, tmp_path, row_counts
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ID,Ho ten\nr1,An\n", encoding="utf-8")
    before = row_counts("persons")
    with pytest.raises(ValidationFailed) as caught:
        import_persons_file(
            factory=session_factory, path=path, mapping=MAPPING, source="s", report_path=tmp_path / "r.csv", today=TODAY
        )
    assert caught.value.field == "header"
    assert row_counts("persons") == before


@contextmanager
def fresh_registry(url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated database with the communes C11 and C12, and a factory bound to its engine
    (writer threads need connections of their own, which the rolled-back test session cannot give)."""
    from equicover.db.engine import make_engine
    from equicover.db.migrate import upgrade
    from equicover.db.session import make_session_factory
    from equicover.registry.service import bulk_insert_locations

    upgrade(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            bulk_insert_locations(session=session, rows=[
                {"id": 1, "code": "VN", "name": "VN", "level": "country", "parent_id": None},
                {"id": 2, "code": "LC", "name": "LC", "level": "province", "parent_id": 1},
                {"id": 3, "code": "D1", "name": "D1", "level": "district", "parent_id": 2},
                {"id": 4, "code": "C11", "name": "C11", "level": "commune", "parent_id": 3},
                {"id": 5, "code": "C12", "name": "C12", "level": "commune", "parent_id": 3},
            ])  # fmt: skip
        yield factory
    finally:
        engine.dispose()


def test_pipelined_import_gives_the_same_result(empty_db_url, tmp_path) -> None:
    """Writing batches in writer threads while the next is validated (PostgreSQL, an
    engine-bound factory; SQLite runs the same import one batch after the other)."""
    from equicover.registry.importer import _can_pipeline

    with fresh_registry(empty_db_url) as factory:
        assert _can_pipeline(factory) == (empty_db_url.startswith("postgresql"))
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


# Households listed on lines that are not adjacent, so that a batch uses a household the batch
# before it creates: batches of 2 rows are lines 2-3 and 4-5, and line 4 is in HH1 of line 2.
SPLIT_HOUSEHOLD = [
    ["a1", "Nguyễn Văn An", "Nam", "1980-05-01", "HH1", "C11", "001080000001"],
    ["b1", "Trần Thị Bình", "Nữ", "1985-03-02", "HH2", "C11", ""],
    ["a2", "Nguyễn Thị Cúc", "Nữ", "1982-01-01", "HH1", "C11", ""],
    ["c1", "Lê Văn Dũng", "Nam", "1990-01-01", "HH3", "C12", ""],
]


def test_a_batch_waits_for_the_batch_writing_its_household(empty_db_url, tmp_path, monkeypatch) -> None:
    """The first batch is slow to write; the second, written meanwhile by the other writer,
    needs the household the first creates. It waits for the first to commit (else the database
    would refuse its person: the household would not exist for it yet)."""
    from equicover.registry import importer

    real_write = importer.write_copy_batch
    slowed = []

    def slow_first_write(**kwargs):
        if not slowed:
            slowed.append(True)
            time.sleep(0.5)
        real_write(**kwargs)

    monkeypatch.setattr(importer, "write_copy_batch", slow_first_write)
    with fresh_registry(empty_db_url) as factory:
        path = write_csv(tmp_path / "list.csv", SPLIT_HOUSEHOLD)
        summary = import_persons_file(
            factory=factory,
            path=path,
            mapping=MAPPING,
            source="s",
            report_path=tmp_path / "r.csv",
            today=TODAY,
            batch_size=2,
            pipeline=True,
            writers=2,
        )
        assert (summary.imported, summary.rejected) == (4, 0)
        assert slowed == ([True] if empty_db_url.startswith("postgresql") else [])  # the COPY path is PostgreSQL's
        with factory() as reader:
            household_of = dict(reader.execute(select(PersonSource.source_row_id, Person.household_id)
                                               .join(Person, Person.id == PersonSource.person_id)).all())  # fmt: skip
            assert household_of["a1"] == household_of["a2"] != household_of["b1"]
            assert reader.scalars(select(Household.code).order_by(Household.code)).all() == ["HH1", "HH2", "HH3"]


def test_a_refused_batch_takes_down_a_batch_in_flight_using_its_household(empty_db_url, tmp_path, monkeypatch) -> None:
    """Another writer registers line 2's national ID while the first batch is validated: the
    database refuses that batch, and HH1 is not made. Pipelined (PostgreSQL), the second batch was
    validated meanwhile and uses HH1: it is refused too, with that reason. One batch after the
    other (SQLite), the second batch is validated later and creates HH1 itself."""
    from equicover.registry import importer
    from equicover.registry.service import bulk_insert_households, bulk_insert_persons

    real_validate = importer.validate_person_batch

    def validate_while_another_writer_registers(**kwargs):
        validated = real_validate(**kwargs)
        if kwargs["batch"] == 0:
            with session_scope(factory) as other:
                bulk_insert_households(
                    session=other, rows=[{"id": 900, "code": "OTHER", "location_id": 4, "registered_on": TODAY}]
                )
                bulk_insert_persons(
                    session=other,
                    rows=[
                        {
                            "id": 900,
                            "household_id": 900,
                            "full_name": "X",
                            "sex": "male",
                            "birth_date": dt.date(1980, 5, 1),
                            "location_id": 4,
                            "national_id": "001080000001",
                            "id_type": "vneid",
                        }
                    ],
                )
        return validated

    monkeypatch.setattr(importer, "validate_person_batch", validate_while_another_writer_registers)
    pipelined = empty_db_url.startswith("postgresql")
    with fresh_registry(empty_db_url) as factory:
        path = write_csv(tmp_path / "list.csv", SPLIT_HOUSEHOLD)
        summary = import_persons_file(
            factory=factory,
            path=path,
            mapping=MAPPING,
            source="s",
            report_path=tmp_path / "r.csv",
            today=TODAY,
            batch_size=2,
            pipeline=True,
            writers=2,
        )
        report = {row["line"]: (row["field"], row["reason"]) for row in read_report(tmp_path / "r.csv")}
        assert (
            "national_id" in report["2"][0]
            and report["2"][1] == "batch refused by the database; nothing of it was written"
        )
        assert "national_id" in report["3"][0]
        with factory() as reader:
            stored = set(reader.scalars(select(PersonSource.source_row_id)))
            codes = set(reader.scalars(select(Household.code)))
        if pipelined:
            assert (summary.imported, summary.rejected) == (0, 4)
            refused_household = (
                "a household of this batch was being created by a batch the database refused; nothing of it was written"
            )
            assert report["4"] == report["5"] == ("household_code", refused_household)
            assert stored == set() and codes == {"OTHER"}
        else:
            assert (summary.imported, summary.rejected) == (2, 2)
            assert stored == {"a2", "c1"} and codes == {"OTHER", "HH1", "HH3"}


def test_a_household_on_adjacent_lines_is_not_split_between_batches() -> None:
    from equicover.registry.importer import _HOUSEHOLD_CODE, FIELDS, HOUSEHOLD_SPILL, _batches

    def rows(codes: str) -> list[tuple[int, list[str]]]:
        made = []
        for line, code in enumerate(codes, start=2):
            values = [""] * len(FIELDS)
            values[_HOUSEHOLD_CODE] = code
            made.append((line, values))
        return made

    def cut(codes: str, size: int) -> list[str]:
        return ["".join(values[_HOUSEHOLD_CODE] for _, values in batch) for batch in _batches(iter(rows(codes)), size)]

    assert cut("AABBBCD", 2) == ["AA", "BBB", "CD"]
    assert cut("AABBBCD", 3) == ["AABBB", "CD"]
    assert cut("ABAB", 1) == ["A", "B", "A", "B"]  # not adjacent: split (a later batch waits for the first)
    assert [len(batch) for batch in _batches(iter(rows("A" * (HOUSEHOLD_SPILL + 10))), 5)] == [5 + HOUSEHOLD_SPILL, 5]


def test_values_needing_escapes_in_copy_text_are_stored_as_written(session_factory, geo, tmp_path) -> None:
    """Backslashes, tabs, newlines and a literal \\N in the file reach the database unchanged
    (PostgreSQL's COPY text path escapes them; SQLite binds them)."""
    mapping = ImportMapping.from_dict({
        "columns": {**MAPPING.columns, "given_name": "Ten", "family_name": "Ho", "phone": "Dien thoai"},
        "defaults": {"id_type": "vneid"}, "values": {"sex": {"Nam": "male", "Nữ": "female"}},
    })  # fmt: skip
    path = tmp_path / "list.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*HEADER, "Ten", "Ho", "Dien thoai"])
        writer.writerow(
            ["r\\1", "Nguyễn \\ Văn", "Nam", "1980-05-01", "H\\1", "C11", "", "Ann\tMarie", "line\nbreak", "\\N"]
        )
        writer.writerow(["r2", "Trần Thị Bình", "Nữ", "1981-05-01", "H2", "C11", "001080000002", "\\N", "", ""])
    summary = import_persons_file(
        factory=session_factory, path=path, mapping=mapping, source="s", report_path=tmp_path / "r.csv", today=TODAY
    )
    assert (summary.imported, summary.rejected) == (2, 0)
    with session_factory() as reader:
        rows = {
            source_row_id: (person, household_code, forms)
            for source_row_id, person, household_code, forms in reader.execute(
                select(PersonSource.source_row_id, Person, Household.code, PersonNameForms)
                .join(Person, Person.id == PersonSource.person_id)
                .join(Household, Household.id == Person.household_id)
                .join(PersonNameForms, PersonNameForms.person_id == Person.id)
                .where(PersonSource.source == "s")
            )
        }
    person, household_code, forms = rows["r\\1"]
    assert (person.full_name, person.given_name, person.family_name, person.phone, household_code) == (
        "Nguyễn \\ Văn",
        "Ann\tMarie",
        "line\nbreak",
        "\\N",
        "H\\1",
    )
    expected = name_forms("Nguyễn \\ Văn")
    assert (forms.folded, forms.romanised, forms.sorted_key) == (expected.folded, expected.romanised, expected.key)
    person, household_code, forms = rows["r2"]
    assert (person.given_name, person.family_name, person.phone, person.national_id) == (
        "\\N",
        None,
        None,
        "001080000002",
    )


def test_each_batch_logs_its_bulk_loads_and_the_run_its_totals(session_factory, geo, tmp_path) -> None:
    """One change-log row per batch and table written (households, persons), as the bulk
    loaders write them, and one for the import run."""
    path = write_csv(tmp_path / "list.csv", ROWS)
    summary = import_persons_file(
        factory=session_factory,
        path=path,
        mapping=MAPPING,
        source="s",
        report_path=tmp_path / "r.csv",
        today=TODAY,
        batch_size=4,
        actor="import-test",
    )
    with session_factory() as reader:
        logged = reader.scalars(select(ChangeLog).where(ChangeLog.actor == "import-test").order_by(ChangeLog.id)).all()
    # Batches: lines 2-9 (HH1 and HH2, kept together) and lines 10-13; good rows 2, 3 and 12.
    assert [(row.entity, row.action, row.after) for row in logged if row.entity != "import_runs"] == [
        ("households", "bulk_load", {"rows": 1}), ("persons", "bulk_load", {"rows": 2}),
        ("households", "bulk_load", {"rows": 1}), ("persons", "bulk_load", {"rows": 1}),
    ]  # fmt: skip
    [run] = [row for row in logged if row.entity == "import_runs"]
    assert (run.entity_id, run.action, run.after) == (
        summary.run_id,
        "create",
        {"source": "s", "read": 12, "imported": 3, "rejected": 9, "already_imported": 0},
    )
