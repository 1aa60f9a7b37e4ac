"""``equicover db ...``: migrate the configured database."""

from __future__ import annotations

import typer

from equicover.console import make_console
from equicover.db import migrate
from equicover.db.settings import database_url, shown_url

db_app = typer.Typer(help="Database schema: migrate and inspect.", no_args_is_help=True)
_console = make_console()


@db_app.command()
def upgrade(revision: str = typer.Option("head", help="Target revision (default: the latest).")) -> None:
    """Migrate the database (EQUICOVER_DATABASE_URL, default ./equicover.db) up to REVISION."""
    url = database_url()
    before = migrate.current_revision(url)
    migrate.upgrade(url, revision=revision)
    after = migrate.current_revision(url)
    _console.print(f"[green]database[/] {shown_url(url)}: {before or 'empty'} -> {after}")


@db_app.command()
def current() -> None:
    """Show the revision the database is at and the latest one available."""
    url = database_url()
    revision = migrate.current_revision(url)
    head = migrate.head_revision()
    state = "up to date" if revision == head else "needs `equicover db upgrade`"
    _console.print(f"database {shown_url(url)}: revision {revision or 'none'} (latest {head}) - {state}")
