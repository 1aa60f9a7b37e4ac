"""Migrations build the schema from empty, go down to nothing and up again, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from equicover.db.engine import make_engine
from equicover.db.migrate import current_revision, downgrade, head_revision, upgrade
from equicover.registry.models import STANDARD_CATEGORIES
from equicover.tables import all_tables

# Every table the models declare, and nothing else: a model without a migration (or the reverse)
# shows up here as well as in the compare_metadata test below.
EXPECTED_TABLES = set(all_tables().tables)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_then_down_to_base_and_up_again(empty_db_url: str) -> None:
    assert _tables(empty_db_url) == set()
    assert current_revision(empty_db_url) is None

    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    assert _tables(empty_db_url) == EXPECTED_TABLES

    downgrade(empty_db_url, revision="base")
    assert current_revision(empty_db_url) is None
    assert _tables(empty_db_url) == set()

    upgrade(empty_db_url)
    assert _tables(empty_db_url) == EXPECTED_TABLES
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            seeded = set(connection.scalars(text("SELECT code FROM categories")))
    finally:
        engine.dispose()
    assert seeded == set(STANDARD_CATEGORIES)


def test_upgrade_twice_is_harmless(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()


def test_migrated_schema_matches_the_models(db_engine) -> None:
    """No drift: what the migrations build is exactly what the models declare."""
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, all_tables())
    assert differences == []


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
    finally:
        engine.dispose()
