"""``equicover generate``: a synthetic province into the database, a year of claims into a file.

With ``--policy``, the province is of that policy's country (``synth/profiles``), its year the
policy's period and its contributions the policy's rules; without, the Ya'an province of a
calendar year."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from equicover.console import make_console
from equicover.db import migrate
from equicover.db.engine import make_engine
from equicover.db.session import make_session_factory, session_scope
from equicover.db.settings import database_url as configured_database_url
from equicover.db.settings import shown_url
from equicover.errors import EquicoverError
from equicover.settlement.loader import load_policy
from equicover.settlement.model import Policy
from equicover.synth.profile import profile_for_policy
from equicover.synth.service import GenerationSummary
from equicover.synth.service import generate as generate_province

_console = make_console()


def generate(
    people: int = typer.Option(100_000, "--people", min=1, help="Number of persons to generate."),
    seed: int = typer.Option(1, "--seed", help="Random seed: the same seed gives the same province and claims."),
    year: int = typer.Option(2018, "--year", min=1900, max=2100, help="Calendar year of the enrolments and claims."),
    claims: Path = typer.Option(
        Path("claims.csv"), "--claims", help="Claims file (CSV; Parquet if it ends in .parquet)."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Database to load (default: EQUICOVER_DATABASE_URL or ./equicover.db)."
    ),
    no_db: bool = typer.Option(False, "--no-db", help="Only write the claims file; touch no database."),
    policy: Path | None = typer.Option(
        None,
        "--policy",
        help="A shipped policy: the province of its country, its period (instead of --year), its contributions.",
    ),
    identified_by_round: list[str] = typer.Option(
        [],
        "--identified-by-round",
        help="A category a round of identification gives afterwards: no holdings of it are generated (repeatable).",
    ),
) -> None:
    """Generate a synthetic province: registry, providers, enrolment, and one year of claims."""
    url = None if no_db else (database_url or configured_database_url())
    try:
        loaded = load_policy(policy) if policy is not None else None
        if url is not None:
            migrate.upgrade(url)
        summary = _run(
            people=people,
            seed=seed,
            year=year,
            claims=claims,
            url=url,
            policy=loaded,
            identified_by_round=frozenset(identified_by_round),
        )
    except EquicoverError as error:
        _console.print(f"[red]{error.message}[/]")
        raise typer.Exit(1) from None
    _print_summary(summary, url)


def generate_identified(
    *,
    people: int,
    seed: int,
    claims: Path,
    database_url: str,
    policy: Path,
    identified_by_round: frozenset[str],
    identify: Callable[[Session], object],
) -> None:
    """``generate`` for a province whose poverty categories a round of identification gives
    (``equicover demo``): ``identify`` runs the round once the registry and the households'
    consumption are loaded, in the same unit of work, and the enrolments, contributions and claims
    follow the categories it wrote."""
    try:
        loaded = load_policy(policy)
        migrate.upgrade(database_url)
        summary = _run(
            people=people,
            seed=seed,
            year=loaded.effective_from.year,
            claims=claims,
            url=database_url,
            policy=loaded,
            identified_by_round=identified_by_round,
            identify=identify,
        )
    except EquicoverError as error:
        _console.print(f"[red]{error.message}[/]")
        raise typer.Exit(1) from None
    _print_summary(summary, database_url)


def policy_period(policy: Policy) -> tuple[dt.date, dt.date]:
    """The year a province of the policy covers: its effective period, at most a year from its start."""
    start = policy.effective_from
    year_later = dt.date(start.year + 1, start.month, start.day if (start.month, start.day) != (2, 29) else 28)
    last = year_later - dt.timedelta(days=1)
    return start, min(policy.effective_to or last, last)


def _run(
    *,
    people: int,
    seed: int,
    year: int,
    claims: Path,
    url: str | None,
    policy: Policy | None = None,
    identified_by_round: frozenset[str] = frozenset(),
    identify: Callable[[Session], object] | None = None,
) -> GenerationSummary:
    options: dict[str, Any] = {}
    if policy is not None:
        year = policy.effective_from.year
        options = {
            "profile": profile_for_policy(policy.id),
            "period": policy_period(policy),
            "contribution_rules": policy.contribution,
        }
    if url is not None and identified_by_round:
        options["identified_by_round"] = identified_by_round
        if identify is not None:
            options["identify"] = identify
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_console, transient=True) as bar:
        task = bar.add_task("Starting", total=None)

        def progress(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total)

        if url is None:
            return generate_province(
                people=people, seed=seed, year=year, claims_path=claims, progress=progress, **options
            )
        engine = make_engine(url)
        try:
            with session_scope(make_session_factory(engine)) as session:
                return generate_province(
                    people=people,
                    seed=seed,
                    year=year,
                    session=session,
                    claims_path=claims,
                    progress=progress,
                    **options,
                )
        finally:
            engine.dispose()


def _print_summary(summary: GenerationSummary, url: str | None) -> None:
    table = Table(title=f"Synthetic province, seed {summary.seed}, year {summary.year}")
    table.add_column("What")
    table.add_column("Count", justify="right")
    for label, value in (
        ("persons", summary.people),
        ("households", summary.households),
        ("districts", summary.districts),
        ("communes", summary.communes),
        ("providers", summary.providers),
        ("enrolments", summary.enrolments),
        ("contributions", summary.contributions),
        ("category holdings", summary.category_holdings),
        ("claims", summary.claims),
    ):
        table.add_row(label, f"{value:,}")
    _console.print(table)
    _console.print(f"Enrolled: {summary.coverage:.1%} of persons")
    if url is not None:
        _console.print(f"Database: {shown_url(url)}")
    _console.print(f"Claims: {summary.claims_path}")
    timing = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.seconds.items())
    _console.print(f"[dim]{timing}[/]")
