"""The providers-and-funds part of ``equicover demo``: after the what-if settlement of the
province's claims, store them (``load-claims`` settles them again, claims outside contracts set
aside first, and keeps the members' accumulators), keep the fund ledger, flag anomalies, verify,
pay providers with maker-checker, keep the care ledger and write the semi-annual report. Each step is the command a
user would run (``equicover load-claims``, ``funds``, ``anomaly``, ``verify``, ``payments``,
``care``, ``report``), called directly.

The funds are financed as the province's profile says (``synth/profiles``): the enrolments'
contributions (with the per-capita subsidies) go to the contributions fund, and each other fund
receives its yearly allocation per enrolled person, so that the ledger shows a year's cash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy import func, select

from equicover.anomaly import cli as anomaly_cli
from equicover.auth.roles import Role
from equicover.care import cli as care_cli
from equicover.claims import cli as claims_cli
from equicover.db.session import session_scope
from equicover.enrolment.models import Enrolment, Scheme
from equicover.ledger import cli as ledger_cli
from equicover.money import format_money
from equicover.organisations import cli as organisations_cli
from equicover.payments import cli as payments_cli
from equicover.registry.models import PersonCategory
from equicover.reports import cli as reports_cli
from equicover.reports import service as reports_service
from equicover.synth.parameters import SCHEME_CODE
from equicover.synth.profile import Profile
from equicover.verification import cli as verification_cli

DEMO_SCHEME = SCHEME_CODE  # the Ya'an province's scheme
MAKER, CHECKER = "demo-maker", "demo-checker"


@dataclass(frozen=True)
class DemoCalendar:
    """The programme's year and the calendar half-year inside it that the demo pays and reports."""

    starts: dt.date
    ends: dt.date
    half_year: int
    half: int  # 1: January to June, 2: July to December

    @property
    def half_starts(self) -> dt.date:
        return dt.date(self.half_year, 1 if self.half == 1 else 7, 1)

    @property
    def half_ends(self) -> dt.date:
        return dt.date(self.half_year, 6, 30) if self.half == 1 else dt.date(self.half_year, 12, 31)


def demo_calendar(starts: dt.date, ends: dt.date) -> DemoCalendar:
    """The first calendar half-year wholly inside [starts, ends] (a programme's year of twelve months
    always holds one)."""
    for year, half in ((starts.year, 1), (starts.year, 2), (starts.year + 1, 1)):
        calendar = DemoCalendar(starts, ends, year, half)
        if starts <= calendar.half_starts and calendar.half_ends <= ends:
            return calendar
    raise ValueError("the programme's year holds no whole calendar half-year")


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


def enrolled_count(*, scheme_code: str, on: dt.date, categories: tuple[str, ...] = ()) -> int:
    """Persons with an active enrolment in the scheme on ``on`` (holding one of ``categories``, if given)."""
    with session_scope() as session:
        query = (
            select(func.count(func.distinct(Enrolment.person_id)))
            .join(Scheme, Scheme.id == Enrolment.scheme_id)
            .where(Scheme.code == scheme_code, Enrolment.starts <= on, Enrolment.ends >= on)
        )
        if categories:
            holders = select(PersonCategory.person_id).where(
                PersonCategory.category.in_(categories),
                PersonCategory.valid_from <= on,
                (PersonCategory.valid_to.is_(None)) | (PersonCategory.valid_to >= on),
            )
            query = query.where(Enrolment.person_id.in_(holders))
        return int(session.scalar(query) or 0)


def finance_funds(*, profile: Profile, calendar: DemoCalendar, console: Console) -> None:
    """Post the contributions to the contributions fund, then each fund's yearly allocation."""
    ledger_cli.post_contributions(
        scheme=profile.scheme_code, fund=profile.contribution_fund, name=profile.contribution_fund_name
    )
    for receipt in profile.receipts:
        words = tuple(profile.word(category) for category in receipt.categories)
        members = enrolled_count(scheme_code=profile.scheme_code, on=calendar.starts, categories=words)
        amount = receipt.per_member * members
        if amount <= 0:
            continue
        month, day = (int(part) for part in receipt.on.split("-"))
        on = dt.date(calendar.starts.year, month, day)
        if on < calendar.starts:
            on = calendar.starts
        console.print(
            f"Fund {receipt.fund}: {members:,} members x {format_money(receipt.per_member, profile.minor_digits)}",
            highlight=False,
        )
        ledger_cli.receive(
            fund=receipt.fund,
            source=receipt.source,
            amount=format_money(amount, profile.minor_digits),
            on=on.isoformat(),
            currency=profile.currency,
            reference=receipt.reference,
        )


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
    profile: Profile | None = None,
    calendar: DemoCalendar | None = None,
) -> None:
    """``settlements_path`` (step 3's what-if settlement of the whole file) is not needed to store the claims."""
    from equicover.synth.profile import get_profile

    profile = profile or get_profile()
    calendar = calendar or demo_calendar(dt.date(year, 1, 1), dt.date(year, 12, 31))
    first_half = (calendar.half_starts.isoformat(), calendar.half_ends.isoformat())
    console.rule("4. Stored claims (provider contracts enforced, accumulators kept) and the fund ledger")
    # load-claims settles the file itself: claims outside contracts are set aside before
    # settlement (step 3's settlement counted them), so they use up nobody's caps.
    claims_cli.load_claims(
        policy=policy, claims=claims_path, scheme=profile.scheme_code, synthetic_submission=True, settlements=None
    )
    finance_funds(profile=profile, calendar=calendar, console=console)
    ledger_cli.post_claims(up_to=calendar.ends.isoformat(), currency=currency)
    members = enrolled_count(scheme_code=profile.scheme_code, on=calendar.starts)
    if profile.operator_fee and members:
        ledger_cli.spend(
            fund=profile.contribution_fund,
            use="administration",
            amount=format_money(profile.operator_fee * members, profile.minor_digits),
            on=calendar.half_ends.isoformat(),
            currency=currency,
            memo="operators' fees for running the programme in their districts",
        )
    roles = [
        role
        for role, named in (
            ("responsible_organisation", profile.area_organisations),
            ("hef_operator", profile.district_organisations),
        )
        if named
    ]
    for role in roles:
        organisations_cli.organisations_coverage(on=calendar.half_ends.isoformat(), role=role, by="organisation")
    if profile.area_organisations:  # the enrolment drive of the neighbourhoods, month by month
        organisations_cli.organisations_drive(
            start=calendar.starts.isoformat(),
            end=calendar.half_ends.isoformat(),
            by="month",
            role="responsible_organisation",
            per="organisation",
        )

    console.rule(f"5. Anomaly flags on the claims of {first_half[0]} to {first_half[1]}")
    anomaly_cli.anomaly_run(start=first_half[0], end=first_half[1], seed=seed, top=10)

    console.rule("6. Verification: a random and risk-weighted sample, provider scorecards")
    verification_cli.sample(start=first_half[0], end=first_half[1], random_count=50, risk_count=50, seed=seed)
    verification_cli.queue(district=None, limit=8)
    if profile.district_organisations:  # the fund verifies the HEF operators too (seed 001)
        from equicover.organisations.service import list_organisations

        with session_scope() as session:
            operators = [row.code for row in list_organisations(session=session, role="hef_operator")]
        if operators:
            verification_cli.operator_sample(
                operator=operators[0], start=first_half[0], end=first_half[1], cases=10, benefits=20, seed=seed
            )
        verification_cli.operator_scorecards(start=first_half[0], end=first_half[1])

    console.rule(
        f"7. Payment batches for {first_half[0]} to {first_half[1]}: the maker drafts, another fund manager approves"
    )
    _ensure_fund_managers(console)
    payments_cli.draft(
        start=first_half[0],
        end=first_half[1],
        maker=MAKER,
        provider=[],
        currency=currency,
        capitation=profile.capitation,
        capitation_fund=profile.capitation_fund,
    )
    from equicover.payments.service import list_batches

    with session_scope() as session:
        first = min(batch.id for batch in list_batches(session=session, status="draft"))
    try:
        payments_cli.approve(batch_ids=[first], by=MAKER, all_drafts=False, on=None)
    except typer.Exit:
        console.print("(the maker's own approval was refused: maker-checker)")
    approval = calendar.half_ends + dt.timedelta(days=10)
    payments_cli.approve(batch_ids=[], by=CHECKER, all_drafts=True, on=approval.isoformat())
    payments_cli.list_batches(status="approved")
    payments_cli.export(batch_id=first, out=output)
    ledger_cli.balances(fund=None, as_of=None)

    console.rule("8. Care ledger of the registered poor")
    care_cli.care_family_doctors(
        start=calendar.starts.isoformat(), end=calendar.ends.isoformat(), level=profile.levels[0]
    )
    care_cli.care_from_claims(start=first_half[0], end=first_half[1])
    care_cli.care_summary(on=first_half[1])

    console.rule(f"9. Semi-annual implementation status report, {calendar.half_year} H{calendar.half}")
    with session_scope() as session:
        added = reports_service.synthesize_household_consumption(
            session=session,
            year=calendar.half_year,
            seed=seed,
            minor_digits=profile.minor_digits,
            median_per_capita=profile.consumption_per_capita,
        )
    console.print(f"Gave {added:,} households a synthetic consumption for {calendar.half_year}.")
    reports_cli.semiannual(year=calendar.half_year, half=calendar.half, out=output, by="district", currency=currency)
    reports_cli.financing(
        start=calendar.starts.isoformat(), end=calendar.ends.isoformat(), currency=currency, earmarked=["transplant"]
    )
