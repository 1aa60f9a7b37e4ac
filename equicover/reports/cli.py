"""``equicover report``: programme indicators and the semi-annual report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from equicover.commands import console, parse_date, scheme_money, unit_of_work

report_app = typer.Typer(no_args_is_help=True, help="Programme indicators and the semi-annual report.")
CURRENCY_HELP = "Default: the currency of the schemes in force in the period (another is refused)."


@report_app.command("indicators")
def indicators(
    start: str = typer.Option(..., "--from"),
    end: str = typer.Option(..., "--to"),
    by: str = typer.Option("district", "--by"),
) -> None:
    """Programme indicators by area for a period."""
    from equicover.reports.indicators import compute_indicators

    with unit_of_work() as session:
        rows = compute_indicators(
            session=session, starts=parse_date(start, "--from"), ends=parse_date(end, "--to"), by=by
        )
    _print_indicators(rows, f"Indicators {start} to {end}")


def _print_indicators(rows: list[Any], title: str) -> None:
    from equicover.reports.service import INDICATOR_COLUMNS

    table = Table(title=title)
    for name, _ in INDICATOR_COLUMNS:
        table.add_column(name, justify="left" if name == "Area" else "right")
    for row in rows:
        table.add_row(*[cell(row, None) for _, cell in INDICATOR_COLUMNS])
    console.print(table)


@report_app.command("synthetic-consumption")
def synthetic_consumption(
    year: int = typer.Option(..., "--year"),
    seed: int = typer.Option(1, "--seed"),
    currency: str | None = typer.Option(None, "--currency", help=CURRENCY_HELP),
) -> None:
    """Synthetic household consumption for a synthetic province (for SDG 3.8.2 catastrophic spending)."""
    from equicover.claims.service import money_in_force
    from equicover.reports import service

    with unit_of_work() as session:
        _, digits = scheme_money(
            money_in_force(session=session, starts=dt.date(year, 1, 1), ends=dt.date(year, 12, 31)), currency
        )
        added = service.synthesize_household_consumption(session=session, year=year, seed=seed, minor_digits=digits)
    console.print(f"Gave {added:,} households a synthetic consumption for {year}.")


@report_app.command("semiannual")
def semiannual(
    year: int = typer.Option(..., "--year"),
    half: int = typer.Option(..., "--half", min=1, max=2),
    out: Path = typer.Option(Path("."), "--out", file_okay=False),
    by: str = typer.Option("district", "--by"),
    currency: str | None = typer.Option(None, "--currency", help=CURRENCY_HELP),
) -> None:
    """The semi-annual implementation status report, as XLSX and PDF."""
    from equicover.claims.service import money_in_force
    from equicover.reports import service

    starts, ends = service.half_year(year, half)
    with unit_of_work() as session:
        chosen, digits = scheme_money(money_in_force(session=session, starts=starts, ends=ends), currency)
        with console.status("Computing the report..."):
            report = service.semiannual_report(
                session=session, year=year, half=half, by=by, currency=chosen, minor_digits=digits
            )
    stem = out / f"semiannual-{year}-H{half}"
    xlsx = service.write_xlsx(report, stem.with_suffix(".xlsx"))
    pdf = service.write_pdf(report, stem.with_suffix(".pdf"))
    _print_indicators(report.indicators, f"Semi-annual report {year} H{half}")
    console.print(f"Wrote {xlsx} and {pdf}")


@report_app.command("dashboard-totals")
def dashboard_totals_command(
    rebuild: bool = typer.Option(False, "--rebuild", help="Recount every total from the stored claims."),
) -> None:
    """Bring the dashboard's running totals up to date (``--rebuild``: recount them from the claims,
    e.g. after persons moved district: their past visits stay where they were counted)."""
    from equicover.reports import dashboard_totals

    with unit_of_work() as session:
        result = (dashboard_totals.rebuild if rebuild else dashboard_totals.fold)(session=session)
        state = dashboard_totals.fold_state(session=session)
    console.print(
        f"Counted {result.claims:,} claims and {result.reversals:,} reversals; totals up to claim "
        f"{state.claims_upto:,} and change {state.changes_upto:,} ({state.holes:,} ids awaited)."
    )


@report_app.command("financing")
def financing(
    start: str = typer.Option(..., "--from"),
    end: str = typer.Option(..., "--to"),
    currency: str | None = typer.Option(None, "--currency", help="Default: the only currency of the funds."),
    earmarked: list[str] = typer.Option(
        ["transplant"], "--earmarked", help="A fund reported apart (repeat the option for several)."
    ),
) -> None:
    """The financing mix from the ledger: each source's contributions, its share and the payments it financed."""
    from equicover.commands import money_formatter
    from equicover.reports.financing import financing_report

    with unit_of_work() as session:
        report = financing_report(
            session=session,
            starts=parse_date(start, "--from"),
            ends=parse_date(end, "--to"),
            currency=currency,
            earmarked=earmarked,
        )
    money = money_formatter(report.minor_digits)
    table = Table(title=f"Financing {report.starts} to {report.ends} ({report.currency})")
    for column in ("Source", "Contributions", "Share %", "Payments financed"):
        table.add_column(column, justify="left" if column == "Source" else "right")
    for row in report.sources:
        share = "" if row.share is None else f"{100 * row.share:.1f}"
        table.add_row(row.source, money(row.contributions), share, money(row.financed))
    table.add_row("All sources", money(report.total_contributions), "100.0" if report.sources else "", "")
    console.print(table)
    for use, amount in report.payments.items():
        console.print(f"Payments, {use}: {money(amount)} {report.currency}")
    if report.unattributed:
        console.print(f"Paid from balances of earlier periods: {money(report.unattributed)} {report.currency}")
    for fund in report.earmarked:
        received = ", ".join(f"{source} {money(amount)}" for source, amount in fund.contributions.items()) or "none"
        paid = ", ".join(f"{use} {money(amount)}" for use, amount in fund.payments.items()) or "none"
        console.print(f"Earmarked fund {fund.fund}: received {received}; paid {paid} ({report.currency})")
