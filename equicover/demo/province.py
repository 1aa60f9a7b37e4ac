"""``equicover demo``: a whole province end to end on the embedded database.

Generates a synthetic province into the default database, identifies its poor by rounds of its
programme's targeting rules (``equicover.demo.targeting_round``), prints its coverage by district,
settles its year of claims with the policy (the shipped Ya'an one-stop policy by default) in the
batch engine, and prints what each payer paid and what the poor were left to pay. The province is
of the policy's country (``synth/profiles``): its places, names, facility levels, categories,
currency and year are the programme's. Each step is the same command a user would run by hand
(`generate`, `coverage`, `settle`), so the demo exercises the real paths.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.engine import make_url

import equicover
from equicover.api.cli import serve as serve_application
from equicover.console import make_console
from equicover.db.session import session_scope
from equicover.db.settings import database_url as configured_database_url
from equicover.demo.funds import demo_calendar, run_funds_demo
from equicover.demo.grievances import run_grievance_demo
from equicover.demo.targeting_round import identified_categories, run_identification
from equicover.enrolment.cli import coverage
from equicover.money import format_money
from equicover.settlement.cli import settle
from equicover.settlement.loader import load_policy
from equicover.settlement.report import OOP_TARGET_SHARE_PERCENT, SettlementSummary, settlement_summary
from equicover.synth.cli import generate, generate_identified, policy_period
from equicover.synth.profile import profile_for_policy
from equicover.web.cli import print_accounts
from equicover.web.seed import prepare_web_demo

SHIPPED_POLICIES = Path(equicover.__file__).resolve().parents[1] / "policies"
DEMO_POLICY = SHIPPED_POLICIES / "cn-yaan-2018.toml"

_console = make_console()


def demo(
    people: int = typer.Option(100_000, "--people", min=1, help="Persons in the synthetic province."),
    seed: int = typer.Option(1, "--seed", help="Random seed of the province."),
    policy: Path = typer.Option(DEMO_POLICY, "--policy", help="Policy that settles the claims."),
    output: Path = typer.Option(Path("demo-output"), "--output", help="Folder for the claims and settlements."),
    fresh: bool = typer.Option(
        True, "--fresh/--keep", help="Start from an empty SQLite database (removes the old file)."
    ),
    funds: bool = typer.Option(
        True, "--funds/--no-funds", help="Store the claims, keep the fund ledger, verify, pay, report."
    ),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="End by serving the application."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface the application listens on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port the application listens on."),
) -> None:
    """Generate a province, show its coverage, settle its year of claims, summarise the payers;
    then store the claims, run the funds (ledger, anomaly flags, verification, payments, care
    ledger, semi-annual report), create one account per role and serve the application."""
    loaded_policy = load_policy(policy)
    profile = profile_for_policy(loaded_policy.id)
    calendar = demo_calendar(*policy_period(loaded_policy))
    year = loaded_policy.effective_from.year
    url = configured_database_url()
    if fresh:
        _remove_sqlite_file(url)
    output.mkdir(parents=True, exist_ok=True)
    claims_path = output / f"claims-{year}.csv"
    settlements_path = output / f"settlements-{year}.csv"

    _console.rule(f"1. A synthetic province of {people:,} people (seed {seed}): {profile.province_name}")
    identified = identified_categories(profile)
    if identified:
        # The round decides who is poor, before anybody is enrolled: the subsidised contributions
        # and the claims follow the categories it writes.
        _console.print(f"Identification of the poor in {profile.province_name}, then enrolment:", highlight=False)
        generate_identified(
            people=people,
            seed=seed,
            claims=claims_path,
            database_url=url,
            policy=policy,
            identified_by_round=identified,
            identify=lambda session: run_identification(
                profile=profile, programme_starts=calendar.starts, seed=seed, console=_console, session=session
            ),
        )
    else:
        generate(
            people=people,
            seed=seed,
            year=year,
            claims=claims_path,
            database_url=url,
            no_db=False,
            policy=policy,
            identified_by_round=[],
        )
        run_identification(profile=profile, programme_starts=calendar.starts, seed=seed, console=_console)

    _console.rule(f"2. Coverage on {calendar.half_ends} by district")
    coverage(date=calendar.half_ends.isoformat(), by="district", scheme=None)
    for percent, what in profile.coverage_targets:
        _console.print(f"Target: {percent:.2f} % {what}", highlight=False)

    _console.rule(f"3. Settlement of the year's claims with {loaded_policy.id}")
    settle(policy=policy, claims=claims_path, out=settlements_path, engine="batch")
    summary = settlement_summary(policy=loaded_policy, claims_path=claims_path, settlements_path=settlements_path)
    _print_settlement(summary, loaded_policy.minor_digits, loaded_policy.currency)
    _console.print(f"Claims: {claims_path}   Settlements: {settlements_path}")
    if not funds:
        return

    run_funds_demo(
        policy=policy,
        claims_path=claims_path,
        settlements_path=settlements_path,
        year=year,
        seed=seed,
        output=output,
        console=_console,
        currency=loaded_policy.currency,
        profile=profile,
        calendar=calendar,
    )
    run_grievance_demo(
        starts=calendar.half_starts, ends=calendar.half_ends, minor_digits=loaded_policy.minor_digits,
        console=_console, currency=loaded_policy.currency,
    )  # fmt: skip
    _console.rule("The application: one account per role")
    with session_scope() as session:
        accounts = prepare_web_demo(
            session=session,
            claims_path=claims_path,
            policy_path=policy,
            seed=seed,
            claims_stored=True,
        )
    print_accounts(accounts, console=_console)
    if serve:
        _console.print(f"Serving on http://{host}:{port}/ (API at /docs, FHIR at /fhir/metadata); Ctrl-C stops it.")
        serve_application(host=host, port=port, workers=1)


def _remove_sqlite_file(url: str) -> None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return
    database = Path(parsed.database)
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm"), Path(f"{database}-journal")):
        path.unlink(missing_ok=True)


def _print_settlement(summary: SettlementSummary, minor_digits: int, currency: str) -> None:
    def money(amount: int) -> str:
        return f"{format_money(amount, minor_digits)}"

    table = Table(title=f"Who paid the {summary.claims:,} claims ({currency})")
    table.add_column("Payer (layer)")
    table.add_column("Claims paid", justify="right")
    table.add_column("Amount", justify="right")
    table.add_column("Share of allowed", justify="right")
    for line in summary.payers:
        share = 100.0 * line.amount / summary.allowed if summary.allowed else 0.0
        table.add_row(f"{line.payer} ({line.layer_id})", f"{line.claims_paid:,}", money(line.amount), f"{share:.1f} %")
    table.add_row("Members (out of pocket)", "", money(summary.member_oop), f"{summary.member_oop_percent:.1f} %")
    table.add_row("Allowed in all", f"{summary.claims:,}", money(summary.allowed), "100.0 %")
    if summary.allowances:
        table.add_row("Allowances to members (beside the bill)", "", money(summary.allowances), "")
    _console.print(table)
    _console.print(
        f"Registered poor: out of pocket {money(summary.poor_oop)} of {money(summary.poor_allowed)} allowed "
        f"({summary.poor_oop_percent:.1f} %)"
    )
    _console.print(
        "Registered-poor in-county inpatients and chronic outpatients whose out-of-pocket share of the year "
        f"is at most "
        f"{OOP_TARGET_SHARE_PERCENT}%: {summary.poor_inpatients_within_target:,} of "
        f"{summary.poor_inpatients:,} ({summary.poor_within_target_percent:.1f} %)"
    )
