"""Set-based bulk loading shared by the domain services' ``bulk_insert_*`` functions.

Rows come either as a sequence of mappings (``[{"id": 1, "code": "H1", ...}, ...]``) or as
columns (``{"id": [1, 2, ...], "code": ["H1", "H2", ...]}``; numpy arrays are accepted, a
``datetime64`` array as dates with ``NaT`` for none). Date columns accept ``datetime.date`` or
ISO ``YYYY-MM-DD`` text.

Rows are carried as columns and zipped into tuples for the driver, never as one dict per row:
at millions of rows, building and reading dicts cost more than the database's own work. Dates
are converted a column at a time (a numpy ``datetime64`` column in one vectorised call).

SQLite: multi-row ``INSERT`` statements (hundreds of rows each) run with the driver's
executemany. PostgreSQL: ``COPY ... FROM STDIN`` through psycopg 3 on the session's own
connection (same transaction), which is several times faster than INSERT for millions of rows.
Either way the rows are written in the caller's transaction: nothing is committed here.

Explicit ``id`` values are allowed (the generator needs them to link persons to households
without reading ids back); on PostgreSQL the id sequence is moved past the largest id afterwards
so later ordinary inserts do not collide.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, islice
from typing import Any, overload

import numpy as np
from sqlalchemy import Date, Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from equicover.errors import ValidationFailed

Columns = Mapping[str, Sequence[Any] | np.ndarray]
Rows = Sequence[Mapping[str, Any]] | Columns
DEFAULT_CHUNK_SIZE = 20_000
BULK_SQLITE_CACHE_KIB = 1_048_576
# A PostgreSQL bulk load of fewer rows is not followed by ANALYZE: below that, the defaults plan
# well enough; a few thousand enrolments without statistics are scanned whole per claim.
ANALYZE_AFTER_ROWS = 1_000
# Rows per SQLite INSERT statement (fewer when the columns would pass SQLite's bound-variable limit).
SQLITE_ROWS_PER_STATEMENT = 500


def iter_row_chunks(rows: Rows, chunk_size: int) -> Iterator[list[dict[str, Any]]]:
    """Yield lists of at most ``chunk_size`` dicts from row or column input."""
    if isinstance(rows, Mapping):
        columns = {
            name: (values.tolist() if hasattr(values, "tolist") else list(values)) for name, values in rows.items()
        }
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns have different lengths: { {k: len(v) for k, v in columns.items()} }")
        names = list(columns)
        total = lengths.pop() if lengths else 0
        for start in range(0, total, chunk_size):
            stop = min(start + chunk_size, total)
            slices = [columns[name][start:stop] for name in names]
            yield [dict(zip(names, values)) for values in zip(*slices)]
        return
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(dict(row))
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _as_date(value: Any) -> Any:
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    raise TypeError(f"not a date: {type(value).__name__}")


class CopyOf:
    """A column default: the same row's value of another column (e.g. ``registered_on`` = ``birth_date``)."""

    def __init__(self, column: str) -> None:
        self.column = column


_MISSING = object()


# Two signatures, columns or rows, so that a dict of columns written in the call is read as one
# (a dict is also an iterable, which would leave its type undecided between the two).
@overload
def bulk_insert_rows(
    session: Session,
    table: Table,
    rows: Columns,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    prepare: Any = None,
    defaults: Mapping[str, Any] | None = None,
) -> int: ...
@overload
def bulk_insert_rows(
    session: Session,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    prepare: Any = None,
    defaults: Mapping[str, Any] | None = None,
) -> int: ...
def bulk_insert_rows(
    session: Session,
    table: Table,
    rows: Columns | Iterable[Mapping[str, Any]],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    prepare: Any = None,
    defaults: Mapping[str, Any] | None = None,
) -> int:
    """Insert ``rows`` into ``table`` in chunks; return how many rows were written.

    ``defaults`` gives a value (or :class:`CopyOf` another column) to rows lacking a column.
    ``prepare(chunk)`` may fill derived columns in place, on a list of row dicts, before a
    chunk is written; it is for small loads with per-row logic (locations), since it brings back
    the dict per row. A constraint violation (unknown foreign key, duplicate key, failed check)
    is raised as :class:`~equicover.errors.ValidationFailed` naming the table; the caller's
    transaction is then unusable and must be rolled back. Rows written with explicit ids move
    the table's PostgreSQL id sequence past them (:func:`sync_id_sequence`).
    """
    connection = session.connection()
    backend = connection.dialect.name
    written = 0
    has_explicit_ids = False
    restore_cache_size = None
    if backend == "sqlite":
        # With the default page cache, index pages of a million-row load spill to the WAL and
        # are read back again and again; a large cache (allocated only as used) avoids that.
        restore_cache_size = connection.exec_driver_sql("PRAGMA cache_size").scalar()
        connection.exec_driver_sql(f"PRAGMA cache_size = {-BULK_SQLITE_CACHE_KIB}")
    try:
        if prepare is None:
            chunks: Iterable[tuple[list[str], Iterable[tuple[Any, ...]]]] = _column_chunks(
                *_as_columns(table, rows, defaults or {}), chunk_size
            )
        else:
            chunks = _prepared_chunks(table, rows, chunk_size, prepare, defaults or {})
        for names, chunk in chunks:
            if not names:
                continue
            has_explicit_ids = has_explicit_ids or ("id" in names and "id" in table.c)
            if backend == "postgresql":
                written += _copy_chunk(connection, table, names, chunk)
            elif backend == "sqlite":
                written += _sqlite_executemany(connection, table, names, chunk)
            else:
                batch = [dict(zip(names, values)) for values in chunk]
                if batch:
                    connection.execute(insert(table), batch)
                written += len(batch)
    except _integrity_errors() as error:
        raise ValidationFailed(
            f"{table.name} (bulk load)", _constraint_hint(error), "a row breaks a constraint"
        ) from None
    finally:
        if restore_cache_size is not None:
            connection.exec_driver_sql(f"PRAGMA cache_size = {int(restore_cache_size)}")
    if backend == "postgresql" and has_explicit_ids and written:
        sync_id_sequence(session, table)
    if backend == "postgresql" and written >= ANALYZE_AFTER_ROWS:
        # Fresh bulk data has no planner statistics until autovacuum gets to it; without them
        # PostgreSQL plans the coverage joins as nested loops over millions of rows.
        connection.exec_driver_sql(f'ANALYZE "{table.name}"')
    return written


def _column_chunks(
    names: list[str], columns: list[list[Any]], count: int, chunk_size: int
) -> Iterator[tuple[list[str], Iterator[tuple[Any, ...]]]]:
    """Successive ``chunk_size`` rows of the columns, as tuples zipped on the fly."""
    rows = zip(*columns)
    for _ in range(0, count, chunk_size):
        yield names, islice(rows, chunk_size)


def _prepared_chunks(
    table: Table, rows: Any, chunk_size: int, prepare: Any, defaults: Mapping[str, Any]
) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
    for chunk in iter_row_chunks(rows, chunk_size):
        for row in chunk:
            for name, default in defaults.items():
                if name not in row:
                    row[name] = row[default.column] if isinstance(default, CopyOf) else default
        prepare(chunk)
        names = list(chunk[0])
        _check_columns(table, names)
        columns = [_column_values(table, name, [row.get(name) for row in chunk]) for name in names]
        yield names, list(zip(*columns))


def _as_columns(table: Table, rows: Any, defaults: Mapping[str, Any]) -> tuple[list[str], list[list[Any]], int]:
    """Names, value lists (dates as ISO text) and the row count of row or column input."""
    from_rows = not isinstance(rows, Mapping)
    if from_rows:
        materialised = [row if isinstance(row, Mapping) else dict(row) for row in rows]
        names_seen: dict[str, None] = {}
        for row in materialised:
            names_seen.update(dict.fromkeys(row))
        raw: Mapping[str, Any] = {name: [row.get(name, _MISSING) for row in materialised] for name in names_seen}
    else:
        raw = rows
    lengths = {name: len(values) for name, values in raw.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns have different lengths: {lengths}")
    count = next(iter(lengths.values()), 0)
    _check_columns(table, list(raw))
    columns = {name: _column_values(table, name, values) for name, values in raw.items()}
    for name, default in defaults.items():
        source = columns.get(default.column) if isinstance(default, CopyOf) else None
        if isinstance(default, CopyOf) and source is None:
            continue
        if name not in columns:
            columns[name] = list(source) if source is not None else [default] * count
        elif from_rows:
            columns[name] = [
                (source[index] if source is not None else default) if value is _MISSING else value
                for index, value in enumerate(columns[name])
            ]
    if from_rows:
        # A key absent from some row dicts, without a default: NULL (a NOT NULL column refuses it).
        columns = {name: [None if value is _MISSING else value for value in column] for name, column in columns.items()}
    return list(columns), list(columns.values()), count


def _column_values(table: Table, name: str, values: Any) -> list[Any]:
    """A column as a list of driver values; a date column as ISO text (as SQLAlchemy stores
    dates in SQLite, and as PostgreSQL's COPY reads them)."""
    is_date = isinstance(table.c[name].type, Date)
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "M":
            days = values.astype("datetime64[D]")
            text = np.datetime_as_string(days).astype(object)
            text[np.isnat(days)] = None
            return text.tolist()
        values = values.tolist()
    elif not isinstance(values, list):
        values = list(values)
    if is_date:
        return [_iso_date(value) for value in values]
    return values


def _iso_date(value: Any) -> Any:
    if value is None or value is _MISSING:
        return value
    if type(value) is str and len(value) == 10:
        # Validated (a bad date is refused here, not stored as text) and normalised.
        return dt.date.fromisoformat(value).isoformat()
    return _as_date(value).isoformat()


def _integrity_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return (IntegrityError, sqlite3.IntegrityError)
    # The fast paths use the driver directly, so its errors are not wrapped by SQLAlchemy.
    return (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError)


def _constraint_hint(error: BaseException) -> str:
    driver_error = getattr(error, "orig", None) or error
    diagnostic = getattr(driver_error, "diag", None)
    name = getattr(diagnostic, "constraint_name", None)
    if name:
        return str(name)
    message = str(driver_error).splitlines()[0]
    # SQLite says e.g. "UNIQUE constraint failed: persons.id_type, persons.national_id";
    # only the column list is kept, never values.
    if ":" in message:
        return message.split(":", 1)[1].strip()
    return "constraint"


def _check_columns(table: Table, names: list[str]) -> None:
    unknown = [name for name in names if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {unknown}")


def _sqlite_executemany(connection: Any, table: Table, names: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
    """Multi-row ``INSERT ... VALUES (...), (...), ...`` straight on the sqlite3 cursor, in the
    session's transaction.

    SQLAlchemy's per-row parameter processing costs more than SQLite's own insert work at this
    volume, so rows are bound here as plain values (dates already ISO text, as SQLAlchemy's
    SQLite ``Date`` type stores them, so ORM reads see the same values). Several hundred rows go
    in each statement execution: SQLite builds the lookup table of a ``CHECK (x IN (...))``
    constraint once per execution, which with one row per execution cost more than the insert
    itself (about 4 µs a row for each such constraint), and sqlite3 hands the GIL over once per
    execution instead of once per row, so a second Python thread no longer stalls the load.
    """
    width = len(names)
    values = list(chain.from_iterable(rows))
    count = len(values) // width
    if count == 0:
        return 0
    driver_connection = connection.connection.driver_connection
    variable_limit = driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, min(SQLITE_ROWS_PER_STATEMENT, variable_limit // width))
    column_list = ", ".join(f'"{name}"' for name in names)
    one_row = "(" + ", ".join("?" for _ in names) + ")"

    def statement(row_count: int) -> str:
        return f'INSERT INTO "{table.name}" ({column_list}) VALUES ' + ", ".join([one_row] * row_count)

    step = per_statement * width
    whole = (count // per_statement) * step
    cursor = driver_connection.cursor()
    try:
        if whole:
            cursor.executemany(
                statement(per_statement), (values[start : start + step] for start in range(0, whole, step))
            )
        if whole < len(values):
            cursor.execute(statement((len(values) - whole) // width), values[whole:])
    finally:
        cursor.close()
    return count


def _copy_chunk(connection: Any, table: Table, names: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
    driver_connection = connection.connection.driver_connection
    column_list = ", ".join(f'"{name}"' for name in names)
    written = 0
    with driver_connection.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
    return written


def sync_id_sequence(session: Session, table: Table) -> None:
    """Move a PostgreSQL id sequence past the largest id (after inserts with explicit ids)."""
    if session.connection().dialect.name != "postgresql":
        return
    session.execute(
        text(
            "SELECT setval(pg_get_serial_sequence(:table_name, 'id'), "
            "COALESCE((SELECT MAX(id) FROM " + f'"{table.name}"' + "), 1), "
            "(SELECT MAX(id) FROM " + f'"{table.name}"' + ") IS NOT NULL)"
        ),
        {"table_name": table.name},
    )


def next_id(session: Session, table: Table) -> int:
    """The smallest id above every id in ``table``: where a caller may start allocating ids."""
    return int(session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1
