"""Set-based bulk loading shared by the domain services' ``bulk_insert_*`` functions.

Rows come either as a sequence of mappings (``[{"id": 1, "code": "H1", ...}, ...]``) or as
columns (``{"id": [1, 2, ...], "code": ["H1", "H2", ...]}``; numpy arrays are accepted and
converted with ``tolist()``, so ``datetime64[D]`` arrays become dates). Date columns accept
``datetime.date`` or ISO ``YYYY-MM-DD`` text.

SQLite: one prepared ``INSERT`` run with the driver's executemany, in chunks. PostgreSQL: ``COPY ... FROM STDIN``
through psycopg 3 on the session's own connection (same transaction), which is several times
faster than INSERT for millions of rows. Either way the rows are written in the caller's
transaction: nothing is committed here.

Explicit ``id`` values are allowed (the generator needs them to link persons to households
without reading ids back); on PostgreSQL the id sequence is moved past the largest id afterwards
so later ordinary inserts do not collide.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Date, Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from equicover.errors import ValidationFailed

Rows = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]
DEFAULT_CHUNK_SIZE = 20_000
BULK_SQLITE_CACHE_KIB = 1_048_576
ANALYZE_AFTER_ROWS = 10_000


def iter_row_chunks(rows: Rows, chunk_size: int) -> Iterator[list[dict[str, Any]]]:
    """Yield lists of at most ``chunk_size`` dicts from row or column input."""
    if isinstance(rows, Mapping):
        columns = {name: (values.tolist() if hasattr(values, "tolist") else list(values)) for name, values in rows.items()}
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


def _coerce_dates(table: Table, chunk: list[dict[str, Any]]) -> None:
    date_columns = [column.name for column in table.columns if isinstance(column.type, Date)]
    if not chunk:
        return
    present = [name for name in date_columns if name in chunk[0]]
    for name in present:
        for row in chunk:
            value = row[name]
            if type(value) is not dt.date and value is not None:
                row[name] = _as_date(value)


def bulk_insert_rows(
    session: Session,
    table: Table,
    rows: Rows | Iterable[Mapping[str, Any]],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    prepare: Any = None,
) -> int:
    """Insert ``rows`` into ``table`` in chunks; return how many rows were written.

    ``prepare(chunk)`` may fill derived columns in place before a chunk is written. A constraint
    violation (unknown foreign key, duplicate key, failed check) is raised as
    :class:`~equicover.errors.ValidationFailed` naming the table; the caller's transaction is
    then unusable and must be rolled back.
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
        for chunk in iter_row_chunks(rows, chunk_size):  # type: ignore[arg-type]
            if prepare is not None:
                prepare(chunk)
            _coerce_dates(table, chunk)
            has_explicit_ids = has_explicit_ids or ("id" in chunk[0] and "id" in table.c)
            if backend == "postgresql":
                _copy_chunk(connection, table, chunk)
            elif backend == "sqlite":
                _sqlite_executemany(connection, table, chunk)
            else:
                connection.execute(insert(table), chunk)
            written += len(chunk)
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


def _integrity_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return (IntegrityError, sqlite3.IntegrityError)
    # The fast paths use the driver directly, so its errors are not wrapped by SQLAlchemy.
    return (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError)


def with_defaults(chunk: list[dict[str, Any]], defaults: Mapping[str, Any]) -> None:
    """Give every row of ``chunk`` each key of ``defaults`` it lacks (executemany needs one shape)."""
    for row in chunk:
        for name, value in defaults.items():
            if name not in row:
                row[name] = value


def _constraint_hint(error: IntegrityError) -> str:
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


def _sqlite_executemany(connection: Any, table: Table, chunk: list[dict[str, Any]]) -> None:
    """executemany straight on the sqlite3 cursor, in the session's transaction.

    SQLAlchemy's per-row parameter processing costs more than SQLite's own insert work at this
    volume, so rows are bound here as tuples. Dates are written as ISO text, exactly as
    SQLAlchemy's SQLite ``Date`` type stores them, so ORM reads see the same values.
    """
    names = list(chunk[0])
    _check_columns(table, names)
    date_positions = [index for index, name in enumerate(names) if isinstance(table.c[name].type, Date)]
    if date_positions:
        def bound(row: dict[str, Any]) -> tuple[Any, ...]:
            values = [row[name] for name in names]
            for index in date_positions:
                if values[index] is not None:
                    values[index] = values[index].isoformat()
            return tuple(values)
        parameters = [bound(row) for row in chunk]
    else:
        parameters = [tuple(row[name] for name in names) for row in chunk]
    column_list = ", ".join(f'"{name}"' for name in names)
    placeholders = ", ".join("?" for _ in names)
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({column_list}) VALUES ({placeholders})', parameters)
    finally:
        cursor.close()


def _copy_chunk(connection: Any, table: Table, chunk: list[dict[str, Any]]) -> None:
    names = list(chunk[0])
    _check_columns(table, names)
    driver_connection = connection.connection.driver_connection
    column_list = ", ".join(f'"{name}"' for name in names)
    with driver_connection.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy:
            for row in chunk:
                copy.write_row([row[name] for name in names])


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
