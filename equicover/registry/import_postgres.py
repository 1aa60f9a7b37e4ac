"""The PostgreSQL write path of the person import: ids from the sequences, COPY text made in Python.

The portable path (:func:`equicover.registry.importer.write_person_batch`, used on SQLite) hands
rows to :mod:`equicover.db.bulk`. There the thread writing a batch also ran its per-row Python
(building columns, converting dates, psycopg's ``write_row``), competing for the GIL with the
thread validating the next batch, and ``ANALYZE``-d four growing tables after every batch (half
a second a batch at a million rows). Here a validated batch becomes four COPY payloads (households,
persons, name forms, source rows) on the thread that validated it, so that the thread writing
the batch does little but send bytes and wait for PostgreSQL, and two batches can be written at
once by two connections (two server processes on two cores) while a third is validated.

Ids come from the tables' sequences before the batch is written (``nextval``, safe beside any
other writer), so a batch's rows can point at each other and at the households of earlier
batches without reading anything back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

from equicover.audit.service import record_change
from equicover.errors import ValidationFailed

if TYPE_CHECKING:
    from equicover.registry.importer import NewHousehold, ValidRow

# COPY's text format: a tab between fields, a newline after each row, \N for NULL; a backslash,
# tab, newline or carriage return inside a value must be escaped.
_NULL = "\\N"
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]").search
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

HOUSEHOLD_COLUMNS = ("id", "code", "location_id", "registered_on")
PERSON_COLUMNS = (
    "id", "household_id", "full_name", "given_name", "family_name", "name_script", "sex", "birth_date",
    "national_id", "id_type", "phone", "location_id", "registered_on",
)  # fmt: skip
NAME_FORM_COLUMNS = ("person_id", "folded", "romanised", "sorted_key")
SOURCE_COLUMNS = ("source", "source_row_id", "person_id", "import_run_id")


def _escaped(value: str | None) -> str:
    if value is None:
        return _NULL
    return value.translate(_ESCAPES)


def allocate_ids(session: Session, *, persons: int, households: int) -> tuple[list[int], list[int]]:
    """Fresh person and household ids from their sequences, in one round trip."""
    if persons == 0 and households == 0:
        return [], []
    person_ids, household_ids = session.execute(
        text(
            "SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('persons', 'id')) FROM generate_series(1, :persons)), "
            "ARRAY(SELECT nextval(pg_get_serial_sequence('households', 'id')) FROM generate_series(1, :households))"
        ),
        {"persons": persons, "households": households},
    ).one()
    return list(person_ids), list(household_ids)


def prefer_index_lookups(session: Session) -> None:
    """Make the rest of this (read-only) transaction look keys up through the indexes.

    Validation asks for a batch's tens of thousands of national IDs, household codes and row ids
    with ``= ANY(array)``. Above a few thousand keys PostgreSQL's cost model, made for disks,
    plans a (parallel) scan of the whole table instead of index probes: half a second a batch at
    a million persons, and growing with the registry, where the probes cost a third of that and
    grow only with the batch.
    """
    session.execute(text("SET LOCAL enable_seqscan = off"))
    session.execute(text("SET LOCAL enable_bitmapscan = off"))


@dataclass(frozen=True)
class CopyBatch:
    """One batch as COPY text (UTF-8), ready to send."""

    households: bytes
    persons: bytes
    name_forms: bytes
    sources: bytes
    household_count: int
    person_count: int


def format_copy_batch(
    *,
    good: list[ValidRow],
    new_households: list[NewHousehold],
    source: str,
    run_id: int,
    name_forms: Callable[[str], tuple[str, str, str]],
) -> CopyBatch:
    """The COPY payloads of a validated batch whose persons and new households have their ids;
    ``name_forms``: a full name's (folded, romanised, sorted key), e.g. an
    :class:`~equicover.registry.import_names.ImportNameForms`."""
    household_lines = []
    for household in new_households:
        code = household.code if not _NEEDS_ESCAPE(household.code) else _escaped(household.code)
        household_lines.append(
            f"{household.id}\t{code}\t{household.location_id}\t{household.registered_on.isoformat()}\n"
        )

    quoted_source = _escaped(source)
    person_lines = []
    form_lines = []
    source_lines = []
    for row in good:
        person_id = row.person_id
        household_id = row.stored_household_id()
        folded, romanised, key = name_forms(row.full_name)
        full_name, given, family, national_id, id_type, phone = (
            row.full_name, row.given_name, row.family_name, row.national_id, row.id_type, row.phone,
        )  # fmt: skip
        row_id = row.source_row_id
        # One search over the row's free text instead of one per field: escaping is rare.
        if _NEEDS_ESCAPE(
            f"{full_name}{given or ''}{family or ''}{national_id or ''}{id_type or ''}{phone or ''}{row_id}"
        ):
            full_name, row_id = _escaped(full_name), _escaped(row_id)
            given, family, national_id, id_type, phone = (
                _escaped(value) if value is not None else None for value in (given, family, national_id, id_type, phone)
            )
        person_lines.append(
            f"{person_id}\t{household_id}\t{full_name}\t{given or _NULL}\t{family or _NULL}\t"
            f"{row.name_script or _NULL}\t{row.sex}\t{row.birth_date.isoformat()}\t{national_id or _NULL}\t"
            f"{id_type or _NULL}\t{phone or _NULL}\t{row.location_id}\t{row.registered_on.isoformat()}\n"
        )
        # The folded form keeps only word characters and spaces, the romanised ones only [a-z0-9 ].
        form_lines.append(f"{person_id}\t{folded}\t{romanised}\t{key}\n")
        source_lines.append(f"{quoted_source}\t{row_id}\t{person_id}\t{run_id}\n")
    return CopyBatch(
        households="".join(household_lines).encode(),
        persons="".join(person_lines).encode(),
        name_forms="".join(form_lines).encode(),
        sources="".join(source_lines).encode(),
        household_count=len(household_lines),
        person_count=len(person_lines),
    )


def write_copy_batch(*, session: Session, batch: CopyBatch, actor: str) -> None:
    """COPY the batch in the session's transaction (never commits) and log it as the bulk path does.

    A row the database refuses (a constraint, e.g. a national ID another writer registered
    meanwhile, or a value too long for its column) raises
    :class:`~equicover.errors.ValidationFailed` naming the table and the constraint, never a
    value; the caller's transaction must then be rolled back.
    """
    connection = session.connection()
    # Not waiting for each commit's WAL flush saves a disk sync per batch. A server crash may
    # then lose the last batches committed (a fraction of a second's worth), whole, with their
    # import_runs counts: re-running the file imports them (idempotent per source row).
    connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
    driver_connection = connection.connection.driver_connection
    if driver_connection is None:  # only a connection already closed or invalidated has none
        raise RuntimeError("the session's database connection is closed")
    copies = (
        ("households", HOUSEHOLD_COLUMNS, batch.households),
        ("persons", PERSON_COLUMNS, batch.persons),
        ("person_name_forms", NAME_FORM_COLUMNS, batch.name_forms),
        ("person_sources", SOURCE_COLUMNS, batch.sources),
    )
    with driver_connection.cursor() as cursor:
        for table, columns, payload in copies:
            if not payload:
                continue
            try:
                with cursor.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
                    copy.write(payload)
            except (psycopg.IntegrityError, psycopg.DataError) as error:
                # The constraint's name, or the kind of data error (e.g. StringDataRightTruncation).
                constraint = getattr(error.diag, "constraint_name", None) or type(error).__name__
                raise ValidationFailed(
                    f"{table} (bulk load)", constraint, "a row breaks a constraint or a column's type"
                ) from None
    # The same change-log rows as bulk_insert_households / bulk_insert_persons write.
    for entity, written in (("households", batch.household_count), ("persons", batch.person_count)):
        if written:
            record_change(
                session=session, actor=actor, entity=entity, entity_id=None, action="bulk_load", after={"rows": written}
            )


def analyze_import_tables(session: Session) -> None:
    """Planner statistics for the tables an import filled (what ``bulk_insert_rows`` does after
    each load, done once per import instead of once per batch and table)."""
    for table in ("households", "persons", "person_name_forms", "person_sources"):
        session.execute(text(f'ANALYZE "{table}"'))


__all__ = [
    "CopyBatch",
    "allocate_ids",
    "analyze_import_tables",
    "format_copy_batch",
    "prefer_index_lookups",
    "write_copy_batch",
]
