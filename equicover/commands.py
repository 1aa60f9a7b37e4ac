"""What every command of the command line shares: the console, option parsing, the unit of work.

A command is one unit of work (:func:`unit_of_work`: commit once, roll back on error) and prints
an error without a traceback on bad input: exit 1 for a refusal, 2 for a malformed option.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from sqlalchemy.orm import Session, sessionmaker

from equicover.console import make_console
from equicover.db import migrate
from equicover.db.engine import make_engine
from equicover.db.session import make_session_factory, session_scope
from equicover.db.settings import database_url as configured_database_url
from equicover.errors import EquicoverError
from equicover.money import MoneyError, format_money, minor_digits_of, parse_money

console = make_console()

DATABASE_URL_OPTION = typer.Option(
    None, "--database-url", help="Database (default: EQUICOVER_DATABASE_URL or ./equicover.db)."
)
ACTOR_OPTION = typer.Option("cli", "--actor", help="Who does this (kept in the change log).")


def parse_date(value: str, option: str) -> dt.date:
    """An ISO date given to ``option``, or exit 2 with the reason."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        console.print(f"[red]{option}: {value!r} is not an ISO date (YYYY-MM-DD)[/]")
        raise typer.Exit(2) from None


def parse_amount(value: str, currency: str, option: str) -> int:
    """An amount in major units given to ``option``, as minor units of ``currency``, or exit 2."""
    try:
        return parse_money(value, currency_digits(currency))
    except MoneyError as error:
        console.print(f"[red]{option}: {error}[/]")
        raise typer.Exit(2) from None


def currency_digits(currency: str) -> int:
    try:
        return minor_digits_of(currency)
    except MoneyError:
        return 2


def money_formatter(currency: str) -> Callable[[int], str]:
    """Formats minor units of ``currency`` as a decimal string in major units."""
    digits = currency_digits(currency)
    return lambda amount: format_money(int(amount), digits)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """A session that commits once at the end; a refusal is printed and exits 1."""
    try:
        with session_scope() as session:
            yield session
    except EquicoverError as error:
        console.print(f"[red]{error.message}[/]")
        raise typer.Exit(1) from None


@contextmanager
def migrated_session_factory(url: str | None) -> Iterator[sessionmaker[Session]]:
    """Sessions on ``url`` (default: the configured database), migrated to the latest schema first."""
    resolved = url or configured_database_url()
    migrate.upgrade(resolved)
    engine = make_engine(resolved)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def fail(error: Exception) -> NoReturn:
    """Print a refusal (its message, never its data) and exit 1."""
    message = error.message if isinstance(error, EquicoverError) else f"{type(error).__name__}"
    console.print(f"[red]{message}[/]")
    raise typer.Exit(1)
