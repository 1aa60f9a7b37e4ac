"""``equicover verify``: samples of claims for review, the queue, decisions, provider scorecards."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import select

from equicover.commands import console, money_formatter, parse_amount, parse_date, scheme_money, unit_of_work

verify_app = typer.Typer(no_args_is_help=True, help="Verification of providers: samples, queue, findings, scorecards.")


@verify_app.command("sample")
def sample(
    start: str = typer.Option(..., "--from"),
    end: str = typer.Option(..., "--to"),
    random_count: int = typer.Option(50, "--random"),
    risk_count: int = typer.Option(50, "--risk"),
    seed: int = typer.Option(..., "--seed"),
) -> None:
    """Draw claims of a period for review: a random part and a risk-weighted part."""
    from equicover.verification import service

    with unit_of_work() as session:
        drawn = service.draw_sample(
            session=session,
            period_starts=parse_date(start, "--from"),
            period_ends=parse_date(end, "--to"),
            random_count=random_count,
            risk_count=risk_count,
            seed=seed,
            actor="cli",
        )
    console.print(
        f"Sample {drawn.id}: {drawn.random_count} random and {drawn.risk_count} risk-weighted claims queued for review."
    )


@verify_app.command("queue")
def queue(
    district: str | None = typer.Option(None, "--district", help="District code (default: all)."),
    limit: int = typer.Option(30, "--limit"),
) -> None:
    """Open reviews, riskiest first."""
    from equicover.registry.models import Location
    from equicover.verification import service

    with unit_of_work() as session:
        ids = None
        if district:
            found = session.scalar(select(Location.id).where(Location.code == district))
            if found is None:
                console.print(f"[red]district {district}: unknown location[/]")
                raise typer.Exit(1)
            ids = [found]
        items = service.verifier_queue(session=session, district_ids=ids, limit=limit)
    table = Table(title="Verification queue")
    for column in ("Review", "Claim", "Provider", "Served", "Care", "Dx", "Days", "Paid", "Selection", "Risk", "Why"):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item.review_id),
            item.claim_id,
            item.provider_code,
            str(item.service_date),
            item.care_type,
            item.diagnosis,
            str(item.days),
            f"{money_formatter(item.minor_digits)(item.paid)} {item.currency}",
            item.selection,
            f"{item.risk_score:.1f}",
            item.risk_reason[:60],
        )
    console.print(table)


@verify_app.command("decide")
def decide(
    review_id: int = typer.Argument(...),
    decision: str = typer.Argument(..., help="accept | query | disallow | reject"),
    reason: str | None = typer.Option(None, "--reason"),
    amount: str | None = typer.Option(None, "--amount", help="For disallow: the amount taken back (major units)."),
    currency: str | None = typer.Option(None, "--currency", help="Default: the currency of the claim's scheme."),
    by: str = typer.Option("cli", "--by", help="The verifier's name, for the record."),
) -> None:
    """Record a finding on a review; a disallowance or rejection creates recoveries."""
    from equicover.verification import service

    with unit_of_work() as session:
        minor = None
        if amount:
            # The amount is read in the digits of the reviewed claim's own scheme.
            _, digits = scheme_money([service.money_of_review(session=session, review_id=review_id)], currency)
            minor = parse_amount(amount, digits, "--amount")
        review = service.decide(
            session=session, review_id=review_id, decision=decision, reason=reason, amount=minor, actor=by
        )
    console.print(
        f"Review {review.id}: {review.status}" + (f", {review.disallowed:,} recovered" if review.disallowed else "")
    )


@verify_app.command("scorecards")
def scorecards(start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to")) -> None:
    """Provider scorecards: claims, amounts, findings, length of stay, cost per case against peers."""
    from equicover.verification import service

    with unit_of_work() as session:
        cards = service.provider_scorecards(
            session=session, period_starts=parse_date(start, "--from"), period_ends=parse_date(end, "--to")
        )
    table = Table(title=f"Provider scorecards {start} to {end}")
    for column in (
        "Provider",
        "Level",
        "Claims",
        "Allowed",
        "Paid",
        "Reviewed",
        "Rejected %",
        "Disallowed %",
        "ALOS",
        "Cost/case vs peers",
    ):
        table.add_column(column, justify="left" if column in ("Provider", "Level") else "right")
    for card in cards:
        table.add_row(
            card.provider_code,
            card.level,
            f"{card.claims:,}",
            f"{card.allowed:,}",
            f"{card.paid:,}",
            str(card.reviewed),
            _pct(card.rejection_rate),
            _pct(card.disallowance_rate),
            "" if card.average_length_of_stay is None else f"{card.average_length_of_stay:.1f}",
            "" if card.cost_against_peers is None else f"{card.cost_against_peers:.2f}x",
        )
    console.print(table)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"
