"""``equicover coverage``: coverage by district, province or category on a date."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.console import make_console
from equicover.db.session import session_scope
from equicover.enrolment import service
from equicover.enrolment.models import PAYER_KINDS, Scheme
from equicover.enrolment.schemas import CoverageRow
from equicover.errors import EquicoverError
from equicover.money import format_money

_console = make_console()


def coverage(
    date: str = typer.Option(..., "--date", help="The date coverage is measured on (YYYY-MM-DD)."),
    by: str = typer.Option("district", "--by", help="Group by district, province or category."),
    scheme: str | None = typer.Option(None, "--scheme", help="Scheme code (default: any scheme)."),
) -> None:
    """Enrolled / eligible population per group on DATE, with contributions by payer."""
    try:
        on = dt.date.fromisoformat(date)
    except ValueError:
        _console.print(f"[red]--date: {date!r} is not an ISO date (YYYY-MM-DD)[/]")
        raise typer.Exit(2) from None
    try:
        with session_scope() as session:
            scheme_id = service.get_scheme(session=session, code=scheme).id if scheme else None
            rows = service.coverage(session=session, on=on, by=by, scheme_id=scheme_id)
            digits_by_currency = _minor_digits(session)
    except EquicoverError as error:
        _console.print(f"[red]{error.message}[/]")
        raise typer.Exit(1) from None

    currencies = sorted({currency for row in rows for currency in row.amounts})
    table = Table(title=f"Coverage on {on.isoformat()} by {by}" + (f" (scheme {scheme})" if scheme else ""))
    table.add_column(by.capitalize())
    table.add_column("Name")
    table.add_column("Eligible", justify="right")
    table.add_column("Enrolled", justify="right")
    table.add_column("Coverage %", justify="right")
    # Only the payers that paid something: a table that fits a clerk's terminal.
    payer_columns = [
        (currency, kind)
        for currency in currencies
        for kind in PAYER_KINDS
        if any(row.amounts.get(currency, {}).get(kind, 0) for row in rows)
    ]
    for currency, kind in payer_columns:
        table.add_column(f"{kind} ({currency})", justify="right")
    total_eligible = total_enrolled = 0
    for row in rows:
        total_eligible += row.eligible
        total_enrolled += row.enrolled
        amounts = [
            format_money(row.amounts.get(currency, {}).get(kind, 0), digits_by_currency[currency])
            for currency, kind in payer_columns
        ]
        table.add_row(
            row.group_code, row.group_name, f"{row.eligible:,}", f"{row.enrolled:,}", row.percent_text(), *amounts
        )
    _console.print(table)
    if by != "category" and total_eligible:
        overall = CoverageRow("all", "all", total_eligible, total_enrolled)
        _console.print(f"Overall: {total_enrolled:,} of {total_eligible:,} enrolled ({overall.percent_text()} %)")


def _minor_digits(session: Session) -> dict[str, int]:
    """Minor digits per currency, as the schemes using it declare them."""
    return dict(session.execute(select(Scheme.currency, Scheme.minor_digits)).all())
