"""Engine factory for the two supported databases.

SQLite (embedded default): foreign keys ON (SQLite leaves them off unless asked on every
connection), WAL journal so readers do not block the writer, ``synchronous=NORMAL`` (safe with
WAL), a busy timeout, and SQLAlchemy-emitted ``BEGIN`` so that SAVEPOINTs and transactional DDL
work (Python 3.11's sqlite3 otherwise manages transactions itself and breaks both).

PostgreSQL: psycopg 3, pre-ping so a restarted server does not surface as an error.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
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
        engine = create_engine(url, echo=echo)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, echo=echo, pool_pre_ping=True)
    raise ValueError(f"unsupported database backend {backend!r}: use sqlite or postgresql+psycopg")


def _configure_sqlite(engine: Engine) -> None:
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
