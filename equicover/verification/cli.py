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


@verify_app.command("operator-sample")
def operator_sample(
    operator: str = typer.Option(..., "--operator", help="The HEF operator's code."),
    start: str = typer.Option(..., "--from"),
    end: str = typer.Option(..., "--to"),
    cases: int = typer.Option(10, "--cases", help="Hospital post-identifications to draw."),
    benefits: int = typer.Option(20, "--benefits", help="Benefit payments (transport, food) to draw."),
    seed: int = typer.Option(..., "--seed"),
) -> None:
    """Draw acts of a HEF operator in a period for review."""
    from equicover.verification import operators

    with unit_of_work() as session:
        drawn = operators.draw_operator_sample(
            session=session,
            organisation_code=operator,
            period_starts=parse_date(start, "--from"),
            period_ends=parse_date(end, "--to"),
            cases=cases,
            benefits=benefits,
            seed=seed,
            actor="cli",
        )
        counts = (sum(r.act == "hospital_case" for r in drawn), sum(r.act == "benefit" for r in drawn))
    console.print(f"Operator {operator}: {counts[0]} post-identifications and {counts[1]} benefits queued for review.")


@verify_app.command("operator-decide")
def operator_decide(
    review_id: int = typer.Argument(...),
    finding: str = typer.Argument(..., help="justified | not_justified"),
    reason: str | None = typer.Option(None, "--reason"),
    amount: str | None = typer.Option(None, "--amount", help="Disallowed (major units); default: all at stake."),
    by: str = typer.Option("cli", "--by", help="The verifier's name, for the record."),
) -> None:
    """Record a finding on an operator review; not justified takes the amount back from the operator."""
    from equicover.verification import operators

    with unit_of_work() as session:
        minor = None
        if amount:
            digits = operators.minor_digits_of_review(session=session, review_id=review_id)
            minor = parse_amount(amount, digits, "--amount")
        review = operators.decide_operator_review(
            session=session, review_id=review_id, finding=finding, reason=reason, amount=minor, actor=by
        )
    console.print(
        f"Operator review {review.id}: {review.status}"
        + (f", {review.disallowed:,} to recover from the operator" if review.disallowed else "")
    )


@verify_app.command("operator-scorecards")
def operator_scorecards(start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to")) -> None:
    """HEF operator scorecards: post-identifications, benefits paid, findings, recoveries."""
    from equicover.verification import operators

    with unit_of_work() as session:
        cards = operators.operator_scorecards(
            session=session, period_starts=parse_date(start, "--from"), period_ends=parse_date(end, "--to")
        )
    table = Table(title=f"HEF operator scorecards {start} to {end}")
    columns = ("Operator", "Name", "Post-identified", "Benefits", "Benefits paid", "Reviewed", "Not justified %",
               "Disallowed", "To deduct")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("Operator", "Name") else "right")
    for card in cards:
        table.add_row(
            card.organisation_code,
            card.name,
            f"{card.hospital_cases:,}",
            f"{card.benefits:,}",
            f"{card.benefits_paid:,}",
            str(card.reviewed),
            _pct(card.not_justified_rate),
            f"{card.disallowed:,}",
            f"{card.outstanding:,}",
        )
    console.print(table)


@verify_app.command("operator-deduct")
def operator_deduct(
    operator: str = typer.Option(..., "--operator", help="The HEF operator's code."),
    reference: str = typer.Option(..., "--reference", help="The payment to the operator that withholds the sums."),
) -> None:
    """Mark the operator's outstanding recoveries as withheld from a payment; prints them per fund."""
    from equicover.verification import operators

    with unit_of_work() as session:
        withheld = operators.deduct_operator_recoveries(
            session=session, organisation_code=operator, payment_reference=reference
        )
    if not withheld:
        console.print(f"Operator {operator}: nothing to withhold.")
    for fund, amount in withheld.items():
        console.print(f"Operator {operator}: withhold {amount:,} (minor units) from {reference}, fund {fund}.")
