"""``equicover db ...``: migrate the configured database."""

from __future__ import annotations

import typer
from sqlalchemy.engine import make_url

from equicover.console import make_console
from equicover.db import migrate
from equicover.db.settings import database_url

db_app = typer.Typer(help="Database schema: migrate and inspect.", no_args_is_help=True)
_console = make_console()


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@db_app.command()
def upgrade(revision: str = typer.Option("head", help="Target revision (default: the latest).")) -> None:
    """Migrate the database (EQUICOVER_DATABASE_URL, default ./equicover.db) up to REVISION."""
    url = database_url()
    before = migrate.current_revision(url)
    migrate.upgrade(url, revision=revision)
    after = migrate.current_revision(url)
    _console.print(f"[green]database[/] {_safe_url(url)}: {before or 'empty'} -> {after}")


@db_app.command()
def current() -> None:
    """Show the revision the database is at and the latest one available."""
    url = database_url()
    revision = migrate.current_revision(url)
    head = migrate.head_revision()
    state = "up to date" if revision == head else "needs `equicover db upgrade`"
    _console.print(f"database {_safe_url(url)}: revision {revision or 'none'} (latest {head}) - {state}")
