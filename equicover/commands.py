"""What every command of the command line shares: the console, option parsing, the unit of work.

A command is one unit of work (:func:`unit_of_work`: commit once, roll back on error) and prints
an error without a traceback on bad input: exit 1 for a refusal, 2 for a malformed option.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
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
# Counted in when a command has neither a currency named nor a scheme's policy to go by.
DEFAULT_CURRENCY = "CNY"
ACTOR_OPTION = typer.Option("cli", "--actor", help="Who does this (kept in the change log).")


def parse_date(value: str, option: str) -> dt.date:
    """An ISO date given to ``option``, or exit 2 with the reason."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        console.print(f"[red]{option}: {value!r} is not an ISO date (YYYY-MM-DD)[/]")
        raise typer.Exit(2) from None


def parse_amount(value: str, minor_digits: int, option: str) -> int:
    """An amount in major units given to ``option``, as minor units (``minor_digits``), or exit 2."""
    try:
        return parse_money(value, minor_digits)
    except MoneyError as error:
        console.print(f"[red]{option}: {error}[/]")
        raise typer.Exit(2) from None


def currency_digits(currency: str, option: str = "--currency") -> int:
    """The ISO 4217 minor digits of a currency named on the command line, or exit 2: an unknown
    currency has no digits to guess (a policy or a scheme states them)."""
    try:
        return minor_digits_of(currency)
    except MoneyError as error:
        console.print(f"[red]{option}: {error}[/]")
        raise typer.Exit(2) from None


def scheme_money(
    known: Sequence[tuple[str, int]], currency: str | None, option: str = "--currency", of: str = "the schemes"
) -> tuple[str, int]:
    """The currency and minor digits a command counts in: those of the schemes ``known`` (stored
    policy versions), the one named by ``option`` among them, or, with no scheme known, the
    named currency (default ``DEFAULT_CURRENCY``) with its ISO digits. A currency that is not a
    known scheme's exits 1; several schemes' currencies and none named exits 2."""
    if currency is not None:
        for pair in known:
            if pair[0] == currency:
                return pair
        if known:
            names = ", ".join(name for name, _ in known)
            console.print(f"[red]{option}: {currency} is not the currency of {of} ({names})[/]")
            raise typer.Exit(1)
        return currency, currency_digits(currency, option)
    if len(known) == 1:
        return known[0]
    if not known:
        return DEFAULT_CURRENCY, currency_digits(DEFAULT_CURRENCY, option)
    console.print(f"[red]{option}: the schemes pay in {', '.join(name for name, _ in known)}: name one[/]")
    raise typer.Exit(2)


def money_formatter(minor_digits: int) -> Callable[[int], str]:
    """Formats minor units as a decimal string in major units with ``minor_digits``."""
    return lambda amount: format_money(int(amount), minor_digits)


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
