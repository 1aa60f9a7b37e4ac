"""Bulk import of persons from another agency's list (CSV or XLSX) with a column mapping.

Every row is validated; the good rows of each batch are written in one transaction (persons,
their households when new, their name forms, and the ``person_sources`` row that makes the import
idempotent); every rejected row is reported with its line number, the field and the reason. A
reason never carries the value: the report is handed around, and the values are personal data.

Re-importing a file imports nothing twice: a row whose ``(source, source_row_id)`` is already in
``person_sources`` is counted as already imported and skipped.

The file is streamed: only the batches in hand are in memory, plus what the import remembers to
refuse repeats inside the file (row ids, national IDs) and the households it created. A batch
closes at ``batch_size`` rows unless the next row belongs to the same household as the last one
(up to ``HOUSEHOLD_SPILL`` rows more), so that a household listed on adjacent rows is written
by one transaction.

On PostgreSQL a batch is turned into COPY text while it is validated
(:mod:`equicover.registry.import_postgres`) and, with ``pipeline=True`` and an engine-bound
factory, written by one of two writer threads (each its own connection and server process)
while the next batch is read and validated. On SQLite batches are validated and written one
after the other through :mod:`equicover.db.bulk`.

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
import gc
import re
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, Table, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.db.bulk import ANALYZE_AFTER_ROWS, bulk_insert_rows, next_id
from equicover.db.session import session_scope
from equicover.errors import EquicoverError, ValidationFailed
from equicover.exports import safe_csv_writer
from equicover.registry.import_names import ImportNameForms
from equicover.registry.import_postgres import (
    CopyBatch,
    allocate_ids,
    analyze_import_tables,
    format_copy_batch,
    prefer_index_lookups,
    write_copy_batch,
)
from equicover.registry.models import SEXES, Household, Location, Person
from equicover.registry.normalise import ascii_digits, name_forms
from equicover.registry.quality_models import ImportRun, PersonNameForms, PersonSource
from equicover.registry.service import bulk_insert_households, bulk_insert_persons

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
# Positions in the values of a RawRow.
(_ROW_ID, _FULL_NAME, _GIVEN_NAME, _FAMILY_NAME, _NAME_SCRIPT, _SEX, _BIRTH_DATE, _NATIONAL_ID, _ID_TYPE, _PHONE,
 _HOUSEHOLD_CODE, _LOCATION_CODE, _REGISTERED_ON) = range(len(FIELDS))  # fmt: skip
REQUIRED = ("source_row_id", "full_name", "sex", "birth_date", "household_code")
DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
DEFAULT_BATCH_SIZE = 20_000
# Rows a batch may grow past its size to keep a household's adjacent rows together.
HOUSEHOLD_SPILL = 1_000
# Batches written at once on PostgreSQL (each by its own connection) while the next is validated.
DEFAULT_WRITERS = 2
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

RawRow = tuple[int, list[str]]  # (line number in the file, the text of each of FIELDS in order)


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


class _FieldTexts:
    """The cells of a row -> the text of each of FIELDS: its column's cell (stripped), else the
    mapping's default, then the mapping's value table (matched case-insensitively). The source
    row id is always the cell as written."""

    def __init__(self, header: list[str], mapping: ImportMapping, file_name: str) -> None:
        positions = _header_positions(header, mapping, file_name)
        self.width = len(header)
        # A field without a column reads the empty cell appended after the row's last one.
        self._pick = itemgetter(*(positions.get(name, self.width) for name in FIELDS))
        self._filled = tuple(
            (index, mapping.defaults.get(name, ""), mapping.values.get(name))
            for index, name in enumerate(FIELDS)
            if index != _ROW_ID and (name in mapping.defaults or name in mapping.values)
        )

    def __call__(self, cells: list[str]) -> list[str]:
        if len(cells) != self.width:
            cells = (cells + [""] * self.width)[: self.width]
        cells.append("")
        values = list(map(str.strip, self._pick(cells)))
        for index, default, table in self._filled:
            value = values[index] or default
            if table and value:
                value = table.get(value.casefold(), value)
            values[index] = value
        return values


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
    """The data rows of a CSV or XLSX file as (line number, text of each of FIELDS); header on line 1."""
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
        texts = _FieldTexts(header, mapping, path.name)
        try:
            for cells in reader:
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                yield reader.line_num, texts(cells)
        except UnicodeDecodeError:
            raise ValidationFailed(
                f"file {path.name}", "encoding", f"not UTF-8 text after line {reader.line_num}"
            ) from None
        except csv.Error as error:
            raise ValidationFailed(
                f"file {path.name}", f"line {reader.line_num}", f"unreadable CSV ({error})"
            ) from None


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
        texts = _FieldTexts(header, mapping, path.name)
        for line, cells in enumerate(rows, start=2):
            if cells is None:
                continue
            cell_texts = [_cell_text(value) for value in cells]
            if not any(cell_texts):
                continue
            yield line, texts(cell_texts)
    finally:
        workbook.close()


def _batches(rows: Iterator[RawRow], batch_size: int) -> Iterator[list[RawRow]]:
    """Rows in batches of ``batch_size``, each extended (by up to HOUSEHOLD_SPILL rows) while the
    next row is in the last row's household: the usual file, sorted by household, then has no
    household shared by two transactions."""
    batch: list[RawRow] = []
    for item in rows:
        if len(batch) >= batch_size and (
            item[1][_HOUSEHOLD_CODE] != batch[-1][1][_HOUSEHOLD_CODE] or len(batch) >= batch_size + HOUSEHOLD_SPILL
        ):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


# --------------------------------------------------------------------------------------------
# Validating and writing one batch (the service: never commits)


@dataclass(slots=True, eq=False)
class NewHousehold:
    """A household this import creates (for the first row naming its code)."""

    code: str
    location_id: int
    registered_on: dt.date
    batch: int  # the batch of this import that writes it
    id: int | None = None


@dataclass(slots=True, eq=False)
class ValidRow:
    """A row that passed validation, as it will be stored."""

    line: int
    source_row_id: str
    full_name: str
    given_name: str | None
    family_name: str | None
    name_script: str | None
    sex: str
    birth_date: dt.date
    national_id: str | None
    id_type: str | None
    phone: str | None
    household_code: str
    location_id: int | None
    registered_on: dt.date
    household_id: int | None = None  # an existing household ...
    new_household: NewHousehold | None = None  # ... or one this import creates
    person_id: int | None = None

    def stored_household_id(self) -> int:
        """The id of the person's household: the existing one, or the new one once its id is given."""
        if self.household_id is not None:
            return self.household_id
        if self.new_household is None or self.new_household.id is None:
            raise ValueError(f"line {self.line}: the household has no id yet")
        return self.new_household.id


@dataclass
class FileState:
    """What one import has seen so far across its batches (to refuse repeats inside the file)."""

    lines_by_row_id: dict[str, int] = field(default_factory=dict)
    lines_by_national_id: dict[tuple[str, str], int] = field(default_factory=dict)
    locations: dict[str, int] | None = None
    households: dict[str, NewHousehold] = field(default_factory=dict)  # code -> household made by this import
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


def _digits_only(text: str) -> str | None:
    """An ID or phone number: other digit scripts as ASCII, spaces removed; None if empty."""
    if not text:
        return None
    if not text.isascii():  # NFKC and the digit table change nothing in ASCII text
        text = ascii_digits(text)
    return "".join(text.split()) or None


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


def validate_person_batch(
    *,
    session: Session,
    rows: list[RawRow],
    source: str,
    mapping: ImportMapping,
    state: FileState,
    today: dt.date,
    batch: int = 0,
) -> tuple[BatchResult, list[ValidRow], list[NewHousehold]]:
    """Validate ``rows`` (reading only): the rejections, the good rows ready to write and the
    households they need created (``batch``: this batch's number in the import)."""
    result = BatchResult()
    if state.locations is None:
        state.locations = dict(session.execute(select(Location.code, Location.id)).all())
    locations = state.locations

    # Rows this source already delivered in an earlier run: skipped, never imported twice.
    done: set[str] = set()
    if state.source_seen is None:
        state.source_seen = (
            session.scalar(select(PersonSource.id).where(PersonSource.source == source).limit(1)) is not None
        )
    if state.source_seen:  # a first import of a source has nothing to look up
        row_ids = [values[_ROW_ID] for _, values in rows if values[_ROW_ID]]
        for condition in _one_of(session, PersonSource.source_row_id, row_ids):
            done.update(
                session.scalars(select(PersonSource.source_row_id).where(PersonSource.source == source, condition))
            )

    id_pattern = re.compile(mapping.national_id_pattern) if mapping.national_id_pattern else None
    date_formats = mapping.date_formats
    lines_by_row_id = state.lines_by_row_id
    lines_by_national_id = state.lines_by_national_id
    good: list[ValidRow] = []
    rejections = result.rejections

    def reject(line: int, row_id: str | None, name: str, reason: str) -> None:
        rejections.append(Rejection(line, row_id, name, reason))

    for line, values in rows:
        row_id = values[_ROW_ID]
        if not row_id:
            reject(line, None, "source_row_id", "missing")
            continue
        if len(row_id) > 100:
            reject(line, None, "source_row_id", "longer than 100 characters")
            continue
        first_line = lines_by_row_id.setdefault(row_id, line)
        if first_line != line:
            reject(line, row_id, "source_row_id", f"repeats the row id of line {first_line}")
            continue
        if row_id in done:
            result.already_imported += 1
            continue

        full_name = " ".join(values[_FULL_NAME].split())
        if not full_name:
            reject(line, row_id, "full_name", "missing")
            continue
        if len(full_name) > 400:
            reject(line, row_id, "full_name", "longer than 400 characters")
            continue
        given_name = values[_GIVEN_NAME] or None
        family_name = values[_FAMILY_NAME] or None
        if (given_name and len(given_name) > 200) or (family_name and len(family_name) > 200):
            reject(
                line,
                row_id,
                "given_name" if given_name and len(given_name) > 200 else "family_name",
                "longer than 200 characters",
            )
            continue
        name_script = values[_NAME_SCRIPT] or None
        if name_script is not None and not _SCRIPT.match(name_script):
            reject(line, row_id, "name_script", "not an ISO 15924 code (e.g. Latn, Arab, Hans)")
            continue
        sex = values[_SEX].casefold()
        if sex not in SEXES:
            reject(line, row_id, "sex", "not one of female, male, other, unknown (after the mapping's values)")
            continue
        birth_text = values[_BIRTH_DATE]
        if not birth_text:
            reject(line, row_id, "birth_date", "missing")
            continue
        birth_date = _parse_date(birth_text, date_formats)
        if birth_date is None:
            reject(line, row_id, "birth_date", "not a date in the mapping's formats")
            continue
        if birth_date > today:
            reject(line, row_id, "birth_date", "in the future")
            continue
        if birth_date < _EARLIEST_BIRTH:
            reject(line, row_id, "birth_date", "before 1880")
            continue
        registered_text = values[_REGISTERED_ON]
        registered_on = today
        if registered_text:
            parsed = _parse_date(registered_text, date_formats)
            if parsed is None:
                reject(line, row_id, "registered_on", "not a date in the mapping's formats")
                continue
            registered_on = parsed
        if registered_on < birth_date:
            reject(line, row_id, "registered_on", "before the birth date")
            continue
        national_id = _digits_only(values[_NATIONAL_ID])
        id_type = values[_ID_TYPE] or None
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
            first_line = lines_by_national_id.setdefault((id_type, national_id), line)
            if first_line != line:
                reject(line, row_id, "national_id", f"same national ID as line {first_line}")
                continue
        else:
            id_type = None
        phone = _digits_only(values[_PHONE])
        if phone is not None and len(phone) > 32:
            reject(line, row_id, "phone", "longer than 32 characters")
            continue
        household_code = values[_HOUSEHOLD_CODE]
        if not household_code or len(household_code) > 64:
            reject(line, row_id, "household_code", "missing" if not household_code else "longer than 64 characters")
            continue
        location_code = values[_LOCATION_CODE]
        location_id = None
        if location_code:
            location_id = locations.get(location_code)
            if location_id is None:
                reject(line, row_id, "location_code", "unknown location")
                continue
        good.append(
            ValidRow(line, row_id, full_name, given_name, family_name, name_script, sex, birth_date, national_id,
                     id_type, phone, household_code, location_id, registered_on)
        )  # fmt: skip

    good = _drop_registered_national_ids(session, good, reject)
    good, new_households = _resolve_households(session, good, reject, today, state.households, batch)
    return result, good, new_households


def _drop_registered_national_ids(
    session: Session, good: list[ValidRow], reject: Callable[..., None]
) -> list[ValidRow]:
    by_type: dict[str, set[str]] = {}
    for row in good:
        if row.national_id is not None and row.id_type is not None:  # validation gives an ID its type
            by_type.setdefault(row.id_type, set()).add(row.national_id)
    registered: dict[tuple[str, str | None], int] = {}  # national_id: never NULL here, but typed as its column
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
    for row in good:
        holder = None
        if row.national_id is not None and row.id_type is not None:
            holder = registered.get((row.id_type, row.national_id))
        if holder is not None:
            reject(row.line, row.source_row_id, "national_id", f"already registered to person {holder}")
        else:
            kept.append(row)
    return kept


def _resolve_households(
    session: Session,
    good: list[ValidRow],
    reject: Callable[..., None],
    today: dt.date,
    created: dict[str, NewHousehold],
    batch: int,
) -> tuple[list[ValidRow], list[NewHousehold]]:
    # ``created``: households this import made in earlier batches (perhaps still being written).
    codes = sorted({row.household_code for row in good} - created.keys())
    existing: dict[str, tuple[int, int]] = {}
    for condition in _one_of(session, Household.code, codes):
        existing.update(
            (code, (household_id, location_id))
            for code, household_id, location_id in session.execute(
                select(Household.code, Household.id, Household.location_id).where(condition)
            )
        )
    new_households: list[NewHousehold] = []
    kept = []
    for row in good:
        code = row.household_code
        earlier = created.get(code)
        if earlier is not None:
            row.new_household = earlier
            if row.location_id is None:
                row.location_id = earlier.location_id
        elif (found := existing.get(code)) is not None:
            row.household_id = found[0]
            if row.location_id is None:
                row.location_id = found[1]
        else:
            if row.location_id is None:
                reject(row.line, row.source_row_id, "location_code", "missing (needed for a new household)")
                continue
            household = created[code] = NewHousehold(code, row.location_id, today, batch)
            new_households.append(household)
            row.new_household = household
        kept.append(row)
    return kept, new_households


def write_person_batch(
    *,
    session: Session,
    good: list[ValidRow],
    new_households: list[NewHousehold],
    source: str,
    run_id: int,
    actor: str,
) -> None:
    """Write validated rows through the portable bulk path (any database; the import uses it on
    SQLite): new households, persons, name forms, source rows. Ids are given here."""
    for household, household_id in zip(
        new_households, _allocate_ids(session, Household.__table__, len(new_households))
    ):
        household.id = household_id
    if new_households:
        bulk_insert_households(
            session=session,
            rows={
                "id": [household.id for household in new_households],
                "code": [household.code for household in new_households],
                "location_id": [household.location_id for household in new_households],
                "registered_on": [household.registered_on for household in new_households],
            },
            actor=actor,
        )
    person_ids = _allocate_ids(session, Person.__table__, len(good))
    for row, person_id in zip(good, person_ids):
        row.person_id = person_id
    bulk_insert_persons(
        session=session,
        rows={
            "id": person_ids,
            "household_id": [row.stored_household_id() for row in good],
            **{
                name: [getattr(row, name) for row in good]
                for name in (
                    "full_name",
                    "given_name",
                    "family_name",
                    "name_script",
                    "sex",
                    "birth_date",
                    "national_id",
                    "id_type",
                    "phone",
                    "location_id",
                    "registered_on",
                )  # fmt: skip
            },
        },
        actor=actor,
    )
    forms = [name_forms(row.full_name) for row in good]
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
            "source": [source] * len(good),
            "source_row_id": [row.source_row_id for row in good],
            "person_id": person_ids,
            "import_run_id": [run_id] * len(good),
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
        started_at=dt.datetime.now(dt.UTC),
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
_REFUSED = "batch refused by the database; nothing of it was written"
_REFUSED_WITH_EARLIER = (
    "a household of this batch was being created by a batch the database refused; nothing of it was written"
)


class _EarlierBatchRefused(ValidationFailed):
    """A batch that uses a household which an earlier, refused batch of the import was creating."""


def _can_pipeline(factory: sessionmaker[Session]) -> bool:
    bind = factory.kw.get("bind")
    # Writer threads need connections of their own: a factory bound to one connection (tests) cannot.
    return isinstance(bind, Engine) and bind.dialect.name == "postgresql"


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the import.

    A batch is hundreds of thousands of small objects (rows, lists) that live until the batch is
    written; each full collection walks all of them and those of the batches in flight, which
    cost about a third of validating. The import makes no reference cycles of its own: reference
    counting frees each batch when it is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(eq=False)
class _Batch:
    number: int
    rows: list[RawRow]
    result: BatchResult
    good: list[ValidRow]
    new_households: list[NewHousehold]
    uses_households_of: set[int] = field(default_factory=set)  # earlier batches creating households it uses
    copy: CopyBatch | None = None  # PostgreSQL: the batch as COPY text, ids given
    waits_for: tuple[Future[None], ...] = ()  # batches in flight that create households it uses


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
    writers: int = DEFAULT_WRITERS,
) -> ImportSummary:
    """Import a file batch by batch, each batch in its own transaction; write the rejection report.

    ``pipeline``: on PostgreSQL with a factory bound to an engine, ``writers`` threads (each with
    its own connection) write batches while the next one is read and validated (the CLI does).
    A batch that uses a household created by a batch still being written waits for it to commit
    (a household's rows on adjacent lines never need to: see :func:`_batches`).

    A batch the database still refuses after validation (e.g. another writer registered the same
    national ID meanwhile) is rolled back whole and its rows are reported as rejected with the
    constraint's name: nothing of it is half-written, and re-running the file retries those rows.
    A batch using a household that a refused batch was creating is refused as well.
    """
    with _cyclic_gc_paused():
        return _import_persons_file(
            factory=factory, path=path, mapping=mapping, source=source, report_path=report_path, actor=actor,
            batch_size=batch_size, today=today or dt.date.today(), progress=progress,
            writers=max(1, writers) if pipeline and _can_pipeline(factory) else 0,
        )  # fmt: skip


def _import_persons_file(
    *,
    factory: sessionmaker[Session],
    path: Path,
    mapping: ImportMapping,
    source: str,
    report_path: Path,
    actor: str,
    batch_size: int,
    today: dt.date,
    progress: Callable[[int], None] | None,
    writers: int,  # 0: validate and write one batch after the other
) -> ImportSummary:
    with session_scope(factory) as session:
        run_id = start_import_run(session=session, source=source, file_name=path.name, actor=actor).id
        on_postgresql = session.connection().dialect.name == "postgresql"
    summary = ImportSummary(run_id=run_id, report_path=report_path)
    state = FileState()
    import_name_forms = ImportNameForms()
    report_path.parent.mkdir(parents=True, exist_ok=True)
    with report_path.open("w", newline="", encoding="utf-8") as report_file:
        report = safe_csv_writer(report_file)
        report.writerow(REPORT_HEADER)

        def add_counts(session: Session, batch: _Batch, result: BatchResult) -> None:
            session.execute(
                update(ImportRun)
                .where(ImportRun.id == run_id)
                .values(
                    rows_read=ImportRun.rows_read + len(batch.rows),
                    rows_imported=ImportRun.rows_imported + result.imported,
                    rows_rejected=ImportRun.rows_rejected + len(result.rejections),
                    rows_already_imported=ImportRun.rows_already_imported + result.already_imported,
                )
            )

        def prepare(number: int, rows: list[RawRow]) -> _Batch:
            with factory() as reader:
                try:
                    if on_postgresql:
                        prefer_index_lookups(reader)
                    result, good, new_households = validate_person_batch(
                        session=reader,
                        rows=rows,
                        source=source,
                        mapping=mapping,
                        state=state,
                        today=today,
                        batch=number,
                    )
                    if on_postgresql and good:
                        person_ids, household_ids = allocate_ids(
                            reader, persons=len(good), households=len(new_households)
                        )
                finally:
                    reader.rollback()
            batch = _Batch(number, rows, result, good, new_households)
            batch.uses_households_of = {row.new_household.batch for row in good if row.new_household is not None} - {
                number
            }
            if on_postgresql and good:
                for row, person_id in zip(good, person_ids):
                    row.person_id = person_id
                for household, household_id in zip(new_households, household_ids):
                    household.id = household_id
                batch.copy = format_copy_batch(good=good, new_households=new_households, source=source, run_id=run_id,
                                               name_forms=import_name_forms)  # fmt: skip
                batch.good = []  # the COPY text is all the writer needs
            batch.result.imported = len(good)
            return batch

        def write(batch: _Batch) -> None:
            for earlier in batch.waits_for:
                if earlier.exception() is not None:
                    raise _EarlierBatchRefused(f"import batch {batch.number}", "household_code", _REFUSED_WITH_EARLIER)
            with session_scope(factory) as session:
                if batch.copy is not None:
                    write_copy_batch(session=session, batch=batch.copy, actor=actor)
                elif batch.good:
                    write_person_batch(session=session, good=batch.good, new_households=batch.new_households,
                                       source=source, run_id=run_id, actor=actor)  # fmt: skip
                add_counts(session, batch, batch.result)

        def refused(batch: _Batch, error: EquicoverError) -> BatchResult:
            # The row ids and national IDs of the refused batch stay "seen": a later row
            # repeating one is a repeat inside the file either way. Its households were not made.
            for household in batch.new_households:
                if state.households.get(household.code) is household:
                    del state.households[household.code]
            field_name = getattr(error, "field", "row")
            reason = _REFUSED_WITH_EARLIER if isinstance(error, _EarlierBatchRefused) else _REFUSED
            result = BatchResult(
                rejections=[Rejection(line, values[_ROW_ID] or None, field_name, reason) for line, values in batch.rows]
            )
            with session_scope(factory) as session:
                add_counts(session, batch, result)
            return result

        def settle(batch: _Batch, refusal: EquicoverError | None) -> None:
            result = batch.result if refusal is None else refused(batch, refusal)
            summary.rows_read += len(batch.rows)
            summary.imported += result.imported
            summary.already_imported += result.already_imported
            summary.rejected += len(result.rejections)
            for rejection in sorted(result.rejections, key=lambda item: item.line):
                report.writerow((rejection.line, rejection.source_row_id or "", rejection.field, rejection.reason))
            if progress is not None:
                progress(len(batch.rows))

        def refusal_of(written: Future[None]) -> EquicoverError | None:
            try:
                written.result()
            except EquicoverError as error:
                return error
            return None

        batches = _batches(read_rows(path, mapping), batch_size)
        if writers == 0:
            for number, rows in enumerate(batches):
                batch = prepare(number, rows)
                try:
                    write(batch)
                except EquicoverError as error:
                    settle(batch, error)
                else:
                    settle(batch, None)
        else:
            # Batches N and N+1 are written (COPY: PostgreSQL's work, in its server processes)
            # while batch N+2 is read, validated and formatted here: both cores busy.
            with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="import-writer") as pool:
                # by number, oldest first: each batch with its write
                in_flight: dict[int, tuple[_Batch, Future[None]]] = {}
                for number, rows in enumerate(batches):
                    batch = prepare(number, rows)
                    batch.waits_for = tuple(in_flight[n][1] for n in sorted(batch.uses_households_of) if n in in_flight)
                    while len(in_flight) >= writers:
                        oldest, oldest_written = in_flight.pop(next(iter(in_flight)))
                        settle(oldest, refusal_of(oldest_written))
                    in_flight[number] = (batch, pool.submit(write, batch))
                for batch, written in in_flight.values():
                    settle(batch, refusal_of(written))

    with session_scope(factory) as session:
        if on_postgresql and summary.imported >= ANALYZE_AFTER_ROWS:
            analyze_import_tables(session)
        session.execute(update(ImportRun).where(ImportRun.id == run_id).values(finished_at=dt.datetime.now(dt.UTC)))
        record_change(
            session=session,
            actor=actor,
            entity="import_runs",
            entity_id=run_id,
            action="create",
            after={"source": source, "read": summary.rows_read, "imported": summary.imported,
                   "rejected": summary.rejected, "already_imported": summary.already_imported},
        )  # fmt: skip
    return summary
