"""Database fixtures shared by the database-backed tests.

Nothing here is autouse: a test touches a database only if it asks for ``session``,
``session_factory``, ``db_engine``, ``db_url`` or ``empty_db_url``.

Every database fixture is parametrised over two backends:
- ``sqlite``: a temporary file;
- ``postgresql`` (marked ``postgres``): a database created for this test session and this xdist
  worker on the server at ``EQUICOVER_TEST_POSTGRES_URL`` (default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), dropped at the end.

If PostgreSQL cannot be reached the postgresql tests fail. Outside CI (env ``CI`` not "true"),
``EQUICOVER_SKIP_POSTGRES=1`` turns that failure into a loud skip for a laptop without a server.

Schemas are built with the Alembic migrations, never ``create_all``. Each test runs inside a
transaction that is rolled back afterwards; code under test that commits (``session_scope``)
commits a SAVEPOINT inside it, so tests stay isolated and fast.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import equicover.auth.service as _auth_service
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade

# Tests hash many passwords: use the cheapest argon2id parameters (production keeps the library's defaults).
_auth_service._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def _admin_url() -> str:
    return os.environ.get("EQUICOVER_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)


def _postgres_unreachable(reason: str) -> None:
    in_ci = os.environ.get("CI", "").strip().lower() == "true"
    if os.environ.get("EQUICOVER_SKIP_POSTGRES") == "1" and not in_ci:
        pytest.skip(
            f"!!! PostgreSQL tests SKIPPED because EQUICOVER_SKIP_POSTGRES=1: {reason}. "
            "These tests are part of the suite; run them before calling anything done. !!!"
        )
    pytest.fail(
        f"PostgreSQL is required by the test suite and could not be reached at "
        f"{make_url(_admin_url()).render_as_string(hide_password=True)}: {reason}. "
        "Start it, point EQUICOVER_TEST_POSTGRES_URL at a server, or (outside CI only) set "
        "EQUICOVER_SKIP_POSTGRES=1 to skip these tests.",
        pytrace=False,
    )


def _admin_engine() -> Engine:
    url = make_url(_admin_url())
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})


def _create_postgres_database(label: str) -> str:
    """Create a fresh database; return its URL. Fails (or loudly skips) if the server is unreachable."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"equicover_test_{label}_{worker}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # any failure to reach or use the server means the same thing here
        _postgres_unreachable(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    finally:
        admin.dispose()
    url = make_url(_admin_url()).set(database=name)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    admin = _admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _fresh_database(backend: str, label: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp(label) / 'equicover.db'}"
    return _create_postgres_database(label)


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a database migrated to the latest revision, shared by this test run's worker."""
    backend = request.param
    url = _fresh_database(backend, "shared", tmp_path_factory)
    try:
        upgrade(url)
        yield url
    finally:
        if backend == "postgresql":
            _drop_postgres_database(url)


@pytest.fixture(scope="session")
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(db_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions bound to one connection whose outer transaction is rolled back after the test.

    ``session.commit()`` / ``rollback()`` inside the test act on a SAVEPOINT, so
    :func:`equicover.db.session.session_scope` behaves as in production (commit once or roll
    back everything) while the test leaves nothing behind.
    """
    connection = db_engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield factory
    finally:
        if outer.is_active:
            outer.rollback()
        connection.close()


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session inside the test's rolled-back transaction."""
    with session_factory() as opened:
        yield opened


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a brand-new, empty database (not migrated), dropped after the test."""
    backend = request.param
    url = _fresh_database(backend, "empty", tmp_path_factory)
    try:
        yield url
    finally:
        if backend == "postgresql":
            _drop_postgres_database(url)


@pytest.fixture
def geo(session: Session) -> dict[str, object]:
    """A small location tree, by code (``tests.factories.SMALL_TREE``):

    VN (country) - LC (province) - D1 (district) - C11, C12 (communes)
                                 - D2 (district) - N21 (neighbourhood)
    """
    from tests.factories import locations

    return dict(locations(session))


def count_rows(factory: sessionmaker[Session], *tables: str) -> dict[str, int]:
    """Row counts of ``tables``, read through a new session (what is really stored)."""
    with factory() as reader:
        return {name: reader.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one() for name in tables}


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """URL of a migrated SQLite file that the ``equicover`` commands use (``EQUICOVER_DATABASE_URL``)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("EQUICOVER_DATABASE_URL", url)
    return url


@pytest.fixture
def row_counts(session_factory: sessionmaker[Session]):
    """``row_counts("persons", ...)`` -> {table: count} as stored now."""
    return lambda *tables: count_rows(session_factory, *tables)
