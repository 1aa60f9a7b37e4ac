"""The providers-and-funds part of ``equicover demo``: after the what-if settlement of the
province's claims, store them (``load-claims`` settles them again, claims outside contracts set
aside first, and keeps the members' accumulators), keep the fund ledger, flag anomalies, verify,
pay providers with maker-checker, keep the care ledger and write the semi-annual report. Each step is the command a
user would run (``equicover load-claims``, ``funds``, ``anomaly``, ``verify``, ``payments``,
``care``, ``report``), called directly.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from equicover.anomaly import cli as anomaly_cli
from equicover.auth.roles import Role
from equicover.care import cli as care_cli
from equicover.claims import cli as claims_cli
from equicover.db.session import session_scope
from equicover.ledger import cli as ledger_cli
from equicover.payments import cli as payments_cli
from equicover.reports import cli as reports_cli
from equicover.synth.parameters import SCHEME_CODE
from equicover.verification import cli as verification_cli

DEMO_SCHEME = SCHEME_CODE  # the synthetic province's scheme
MAKER, CHECKER = "demo-maker", "demo-checker"


def _ensure_fund_managers(console: Console) -> None:
    """The maker and the checker, each with a new random password, printed (kept from an earlier
    run with --keep: given a new one)."""
    from equicover.admin.demo_accounts import ensure_demo_user

    with session_scope() as session:
        users = [
            ensure_demo_user(session=session, username=username, role=Role.FUND_MANAGER, scope=scope, actor="demo")
            for username, scope in ((MAKER, "payments: drafts batches"), (CHECKER, "payments: approves batches"))
        ]
    console.print(f"{'username':<16} {'password':<18} {'role':<13} scope", highlight=False)
    for user in users:
        console.print(user.line(), highlight=False, markup=False)


def run_funds_demo(
    *,
    policy: Path,
    claims_path: Path,
    settlements_path: Path,
    year: int,
    seed: int,
    output: Path,
    console: Console,
    currency: str = "CNY",
) -> None:
    """``settlements_path`` (step 3's what-if settlement of the whole file) is not needed to store the claims."""
    first_half = (f"{year}-01-01", f"{year}-06-30")
    console.rule("4. Stored claims (provider contracts enforced, accumulators kept) and the fund ledger")
    # load-claims settles the file itself: claims outside contracts are set aside before
    # settlement (step 3's settlement counted them), so they use up nobody's caps.
    claims_cli.load_claims(
        policy=policy, claims=claims_path, scheme=DEMO_SCHEME, synthetic_submission=True, settlements=None
    )
    ledger_cli.post_contributions(scheme=DEMO_SCHEME, fund="basic", name="Basic medical insurance")
    ledger_cli.receive(
        fund="medical_assistance",
        source="social_cohesion_fund",
        amount="2000000",
        on=f"{year}-01-05",
        currency=currency,
        reference="budget allocation",
    )
    ledger_cli.receive(
        fund="medical_assistance",
        source="charity",
        amount="150000",
        on=f"{year}-02-01",
        currency=currency,
        reference="charity fund",
    )
    ledger_cli.spend(
        fund="medical_assistance",
        use="transplants",
        amount="100000",
        on=f"{year}-03-01",
        currency=currency,
        memo="organ and tissue transplants special account",
    )
    ledger_cli.post_claims(up_to=f"{year}-12-31", currency=currency)

    console.rule(f"5. Anomaly flags on the claims of {first_half[0]} to {first_half[1]}")
    anomaly_cli.anomaly_run(start=first_half[0], end=first_half[1], seed=seed, top=10)

    console.rule("6. Verification: a random and risk-weighted sample, provider scorecards")
    verification_cli.sample(start=first_half[0], end=first_half[1], random_count=50, risk_count=50, seed=seed)
    verification_cli.queue(district=None, limit=8)

    console.rule("7. Payment batches for the half-year: the maker drafts, another fund manager approves")
    _ensure_fund_managers(console)
    payments_cli.draft(
        start=first_half[0],
        end=first_half[1],
        maker=MAKER,
        provider=[],
        currency=currency,
        capitation="2.50",
        capitation_fund="basic",
    )
    from equicover.payments.service import list_batches

    with session_scope() as session:
        first = min(batch.id for batch in list_batches(session=session, status="draft"))
    try:
        payments_cli.approve(batch_ids=[first], by=MAKER, all_drafts=False, on=None)
    except typer.Exit:
        console.print("(the maker's own approval was refused: maker-checker)")
    payments_cli.approve(batch_ids=[], by=CHECKER, all_drafts=True, on=f"{year}-07-10")
    payments_cli.list_batches(status="approved")
    payments_cli.export(batch_id=first, out=output)
    ledger_cli.balances(fund=None, as_of=None)

    console.rule("8. Care ledger of the registered poor")
    care_cli.care_family_doctors(start=f"{year}-01-01", end=f"{year}-12-31", level="township")
    care_cli.care_from_claims(start=first_half[0], end=first_half[1])
    care_cli.care_summary(on=first_half[1])

    console.rule(f"9. Semi-annual implementation status report, {year} H1")
    reports_cli.synthetic_consumption(year=year, seed=seed, currency=currency)
    reports_cli.semiannual(year=year, half=1, out=output, by="district", currency=currency)
