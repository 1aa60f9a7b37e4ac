"""Commands of stored claims: ``policy load`` and ``policy versions`` (the policy versions that settle
real-time claims) and ``load-claims`` (settle and store a file of claims in bulk)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from equicover.claims.service import list_policy_versions, store_policy_version
from equicover.commands import console, unit_of_work
from equicover.db.session import session_scope
from equicover.errors import EquicoverError

_console = Console(highlight=False, soft_wrap=True)


def policy_load(
    file: Path = typer.Argument(..., help="Policy file (TOML)"),
    scheme: str = typer.Option(..., "--scheme", help="Code of the scheme whose members this policy covers"),
) -> None:
    """Validate a policy file and store it as a version for a scheme (refuses overlapping periods)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _console.print(f"[red]error:[/red] cannot read {file}: {type(error).__name__}")
        raise typer.Exit(code=1) from None
    try:
        with session_scope() as session:
            version = store_policy_version(session=session, source_text=text, scheme_code=scheme, actor="cli")
            summary = (version.id, version.policy_id, version.effective_from, version.effective_to)
    except EquicoverError as error:
        _console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(code=1) from None
    end = summary[3].isoformat() if summary[3] else "open"
    _console.print(
        f"stored policy {summary[1]} as version {summary[0]} for scheme {scheme}: {summary[2].isoformat()} to {end}"
    )


def policy_versions(scheme: str | None = typer.Option(None, "--scheme", help="Only this scheme")) -> None:
    """List the stored policy versions with their effective dates."""
    with session_scope() as session:
        rows, _total = list_policy_versions(session=session, scheme_code=scheme, limit=10_000)
        table = Table("version", "policy", "from", "to", "scheme id", "uploaded by")
        for row in rows:
            table.add_row(
                str(row.id),
                row.policy_id,
                row.effective_from.isoformat(),
                row.effective_to.isoformat() if row.effective_to else "open",
                str(row.scheme_id),
                row.uploaded_by,
            )
    _console.print(table)


def load_claims(
    policy: Path = typer.Option(
        ..., "--policy", exists=True, dir_okay=False, help="The policy that settles the claims."
    ),
    claims: Path = typer.Option(..., "--claims", exists=True, dir_okay=False, help="The claims file (CSV or Parquet)."),
    scheme: str | None = typer.Option(
        None, "--scheme", help="Scheme whose enrolments and provider contracts apply (default: the policy version's)."
    ),
    synthetic_submission: bool = typer.Option(
        False,
        "--synthetic-submission",
        help="No submission times in the file: date them 0-14 days after discharge (synthetic data).",
    ),
    settlements: Path | None = typer.Option(
        None,
        "--settlements",
        hidden=True,
        help="Ignored: load-claims settles the claims itself (kept for older scripts).",
    ),
) -> None:
    """Settle a file of claims and store it: claims, payments, the members' accumulators and what
    each claim added to them. Claims the scheme does not pay (member not enrolled, provider without
    a contract, service not designated) are set aside before settlement and stored paid nothing."""
    from equicover.claims.bulk import load_settled_claims
    from equicover.settlement.loader import load_policy

    if settlements is not None:
        console.print(
            "[yellow]--settlements is ignored: load-claims settles the claims itself, "
            "after setting aside the claims the scheme does not pay.[/]"
        )
    loaded = load_policy(policy)
    with unit_of_work() as session:
        with console.status("Settling and storing claims..."):
            report = load_settled_claims(
                session=session,
                policy=loaded,
                claims_path=claims,
                scheme_code=scheme,
                actor="cli",
                synthetic_submission=synthetic_submission,
            )
    console.print(
        f"Stored {report.claims:,} claims and {report.payments:,} payments "
        f"({report.zero_outside_contract:,} from providers outside their contract and {report.zero_not_covered:,} "
        f"of members not covered on the date, set aside before settlement: paid nothing); "
        f"{report.accumulators:,} accumulators, {report.deltas:,} accumulator movements"
        + (
            f", {report.seeded_years:,} member-years continued from stored accumulators."
            if report.seeded_years
            else "."
        )
    )
