"""Run Alembic migrations programmatically (the scripts ship inside the package).

``upgrade(url)`` brings a database, empty or not, to the latest revision; this is the only way
equicover creates its tables (no ``create_all`` outside tests of the models themselves).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError

from equicover.db.engine import make_engine
from equicover.db.settings import database_url

# The scripts live in equicover/migrations, above every domain: their environment sees every table.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged scripts; ``env.py`` uses ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The URL goes through attributes rather than the ini option: ini interpolation mangles '%'.
    config.attributes["database_url"] = url
    config.attributes["connection"] = connection
    return config


def _run(url: str | None, engine: Engine | None, action: Callable[[Config], None]) -> None:
    own_engine = engine is None
    engine = engine or make_engine(url or database_url())
    try:
        with engine.connect() as connection:
            if connection.dialect.name != "sqlite":
                with connection.begin():
                    action(alembic_config(connection=connection))
                return
            with foreign_keys_off(connection):
                with connection.begin():
                    action(alembic_config(connection=connection))
                    check_foreign_keys(connection)
    finally:
        if own_engine:
            engine.dispose()


@contextmanager
def foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite cannot alter a constraint: a migration rebuilds the table (copy, drop, rename), and
    dropping a table that other tables refer to fails, or empties theirs, while foreign keys are
    enforced. The pragma only takes effect outside a transaction, hence on the driver's connection
    before the migrations' transaction begins; :func:`check_foreign_keys` then checks every reference."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys = ON")


def check_foreign_keys(connection: Connection) -> None:
    """Refuse (and so roll back) a migration that left a row referring to nothing."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise RuntimeError(f"the migration left {len(broken)} broken references, in tables: {', '.join(tables)}")


def upgrade(url: str | None = None, *, revision: str = "head", engine: Engine | None = None) -> None:
    """Migrate the database at ``url`` (default: the configured one) up to ``revision``."""
    _run(url, engine, lambda config: command.upgrade(config, revision))


def downgrade(url: str | None = None, *, revision: str = "base", engine: Engine | None = None) -> None:
    """Migrate down to ``revision`` (``"base"`` drops every equicover table)."""
    _run(url, engine, lambda config: command.downgrade(config, revision))


def current_revision(url: str | None = None, *, engine: Engine | None = None) -> str | None:
    """The revision the database is at (``None`` for a database never migrated)."""
    own_engine = engine is None
    engine = engine or make_engine(url or database_url())
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if own_engine:
            engine.dispose()


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads: {heads}")
    return heads[0]


def readiness_problem(url: str | None = None) -> str | None:
    """Why the database at ``url`` (default: the configured one) cannot be served as it is, or
    None: a SQLite file that does not exist (connecting would create it empty), a database never
    migrated, or one at another revision than this version's."""
    url = url or database_url()
    parsed = make_url(url)
    on_disk = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
    if on_disk and not Path(str(parsed.database)).exists():
        return f"no database file {parsed.database} here"
    try:
        revision = current_revision(url)
    except OperationalError as error:
        return f"cannot connect to it ({type(error.orig).__name__})"
    head = head_revision()
    if revision is None:
        return "the database holds no equicover tables"
    if revision != head:
        return f"the database is at revision {revision}; this version needs {head}"
    return None
