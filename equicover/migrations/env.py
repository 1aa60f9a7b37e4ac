"""Alembic environment for equicover (run by equicover.db.migrate or the alembic CLI); it sees every table."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from equicover.db.engine import make_engine
from equicover.db.migrate import check_foreign_keys, foreign_keys_off
from equicover.db.settings import database_url
from equicover.tables import all_tables

config = context.config
target_metadata = all_tables()


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url") or database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url") or database_url()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            if connection.dialect.name != "sqlite":
                with context.begin_transaction():
                    context.run_migrations()
                return
            # A table rebuilt on SQLite must not be checked against references while it is rebuilt.
            with foreign_keys_off(connection):
                with context.begin_transaction():
                    context.run_migrations()
                    check_foreign_keys(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
