"""``equicover reconcile``: settle a scheme's benefit year again in service-date order.

The report is printed (claims re-settled and adjusted, per payer, per provider, the members'
refunds) and written as CSV, one row per adjustment line. A second run of the same year finds
nothing to adjust.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select

from equicover.commands import ACTOR_OPTION, console, money_formatter, unit_of_work
from equicover.exports import safe_csv_writer

REPORT_COLUMNS = (
    "run_id",
    "claim_id",
    "provider_code",
    "member_id",
    "service_date",
    "kind",
    "item_id",
    "payer",
    "amount",
    "reason",
)


def reconcile(
    scheme: str = typer.Option(..., "--scheme", help="Scheme code."),
    year: int = typer.Option(..., "--year", help="Benefit year (as the policy's year_start counts it)."),
    out: Path | None = typer.Option(
        None, "--out", dir_okay=False, help="The CSV report (default: reconciliation-SCHEME-YEAR-RUN.csv here)."
    ),
    actor: str = ACTOR_OPTION,
) -> None:
    """Re-settle a scheme's benefit year in service-date order and store the adjustments."""
    from equicover.claims.models import Claim
    from equicover.claims.service import money_of_version
    from equicover.enrolment.service import get_scheme
    from equicover.payments import corrections
    from equicover.providers.models import Provider

    with unit_of_work() as session:
        result = corrections.reconcile_year(session=session, scheme_code=scheme, year=year, actor=actor)
        currency = get_scheme(session=session, code=scheme).currency
        digits = 0  # no line, no amount: what the digits are does not matter then
        claim_pks = sorted({line.claim_pk for line in result.adjustments})
        claims = {
            row.id: row
            for start in range(0, len(claim_pks), 500)
            for row in session.scalars(select(Claim).where(Claim.id.in_(claim_pks[start : start + 500])))
        }
        codes = dict(session.execute(select(Provider.id, Provider.code)).all())
        rows = [
            (
                result.run.id,
                claims[line.claim_pk].claim_id,
                codes.get(claims[line.claim_pk].provider_id, ""),
                claims[line.claim_pk].person_id,
                claims[line.claim_pk].service_date.isoformat(),
                line.kind,
                line.item_id,
                line.payer,
                line.amount,
                line.reason,
            )
            for line in result.adjustments
        ]
        if claims:
            # The amounts are in the policy version's currency and digits (riel and rial count whole units).
            first = claims[claim_pks[0]]
            currency, digits = money_of_version(
                session=session, version_id=first.policy_version_id, record=f"claim {first.id}"
            )
        run_id, resettled, adjusted = result.run.id, result.claims, result.run.adjusted_claims
    money = money_formatter(digits)
    path = out or Path(f"reconciliation-{scheme}-{year}-{run_id}.csv")
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = safe_csv_writer(handle, lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        writer.writerows([*row[:8], money(int(row[8])), row[9]] for row in rows)
    console.print(
        f"Reconciliation {run_id} of {scheme} {year}: {resettled:,} claims re-settled in service-date order, "
        f"{adjusted:,} adjusted, {len(rows):,} adjustment lines ({currency})."
    )
    if not rows:
        console.print("Nothing to adjust: what was paid is what the policy says.")
    by_payer: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_provider: dict[str, int] = defaultdict(int)
    refunds, refunded, owed, owing = 0, 0, 0, 0
    for row in rows:
        kind, payer, amount = str(row[5]), str(row[7]), int(row[8])
        if kind == "member":
            if amount < 0:
                refunds, refunded = refunds + 1, refunded - amount
            else:
                owed, owing = owed + 1, owing + amount
            continue
        by_payer[payer][0 if amount > 0 else 1] += amount
        if kind == "layer":
            by_provider[str(row[2])] += amount
    if by_payer:
        table = Table(title="By payer")
        for column in ("Payer", "Top-ups", "Recoveries", "Net"):
            table.add_column(column, justify="left" if column == "Payer" else "right")
        for payer, (up, down) in sorted(by_payer.items()):
            table.add_row(payer, money(up), money(down), money(up + down))
        console.print(table)
        console.print(
            f"Providers with a net change: {len(by_provider):,} "
            f"(net {money(sum(by_provider.values()))} through their next payment batches)."
        )
    if refunds or owed:
        console.print(
            f"Members: {refunds:,} refunds totalling {money(refunded)}; "
            f"{owed:,} shares raised totalling {money(owing)}."
        )
    console.print(f"Report: {path}")
