"""Engine factory for the two supported databases.

SQLite (embedded default): foreign keys ON (SQLite leaves them off unless asked on every
connection), WAL journal so readers do not block the writer, ``synchronous=NORMAL`` (safe with
WAL), a busy timeout, and SQLAlchemy-emitted ``BEGIN`` so that SAVEPOINTs and transactional DDL
work (Python 3.11's sqlite3 otherwise manages transactions itself and breaks both).

PostgreSQL: psycopg 3. Both ping a pooled connection before handing it out (``pool_pre_ping``): one
the server ended (a restart, ``pg_terminate_backend``, an idle timeout) or that was closed is
replaced by a fresh connection instead of failing the request that drew it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, create_engine, event
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from equicover.db.settings import database_url

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys = ON",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -65536",
)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """A new engine for ``url`` (default: :func:`equicover.db.settings.database_url`)."""
    url = url or database_url()
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, echo=echo, pool_pre_ping=True)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, echo=echo, pool_pre_ping=True)
    raise ValueError(f"unsupported database backend {backend!r}: use sqlite or postgresql+psycopg")


class _UtcSqliteDateTime(SQLITE_DATETIME):
    """SQLite keeps no offset: a ``DateTime(timezone=True)`` (always written in UTC) is read back in
    UTC, as PostgreSQL gives it, so that both databases answer the same RFC 3339 timestamps."""

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        parse = super().result_processor(dialect, coltype)
        if not self.timezone:
            return parse

        def process(value: Any) -> Any:
            value = parse(value) if parse is not None else value
            if isinstance(value, dt.datetime) and value.tzinfo is None:
                return value.replace(tzinfo=dt.UTC)
            return value

        return process


def _configure_sqlite(engine: Engine) -> None:
    engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: _UtcSqliteDateTime}

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")
