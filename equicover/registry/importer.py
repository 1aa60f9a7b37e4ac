"""Bulk import of persons from another agency's list (CSV or XLSX) with a column mapping.

Every row is validated; the good rows of each batch are written in one transaction (persons,
their households when new, their name forms, and the ``person_sources`` row that makes the import
idempotent); every rejected row is reported with its line number, the field and the reason. A
reason never carries the value: the report is handed around, and the values are personal data.

Re-importing a file imports nothing twice: a row whose ``(source, source_row_id)`` is already in
``person_sources`` is counted as already imported and skipped.

The mapping file (TOML)::

    [columns]                 # equicover field = column header in the file
    source_row_id = "ID"
    full_name = "Ho ten"
    sex = "Gioi tinh"
    birth_date = "Ngay sinh"
    household_code = "Ma ho"
    location_code = "Ma xa"
    national_id = "CCCD"      # optional fields: given_name, family_name, name_script,
                              # id_type, phone, registered_on
    [defaults]                # values for fields without a column (or an empty cell)
    id_type = "vneid"
    [values.sex]              # raw value (case-insensitive) -> equicover value
    "Nam" = "male"
    "Nu" = "female"
    [options]
    date_formats = ["%Y-%m-%d", "%d/%m/%Y"]
    national_id_pattern = "^[0-9]{12}$"
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import tomllib
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, Table, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from equicover.db.bulk import bulk_insert_rows, next_id
from equicover.db.session import session_scope
from equicover.errors import EquicoverError, ValidationFailed
from equicover.registry.models import SEXES, Household, Location, Person
from equicover.registry.normalise import ascii_digits, name_forms
from equicover.registry.quality_models import ImportRun, PersonNameForms, PersonSource
from equicover.registry.service import SYSTEM_ACTOR, bulk_insert_households, bulk_insert_persons, record_change

FIELDS = (
    "source_row_id",
    "full_name",
    "given_name",
    "family_name",
    "name_script",
    "sex",
    "birth_date",
    "national_id",
    "id_type",
    "phone",
    "household_code",
    "location_code",
    "registered_on",
)
REQUIRED = ("source_row_id", "full_name", "sex", "birth_date", "household_code")
DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
DEFAULT_BATCH_SIZE = 20_000
_LOOKUP_CHUNK = 5_000
_EARLIEST_BIRTH = dt.date(1880, 1, 1)
_SCRIPT = re.compile(r"^[A-Z][a-z]{3}$")


@dataclass(frozen=True)
class ImportMapping:
    columns: dict[str, str]
    defaults: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    national_id_pattern: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportMapping:
        record = "import mapping"
        unknown_sections = set(data) - {"columns", "defaults", "values", "options"}
        if unknown_sections:
            raise ValidationFailed(record, "sections", f"unknown section(s) {sorted(unknown_sections)}")
        columns = {str(k): str(v) for k, v in dict(data.get("columns", {})).items()}
        defaults = {str(k): str(v) for k, v in dict(data.get("defaults", {})).items()}
        values = {
            str(k): {str(raw).strip().casefold(): str(mapped) for raw, mapped in dict(v).items()}
            for k, v in dict(data.get("values", {})).items()
        }
        for section, names in (("columns", columns), ("defaults", defaults), ("values", values)):
            unknown = set(names) - set(FIELDS)
            if unknown:
                raise ValidationFailed(record, section, f"unknown field(s) {sorted(unknown)}")
        missing = [name for name in REQUIRED if name not in columns and name not in defaults]
        if missing:
            raise ValidationFailed(record, "columns", f"no column for required field(s) {missing}")
        if "source_row_id" not in columns:
            raise ValidationFailed(record, "columns", "source_row_id must come from a column")
        options = dict(data.get("options", {}))
        unknown_options = set(options) - {"date_formats", "national_id_pattern"}
        if unknown_options:
            raise ValidationFailed(record, "options", f"unknown option(s) {sorted(unknown_options)}")
        formats = tuple(options.get("date_formats", DEFAULT_DATE_FORMATS))
        pattern = options.get("national_id_pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error:
                raise ValidationFailed(record, "options.national_id_pattern", "not a regular expression") from None
        return cls(columns=columns, defaults=defaults, values=values, date_formats=formats, national_id_pattern=pattern)

    @classmethod
    def load(cls, path: Path) -> ImportMapping:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValidationFailed(f"import mapping {path.name}", "file", "not found") from None
        except tomllib.TOMLDecodeError as error:
            raise ValidationFailed(f"import mapping {path.name}", "file", f"not valid TOML ({error})") from None
        return cls.from_dict(data)


@dataclass(frozen=True)
class Rejection:
    line: int
    source_row_id: str | None
    field: str
    reason: str


@dataclass
class BatchResult:
    imported: int = 0
    already_imported: int = 0
    rejections: list[Rejection] = field(default_factory=list)


@dataclass
class ImportSummary:
    run_id: int
    rows_read: int = 0
    imported: int = 0
    already_imported: int = 0
    rejected: int = 0
    report_path: Path | None = None


# --------------------------------------------------------------------------------------------
# Reading files

RawRow = tuple[int, dict[str, str]]  # (line number in the file, field -> raw text)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _header_positions(header: list[str], mapping: ImportMapping, file_name: str) -> dict[str, int]:
    positions = {name.strip(): index for index, name in enumerate(header)}
    missing = sorted(column for column in mapping.columns.values() if column not in positions)
    if missing:
        # Header names are the agency's column titles, not personal data.
        raise ValidationFailed(f"file {file_name}", "header", f"missing column(s) {missing}")
    return {name: positions[column] for name, column in mapping.columns.items()}


def count_data_rows(path: Path) -> int | None:
    """Rows to expect (for the progress bar): lines for CSV, the sheet's size for XLSX."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True)
        try:
            sheet = workbook.active
            return max(0, (sheet.max_row or 1) - 1) if sheet is not None else None
        finally:
            workbook.close()
    with path.open("rb") as handle:
        return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1)


def read_rows(path: Path, mapping: ImportMapping) -> Iterator[RawRow]:
    """The data rows of a CSV or XLSX file as (line number, field -> text); header on line 1."""
    if not path.exists():
        raise ValidationFailed(f"file {path.name}", "file", "not found")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        yield from _read_xlsx(path, mapping)
    else:
        yield from _read_csv(path, mapping)


def _read_csv(path: Path, mapping: ImportMapping) -> Iterator[RawRow]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise ValidationFailed(f"file {path.name}", "encoding", "not UTF-8 text") from None
        positions = list(_header_positions(header, mapping, path.name).items())
        width = len(header)
        try:
            for cells in reader:
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                if len(cells) < width:
                    cells = cells + [""] * (width - len(cells))
                yield reader.line_num, {name: cells[index].strip() for name, index in positions}
        except UnicodeDecodeError:
            raise ValidationFailed(f"file {path.name}", "encoding", f"not UTF-8 text after line {reader.line_num}") from None
        except csv.Error as error:
            raise ValidationFailed(f"file {path.name}", f"line {reader.line_num}", f"unreadable CSV ({error})") from None


def _read_xlsx(path: Path, mapping: ImportMapping) -> Iterator[RawRow]:
    from openpyxl import load_workbook

    # read_only streams the sheet row by row instead of loading the workbook in memory.
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.active
        if sheet is None:
            return
        rows = sheet.iter_rows(values_only=True)
        try:
            header = [_cell_text(value) for value in next(rows)]
        except StopIteration:
            return
        positions = list(_header_positions(header, mapping, path.name).items())
        for line, cells in enumerate(rows, start=2):
            if cells is None or all(value is None or _cell_text(value) == "" for value in cells):
                continue
            yield line, {name: (_cell_text(cells[index]) if index < len(cells) else "") for name, index in positions}
    finally:
        workbook.close()


# --------------------------------------------------------------------------------------------
# Validating and writing one batch (the service: never commits)


@dataclass
class FileState:
    """What one import has seen so far across its batches (to refuse repeats inside the file)."""

    lines_by_row_id: dict[str, int] = field(default_factory=dict)
    lines_by_national_id: dict[tuple[str, str], int] = field(default_factory=dict)
    locations: dict[str, int] | None = None
    households: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> household made by this import
    source_seen: bool | None = None  # did an earlier import of this source write rows?


def _parse_date(raw: str, formats: tuple[str, ...]) -> dt.date | None:
    for form in formats:
        try:
            if form == "%Y-%m-%d":
                return dt.date.fromisoformat(raw)
            return dt.datetime.strptime(raw, form).date()
        except ValueError:
            continue
    return None


def _allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh ids for ``table``: from its sequence on PostgreSQL (safe beside other
    writers), after the largest id on SQLite (one writer at a time there)."""
    if count == 0:
        return []
    if session.connection().dialect.name == "postgresql":
        return list(
            session.scalars(
                text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)"),
                {"n": count},
            )
        )
    start = next_id(session, table)
    return list(range(start, start + count))


def _chunks(values: list[Any], size: int = _LOOKUP_CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _one_of(session: Session, column: Any, values: list[str]) -> Iterator[Any]:
    """Conditions "column is one of values", as few as the backend allows: one
    ``= ANY(array)`` on PostgreSQL (one parameter, cheap to compile and plan, uses the index),
    IN lists of a few thousand on SQLite (its bound-parameter limit)."""
    if not values:
        return
    if session.connection().dialect.name == "postgresql":
        yield column == any_(bindparam(None, values, type_=ARRAY(String())))
        return
    for chunk in _chunks(values):
        yield column.in_(chunk)


GoodRows = list[tuple[int, dict[str, Any]]]


def validate_person_batch(
    *,
    session: Session,
    rows: list[RawRow],
    source: str,
    mapping: ImportMapping,
    state: FileState,
    today: dt.date,
) -> tuple[BatchResult, GoodRows, dict[str, dict[str, Any]]]:
    """Validate ``rows`` (reading only): the rejections, the good rows ready to write and the
    households they need created."""
    result = BatchResult()
    if state.locations is None:
        state.locations = {code: location_id for code, location_id in session.execute(select(Location.code, Location.id))}
    locations = state.locations

    # Rows this source already delivered in an earlier run: skipped, never imported twice.
    row_ids = [raw.get("source_row_id", "") for _, raw in rows]
    done: set[str] = set()
    if state.source_seen is None:
        state.source_seen = session.scalar(select(PersonSource.id).where(PersonSource.source == source).limit(1)) is not None
    if state.source_seen:  # a first import of a source has nothing to look up
        for condition in _one_of(session, PersonSource.source_row_id, [row_id for row_id in row_ids if row_id]):
            done.update(session.scalars(select(PersonSource.source_row_id).where(PersonSource.source == source, condition)))

    values_for = mapping.values
    defaults = mapping.defaults
    id_pattern = re.compile(mapping.national_id_pattern) if mapping.national_id_pattern else None
    good: list[tuple[int, dict[str, Any]]] = []

    def reject(line: int, row_id: str | None, name: str, reason: str) -> None:
        result.rejections.append(Rejection(line, row_id, name, reason))

    for line, raw in rows:
        row_id = raw.get("source_row_id", "")

        def value(name: str) -> str:
            found = raw.get(name, "") or defaults.get(name, "")
            table = values_for.get(name)
            if table and found:
                found = table.get(found.casefold(), found)
            return found

        if not row_id:
            reject(line, None, "source_row_id", "missing")
            continue
        if len(row_id) > 100:
            reject(line, None, "source_row_id", "longer than 100 characters")
            continue
        first_line = state.lines_by_row_id.get(row_id)
        if first_line is not None:
            reject(line, row_id, "source_row_id", f"repeats the row id of line {first_line}")
            continue
        state.lines_by_row_id[row_id] = line
        if row_id in done:
            result.already_imported += 1
            continue

        full_name = " ".join(value("full_name").split())
        if not full_name:
            reject(line, row_id, "full_name", "missing")
            continue
        if len(full_name) > 400:
            reject(line, row_id, "full_name", "longer than 400 characters")
            continue
        given_name = value("given_name") or None
        family_name = value("family_name") or None
        if (given_name and len(given_name) > 200) or (family_name and len(family_name) > 200):
            reject(line, row_id, "given_name" if given_name and len(given_name) > 200 else "family_name", "longer than 200 characters")
            continue
        name_script = value("name_script") or None
        if name_script is not None and not _SCRIPT.match(name_script):
            reject(line, row_id, "name_script", "not an ISO 15924 code (e.g. Latn, Arab, Hans)")
            continue
        sex = value("sex").casefold()
        if sex not in SEXES:
            reject(line, row_id, "sex", "not one of female, male, other, unknown (after the mapping's values)")
            continue
        birth_text = value("birth_date")
        if not birth_text:
            reject(line, row_id, "birth_date", "missing")
            continue
        birth_date = _parse_date(birth_text, mapping.date_formats)
        if birth_date is None:
            reject(line, row_id, "birth_date", "not a date in the mapping's formats")
            continue
        if birth_date > today:
            reject(line, row_id, "birth_date", "in the future")
            continue
        if birth_date < _EARLIEST_BIRTH:
            reject(line, row_id, "birth_date", "before 1880")
            continue
        registered_text = value("registered_on")
        registered_on = today
        if registered_text:
            parsed = _parse_date(registered_text, mapping.date_formats)
            if parsed is None:
                reject(line, row_id, "registered_on", "not a date in the mapping's formats")
                continue
            registered_on = parsed
        if registered_on < birth_date:
            reject(line, row_id, "registered_on", "before the birth date")
            continue
        national_id = "".join(ascii_digits(value("national_id")).split()) or None
        id_type = value("id_type") or None
        if national_id is not None:
            if id_type is None:
                reject(line, row_id, "id_type", "missing for a national ID")
                continue
            if len(national_id) > 64:
                reject(line, row_id, "national_id", "longer than 64 characters")
                continue
            if id_pattern is not None and not id_pattern.match(national_id):
                reject(line, row_id, "national_id", "does not have the expected format")
                continue
            key = (id_type, national_id)
            first_line = state.lines_by_national_id.get(key)
            if first_line is not None:
                reject(line, row_id, "national_id", f"same national ID as line {first_line}")
                continue
            state.lines_by_national_id[key] = line
        else:
            id_type = None
        phone = "".join(ascii_digits(value("phone")).split()) or None
        if phone is not None and len(phone) > 32:
            reject(line, row_id, "phone", "longer than 32 characters")
            continue
        household_code = value("household_code")
        if not household_code or len(household_code) > 64:
            reject(line, row_id, "household_code", "missing" if not household_code else "longer than 64 characters")
            continue
        location_code = value("location_code")
        location_id = None
        if location_code:
            location_id = locations.get(location_code)
            if location_id is None:
                reject(line, row_id, "location_code", "unknown location")
                continue
        good.append(
            (
                line,
                {
                    "source_row_id": row_id,
                    "full_name": full_name,
                    "given_name": given_name,
                    "family_name": family_name,
                    "name_script": name_script,
                    "sex": sex,
                    "birth_date": birth_date,
                    "national_id": national_id,
                    "id_type": id_type,
                    "phone": phone,
                    "household_code": household_code,
                    "location_id": location_id,
                    "registered_on": registered_on,
                },
            )
        )

    good = _drop_registered_national_ids(session, good, reject)
    good, new_households = _resolve_households(session, good, reject, today, state.households)
    return result, good, new_households


def import_person_batch(
    *,
    session: Session,
    rows: list[RawRow],
    source: str,
    run_id: int,
    mapping: ImportMapping,
    state: FileState,
    today: dt.date,
    actor: str = SYSTEM_ACTOR,
) -> BatchResult:
    """Validate ``rows`` and write the good ones (in the caller's transaction)."""
    result, good, new_households = validate_person_batch(session=session, rows=rows, source=source, mapping=mapping, state=state, today=today)
    if good:
        write_person_batch(session=session, good=good, new_households=new_households, source=source, run_id=run_id, actor=actor)
        result.imported = len(good)
    return result


def _drop_registered_national_ids(session: Session, good: list[tuple[int, dict[str, Any]]], reject: Callable[..., None]):  # type: ignore[no-untyped-def]
    by_type: dict[str, set[str]] = {}
    for _, row in good:
        if row["national_id"] is not None:
            by_type.setdefault(row["id_type"], set()).add(row["national_id"])
    registered: dict[tuple[str, str], int] = {}
    for id_type, numbers in by_type.items():
        # One id_type and a list of IDs: the (id_type, national_id) unique index answers it
        # (a row-value IN list is planned as a scan by PostgreSQL).
        for condition in _one_of(session, Person.national_id, sorted(numbers)):
            registered.update(
                ((id_type, national_id), person_id)
                for national_id, person_id in session.execute(
                    select(Person.national_id, Person.id).where(Person.id_type == id_type, condition)
                )
            )
    if not registered:
        return good
    kept = []
    for line, row in good:
        holder = registered.get((row["id_type"], row["national_id"]))
        if holder is not None:
            reject(line, row["source_row_id"], "national_id", f"already registered to person {holder}")
        else:
            kept.append((line, row))
    return kept


def _resolve_households(session: Session, good: list[tuple[int, dict[str, Any]]], reject: Callable[..., None], today: dt.date,
                        created: dict[str, dict[str, Any]]):  # type: ignore[no-untyped-def]  # fmt: skip
    # ``created``: households this import made in earlier batches (perhaps still being written).
    codes = sorted({row["household_code"] for _, row in good} - created.keys())
    existing: dict[str, tuple[int, int]] = {}
    for condition in _one_of(session, Household.code, codes):
        existing.update(
            (code, (household_id, location_id))
            for code, household_id, location_id in session.execute(
                select(Household.code, Household.id, Household.location_id).where(condition)
            )
        )
    new_households: dict[str, dict[str, Any]] = {}
    kept = []
    for line, row in good:
        code = row["household_code"]
        found = existing.get(code)
        earlier = created.get(code)
        if earlier is not None:
            row["household"] = earlier
            if row["location_id"] is None:
                row["location_id"] = earlier["location_id"]
        elif found is not None:
            row["household_id"] = found[0]
            if row["location_id"] is None:
                row["location_id"] = found[1]
        else:
            if row["location_id"] is None:
                reject(line, row["source_row_id"], "location_code", "missing (needed for a new household)")
                continue
            household = new_households.setdefault(code, {"code": code, "location_id": row["location_id"], "registered_on": today})
            created[code] = household
            row["household"] = household
        kept.append((line, row))
    return kept, new_households


def write_person_batch(
    *,
    session: Session,
    good: GoodRows,
    new_households: dict[str, dict[str, Any]],
    source: str,
    run_id: int,
    actor: str,
) -> None:
    """Write validated rows: new households, persons, name forms, source rows."""
    households = list(new_households.values())  # each made for a row that was kept
    for household, household_id in zip(households, _allocate_ids(session, Household.__table__, len(households))):
        household["id"] = household_id
    if households:
        bulk_insert_households(
            session=session,
            rows={name: [household[name] for household in households] for name in ("id", "code", "location_id", "registered_on")},
            actor=actor,
        )
    person_ids = _allocate_ids(session, Person.__table__, len(good))
    rows = [row for _, row in good]
    for row, person_id in zip(rows, person_ids):
        row["id"] = person_id
        if "household" in row:
            row["household_id"] = row["household"]["id"]
    person_columns = (
        "id", "household_id", "full_name", "given_name", "family_name", "name_script", "sex", "birth_date",
        "national_id", "id_type", "phone", "location_id", "registered_on",
    )  # fmt: skip
    bulk_insert_persons(session=session, rows={name: [row[name] for row in rows] for name in person_columns}, actor=actor)
    forms = [name_forms(row["full_name"]) for row in rows]
    bulk_insert_rows(
        session,
        PersonNameForms.__table__,
        {
            "person_id": person_ids,
            "folded": [form.folded for form in forms],
            "romanised": [form.romanised for form in forms],
            "sorted_key": [form.key for form in forms],
        },
    )
    bulk_insert_rows(
        session,
        PersonSource.__table__,
        {
            "source": [source] * len(rows),
            "source_row_id": [row["source_row_id"] for row in rows],
            "person_id": person_ids,
            "import_run_id": [run_id] * len(rows),
        },
    )


# --------------------------------------------------------------------------------------------
# The whole file (a job: one transaction per batch)


def start_import_run(*, session: Session, source: str, file_name: str, actor: str) -> ImportRun:
    if not source or len(source) > 100:
        raise ValidationFailed("import", "source", "must be 1 to 100 characters")
    run = ImportRun(
        source=source,
        file_name=file_name[:400],
        started_at=dt.datetime.now(dt.timezone.utc),
        actor=actor,
        rows_read=0,
        rows_imported=0,
        rows_rejected=0,
        rows_already_imported=0,
    )
    session.add(run)
    session.flush()
    return run


REPORT_HEADER = ("line", "source_row_id", "field", "reason")


def _can_pipeline(factory: sessionmaker[Session]) -> bool:
    bind = factory.kw.get("bind")
    # Two threads need two connections: a factory bound to one connection (tests) cannot.
    return isinstance(bind, Engine) and bind.dialect.name == "postgresql"


def import_persons_file(
    *,
    factory: sessionmaker[Session],
    path: Path,
    mapping: ImportMapping,
    source: str,
    report_path: Path,
    actor: str = SYSTEM_ACTOR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    today: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
    pipeline: bool = False,
) -> ImportSummary:
    """Import a file batch by batch, each batch in its own transaction; write the rejection report.

    ``pipeline``: on PostgreSQL with a factory bound to an engine, write each batch in a second
    thread while the next one is validated (the CLI does; a refused batch then also refuses the
    next one if that one uses a household the refused batch was creating).

    A batch the database still refuses after validation (e.g. another writer registered the same
    national ID meanwhile) is rolled back whole and its rows are reported as rejected with the
    constraint's name: nothing of it is half-written, and re-running the file retries those rows.
    """
    today = today or dt.date.today()
    with session_scope(factory) as session:
        run_id = start_import_run(session=session, source=source, file_name=path.name, actor=actor).id
    summary = ImportSummary(run_id=run_id, report_path=report_path)
    state = FileState()
    report_path.parent.mkdir(parents=True, exist_ok=True)
    with report_path.open("w", newline="", encoding="utf-8") as report_file:
        report = csv.writer(report_file)
        report.writerow(REPORT_HEADER)

        def add_counts(session: Session, batch: list[RawRow], result: BatchResult) -> None:
            session.execute(
                update(ImportRun)
                .where(ImportRun.id == run_id)
                .values(
                    rows_read=ImportRun.rows_read + len(batch),
                    rows_imported=ImportRun.rows_imported + result.imported,
                    rows_rejected=ImportRun.rows_rejected + len(result.rejections),
                    rows_already_imported=ImportRun.rows_already_imported + result.already_imported,
                )
            )

        def write(batch: list[RawRow], result: BatchResult, good: GoodRows, new_households: dict[str, dict[str, Any]]) -> None:
            with session_scope(factory) as session:
                if good:
                    write_person_batch(session=session, good=good, new_households=new_households, source=source, run_id=run_id, actor=actor)
                result.imported = len(good)
                add_counts(session, batch, result)

        def refused(batch: list[RawRow], error: EquicoverError, new_households: dict[str, dict[str, Any]]) -> BatchResult:
            # The row ids and national IDs of the refused batch stay "seen": a later row
            # repeating one is a repeat inside the file either way. Its households were not made.
            for code in new_households:
                state.households.pop(code, None)
            field_name = getattr(error, "field", "row")
            result = BatchResult(
                rejections=[
                    Rejection(line, raw.get("source_row_id") or None, field_name, "batch refused by the database; nothing of it was written")
                    for line, raw in batch
                ]
            )
            with session_scope(factory) as session:
                add_counts(session, batch, result)
            return result

        def account(batch: list[RawRow], result: BatchResult) -> None:
            summary.rows_read += len(batch)
            summary.imported += result.imported
            summary.already_imported += result.already_imported
            summary.rejected += len(result.rejections)
            for rejection in sorted(result.rejections, key=lambda item: item.line):
                report.writerow((rejection.line, rejection.source_row_id or "", rejection.field, rejection.reason))
            if progress is not None:
                progress(len(batch))

        def validate(batch: list[RawRow]) -> tuple[BatchResult, GoodRows, dict[str, dict[str, Any]]]:
            with factory() as reader:
                try:
                    return validate_person_batch(session=reader, rows=batch, source=source, mapping=mapping, state=state, today=today)
                finally:
                    reader.rollback()

        def batches() -> Iterator[list[RawRow]]:
            batch: list[RawRow] = []
            for item in read_rows(path, mapping):
                batch.append(item)
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch

        if not (pipeline and _can_pipeline(factory)):
            for batch in batches():
                result, good, new_households = validate(batch)
                try:
                    write(batch, result, good, new_households)
                except EquicoverError as error:
                    result = refused(batch, error, new_households)
                account(batch, result)
        else:
            # Batch N is written (COPY: PostgreSQL's work, in its own process) while batch N+1
            # is read and validated here: the two cores both busy.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer:
                in_flight: tuple[Future[None], list[RawRow], BatchResult, dict[str, dict[str, Any]]] | None = None

                def settle(job: tuple[Future[None], list[RawRow], BatchResult, dict[str, dict[str, Any]]]) -> None:
                    future, batch, result, new_households = job
                    try:
                        future.result()
                    except EquicoverError as error:
                        result = refused(batch, error, new_households)
                    account(batch, result)

                for batch in batches():
                    result, good, new_households = validate(batch)
                    if in_flight is not None:
                        settle(in_flight)
                    in_flight = (writer.submit(write, batch, result, good, new_households), batch, result, new_households)
                if in_flight is not None:
                    settle(in_flight)

    with session_scope(factory) as session:
        session.execute(update(ImportRun).where(ImportRun.id == run_id).values(finished_at=dt.datetime.now(dt.timezone.utc)))
        record_change(
            session=session,
            actor=actor,
            entity="import_runs",
            entity_id=run_id,
            action="create",
            after={"source": source, "read": summary.rows_read, "imported": summary.imported, "rejected": summary.rejected,
                   "already_imported": summary.already_imported},
        )  # fmt: skip
    return summary
