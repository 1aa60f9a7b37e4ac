"""``equicover funds``: the fund ledger: post claims and contributions, receive, spend, reverse, balances, flows."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.commands import console, money_formatter, parse_amount, parse_date, scheme_money, unit_of_work

funds_app = typer.Typer(no_args_is_help=True, help="Fund ledger: post, balances, monthly flows.")
CURRENCY_HELP = "Default: the fund's own, or for a new fund the schemes' (another is refused)."


def _fund_money(session: Session, fund: str, currency: str | None) -> tuple[str, int]:
    """An existing fund counts in its own currency and digits; a new one in its schemes'."""
    from equicover.claims.service import money_in_force
    from equicover.ledger.models import Fund

    row = session.scalar(select(Fund).where(Fund.code == fund))
    if row is not None:
        return scheme_money([(row.currency, row.minor_digits)], currency, of=f"fund {fund}")
    return scheme_money(money_in_force(session=session, starts=dt.date.min, ends=dt.date.max), currency)


@funds_app.command("post-claims")
def post_claims(
    up_to: str = typer.Option(..., "--up-to", help="Post claims served on or before this date."),
    currency: str | None = typer.Option(
        None, "--currency", help="Default: the currency of the schemes' policies (another is refused)."
    ),
) -> None:
    """Take stored claims into the ledger (settlements and reversals, once each)."""
    from equicover.claims.service import money_in_force
    from equicover.ledger import service

    day = parse_date(up_to, "--up-to")
    with unit_of_work() as session:
        # New funds are opened in the money the claims were settled in.
        chosen, digits = scheme_money(money_in_force(session=session, starts=dt.date.min, ends=day), currency)
        counts = service.post_claim_settlements(
            session=session, up_to=day, currency=chosen, minor_digits=digits, actor="cli"
        )
    console.print(
        f"Posted {counts['settlement']:,} settlements and {counts['reversal']:,} reversals "
        f"in {counts['entries']:,} entries."
    )


@funds_app.command("post-contributions")
def post_contributions(
    scheme: str = typer.Option(..., "--scheme", help="Scheme code whose paid contributions fund the fund."),
    fund: str = typer.Option(..., "--fund", help="Fund code (a policy layer id, e.g. basic)."),
    name: str | None = typer.Option(None, "--name", help="Fund name, when the fund is new."),
) -> None:
    """Post a scheme's paid contributions (by payer: state budget, local budget, members, ...)."""
    from equicover.enrolment.models import Scheme
    from equicover.ledger import service

    with unit_of_work() as session:
        row = session.scalar(select(Scheme).where(Scheme.code == scheme))
        if row is None:
            console.print(f"[red]scheme {scheme}: unknown scheme[/]")
            raise typer.Exit(1)
        service.ensure_fund(
            session=session, code=fund, name=name or fund, currency=row.currency, minor_digits=row.minor_digits
        )
        posted = service.post_enrolment_contributions(session=session, fund_code=fund, scheme_id=row.id, actor="cli")
    console.print(f"Posted {posted} contribution entr{'y' if posted == 1 else 'ies'} to fund {fund}.")


@funds_app.command("receive")
def receive(
    fund: str = typer.Option(..., "--fund"),
    source: str = typer.Option(
        ...,
        "--source",
        help=(
            "state_budget, local_budget, social_cohesion_fund, territorial_communities, "
            "member_contributions, donors, charity"
        ),
    ),
    amount: str = typer.Option(..., "--amount", help="Major units, e.g. 1000000.00"),
    on: str = typer.Option(..., "--on"),
    currency: str | None = typer.Option(None, "--currency", help=CURRENCY_HELP),
    reference: str | None = typer.Option(None, "--reference"),
) -> None:
    """Record money received by a fund from a source."""
    from equicover.ledger import service

    with unit_of_work() as session:
        chosen, digits = _fund_money(session, fund, currency)
        service.ensure_fund(session=session, code=fund, name=fund, currency=chosen, minor_digits=digits)
        entry = service.record_contribution(
            session=session,
            fund_code=fund,
            source=source,
            amount=parse_amount(amount, digits, "--amount"),
            received_on=parse_date(on, "--on"),
            reference=reference,
            actor="cli",
        )
    console.print(f"Entry {entry.id} posted.")


@funds_app.command("spend")
def spend(
    fund: str = typer.Option(..., "--fund"),
    use: str = typer.Option(..., "--use", help="transplants, administration, allowances, provider_payments"),
    amount: str = typer.Option(..., "--amount"),
    on: str = typer.Option(..., "--on"),
    currency: str | None = typer.Option(None, "--currency", help=CURRENCY_HELP),
    memo: str = typer.Option("", "--memo"),
) -> None:
    """Record money a fund spends outside claims (e.g. the transplants special account)."""
    from equicover.ledger import service

    with unit_of_work() as session:
        _, digits = _fund_money(session, fund, currency)
        entry = service.record_transfer(
            session=session,
            fund_code=fund,
            use=use,
            amount=parse_amount(amount, digits, "--amount"),
            paid_on=parse_date(on, "--on"),
            memo=memo,
            actor="cli",
        )
    console.print(f"Entry {entry.id} posted.")


@funds_app.command("reverse")
def reverse(
    entry_id: int = typer.Argument(...), on: str = typer.Option(..., "--on"), memo: str = typer.Option(..., "--memo")
) -> None:
    """Correct an entry by a reversing entry (entries are never changed or deleted)."""
    from equicover.ledger import service

    with unit_of_work() as session:
        entry = service.reverse_entry(
            session=session, entry_id=entry_id, posted_on=parse_date(on, "--on"), memo=memo, actor="cli"
        )
    console.print(f"Entry {entry.id} reverses entry {entry_id}.")


@funds_app.command("balances")
def balances(
    fund: str | None = typer.Option(None, "--fund"), as_of: str | None = typer.Option(None, "--as-of")
) -> None:
    """Balance of every account of every fund (or one)."""
    from equicover.ledger import service
    from equicover.ledger.models import Fund

    with unit_of_work() as session:
        rows = service.balances(session=session, fund_code=fund, as_of=parse_date(as_of, "--as-of") if as_of else None)
        digits = {f.code: f.minor_digits for f in session.scalars(select(Fund))}
        debit, credit = service.trial_balance(session=session)
    table = Table(title="Fund ledger balances" + (f" at {as_of}" if as_of else ""))
    for column in ("Fund", "Account", "Kind", "Debits", "Credits", "Balance"):
        table.add_column(column, justify="left" if column in ("Fund", "Account", "Kind") else "right")
    for row in rows:
        money = money_formatter(digits[row.fund])
        table.add_row(row.fund, row.account, row.kind, money(row.debit), money(row.credit), money(row.balance))
    console.print(table)
    console.print(
        f"Trial balance: debits {debit:,} = credits {credit:,} (minor units): "
        f"{'balanced' if debit == credit else 'NOT BALANCED'}"
    )


@funds_app.command("flows")
def flows(
    start: str = typer.Option(..., "--from"),
    end: str = typer.Option(..., "--to"),
    fund: str | None = typer.Option(None, "--fund"),
) -> None:
    """Debits and credits per fund, month and account."""
    from equicover.ledger import service
    from equicover.ledger.models import Fund

    with unit_of_work() as session:
        rows = service.flows_by_month(
            session=session, starts=parse_date(start, "--from"), ends=parse_date(end, "--to"), fund_code=fund
        )
        digits = {f.code: f.minor_digits for f in session.scalars(select(Fund))}
    table = Table(title="Monthly flows")
    for column in ("Fund", "Month", "Account", "Debits", "Credits"):
        table.add_column(column)
    for row in rows:
        money = money_formatter(digits[row.fund])
        table.add_row(row.fund, row.month, row.account, money(row.debit), money(row.credit))
    console.print(table)
