"""``equicover payments``: payment batches to providers, drafted by a maker and approved by a checker."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.commands import console, money_formatter, parse_amount, parse_date, scheme_money, unit_of_work

payments_app = typer.Typer(no_args_is_help=True, help="Payment batches to providers (maker-checker).")


def _user_role(session: Session, username: str) -> str:
    from equicover.auth.service import get_user

    user = get_user(session=session, username=username)
    if not user.active:
        console.print(f"[red]user {username}: not active[/]")
        raise typer.Exit(1)
    return user.role


@payments_app.command("draft")
def draft(
    start: str = typer.Option(..., "--from"),
    end: str = typer.Option(..., "--to"),
    maker: str = typer.Option(..., "--maker", help="User name of the maker (an existing user)."),
    provider: list[str] = typer.Option(
        [], "--provider", help="Provider code (repeat); default: every provider with claims or capitation."
    ),
    currency: str | None = typer.Option(
        None, "--currency", help="Default: the currency of the schemes in force in the period (another is refused)."
    ),
    capitation: str = typer.Option("0", "--capitation", help="Capitation per enrolled person and month (major units)."),
    capitation_fund: str = typer.Option(
        "basic", "--capitation-fund", help="An existing fund of the batches' currency."
    ),
) -> None:
    """Draft payment batches (the maker's step)."""
    from equicover.claims.models import Claim
    from equicover.claims.service import money_in_force
    from equicover.payments import corrections, service
    from equicover.providers.models import Contract, Provider

    starts, ends = parse_date(start, "--from"), parse_date(end, "--to")
    with unit_of_work() as session:
        currency, digits = scheme_money(money_in_force(session=session, starts=starts, ends=ends), currency)
        rate = parse_amount(capitation, digits, "--capitation")
        _user_role(session, maker)
        codes = list(provider)
        if not codes:
            with_claims = select(Claim.provider_id).where(Claim.service_date >= starts, Claim.service_date <= ends)
            with_capitation = select(Contract.provider_id).where(Contract.payment_method == "capitation")
            with_adjustments = corrections.providers_with_adjustments_due(period_ends=ends)
            with_corrections = corrections.providers_with_corrections_due()
            codes = list(
                session.scalars(
                    select(Provider.code)
                    .where(
                        Provider.id.in_(with_claims)
                        | Provider.id.in_(with_capitation)
                        | Provider.id.in_(with_adjustments)
                        | Provider.id.in_(with_corrections)
                    )
                    .order_by(Provider.code)
                )
            )
        drafted = [
            service.draft_batch(
                session=session,
                provider_code=code,
                period_starts=starts,
                period_ends=ends,
                actor=maker,
                currency=currency,
                capitation_per_person_month=rate,
                capitation_fund=capitation_fund,
            )
            for code in codes
        ]
    money = money_formatter(digits)
    total = sum(batch.net_amount for batch in drafted)
    console.print(
        f"Drafted {len(drafted)} batch(es) by {maker}: net {money(total)} {currency} "
        f"(batch ids {drafted[0].id}-{drafted[-1].id})"
        if drafted
        else "No batch drafted."
    )


@payments_app.command("approve")
def approve(
    batch_ids: list[int] = typer.Argument(None, help="Batch ids (default with --all-drafts: every draft)."),
    by: str = typer.Option(..., "--by", help="User name of the approving fund manager (not the maker)."),
    all_drafts: bool = typer.Option(False, "--all-drafts"),
    on: str | None = typer.Option(None, "--on", help="Payment date (default today)."),
) -> None:
    """Approve batches (the checker's step): a fund manager who did not draft them."""
    from equicover.payments import service

    with unit_of_work() as session:
        role = _user_role(session, by)
        ids = list(batch_ids or [])
        if all_drafts:
            ids += [batch.id for batch in service.list_batches(session=session, status="draft")]
        for batch_id in ids:
            service.approve_batch(
                session=session,
                batch_id=batch_id,
                actor=by,
                actor_role=role,
                paid_on=parse_date(on, "--on") if on else None,
            )
    console.print(f"Approved {len(ids)} batch(es) by {by}.")


@payments_app.command("list")
def list_batches(status: str | None = typer.Option(None, "--status")) -> None:
    """Payment batches with their amounts."""
    from equicover.payments import service
    from equicover.providers.models import Provider

    with unit_of_work() as session:
        batches = service.list_batches(session=session, status=status)
        codes = {p.id: p.code for p in session.scalars(select(Provider))}
    table = Table(title="Payment batches")
    for column in (
        "Batch",
        "Provider",
        "Period",
        "Status",
        "Claims",
        "Claims amount",
        "Capitation",
        "Recoveries",
        "Net",
        "Maker",
        "Approver",
    ):
        table.add_column(column)
    for batch in batches:
        money = money_formatter(batch.minor_digits)
        table.add_row(
            str(batch.id),
            codes.get(batch.provider_id, "?"),
            f"{batch.period_starts}..{batch.period_ends}",
            batch.status,
            f"{batch.claim_count:,}",
            money(batch.claims_amount),
            money(batch.capitation_amount),
            money(batch.recoveries_amount),
            money(batch.net_amount),
            batch.created_by,
            batch.approved_by or "",
        )
    console.print(table)


@payments_app.command("export")
def export(batch_id: int = typer.Argument(...), out: Path = typer.Option(Path("."), "--out", file_okay=False)) -> None:
    """Write a batch as CSV, PDF and a FHIR PaymentReconciliation (JSON)."""
    from equicover.fhir_mapping import encode_json
    from equicover.payments import service

    with unit_of_work() as session:
        paths = service.write_batch_files(session=session, batch_id=batch_id, folder=out)
        resource = service.payment_reconciliation(session=session, batch_id=batch_id)
    fhir_path = out / f"payment-batch-{batch_id}.fhir.json"
    fhir_path.write_bytes(encode_json(resource))
    console.print("Wrote " + ", ".join(str(path) for path in [*paths, fhir_path]))
