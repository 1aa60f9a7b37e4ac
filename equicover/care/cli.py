"""``equicover care``: the care ledger of the registered poor."""

from __future__ import annotations

import typer
from rich.table import Table

from equicover.commands import console, parse_date, unit_of_work

care_app = typer.Typer(no_args_is_help=True, help="Care ledger of the registered poor.")


@care_app.command("from-claims")
def care_from_claims(start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to")) -> None:
    """Note the chronic conditions of the registered poor seen in chronic out-patient claims."""
    from equicover.care import service

    with unit_of_work() as session:
        added = service.conditions_from_claims(
            session=session, starts=parse_date(start, "--from"), ends=parse_date(end, "--to"), actor="cli"
        )
    console.print(f"Noted {added:,} chronic conditions.")


@care_app.command("family-doctors")
def care_family_doctors(
    start: str = typer.Option(..., "--from"),
    end: str = typer.Option(..., "--to"),
    level: str = typer.Option("township", "--level", help="Provider level of the family-doctor teams."),
) -> None:
    """Sign a family-doctor contract for every registered-poor person without one (own commune's facility)."""
    from equicover.care import service

    with unit_of_work() as session:
        signed = service.sign_family_doctors_for_poor(
            session=session,
            starts=parse_date(start, "--from"),
            ends=parse_date(end, "--to"),
            provider_level=level,
            actor="cli",
        )
    console.print(f"Signed {signed:,} family-doctor contracts.")


@care_app.command("summary")
def care_summary(on: str = typer.Option(..., "--on")) -> None:
    """Registered poor by treatment status, family doctors and health checks."""
    from equicover.care import service

    with unit_of_work() as session:
        summary = service.status_summary(session=session, on=parse_date(on, "--on"))
    table = Table(title=f"Care ledger on {on}")
    table.add_column("Status")
    table.add_column("Persons", justify="right")
    for key, value in summary.items():
        table.add_row(key, f"{value:,}")
    console.print(table)


@care_app.command("untreated")
def care_untreated(on: str = typer.Option(..., "--on"), limit: int = typer.Option(50, "--limit")) -> None:
    """Registered-poor persons who need treatment and have none (by person id)."""
    from equicover.care import service

    with unit_of_work() as session:
        entries = service.untreated(session=session, on=parse_date(on, "--on"))
    table = Table(title=f"Needs treatment on {on}: {len(entries):,} persons")
    for column in ("Person", "District", "Needs", "Family doctor", "Last check"):
        table.add_column(column)
    for entry in entries[:limit]:
        needs = ", ".join(
            f"{need.diagnosis or '?'} since {need.noted_on}" for need in entry.needs if need.status == "needs_treatment"
        )
        table.add_row(
            str(entry.person_id),
            str(entry.district_id),
            needs,
            "yes" if entry.family_doctor_provider_id else "no",
            str(entry.last_health_check or ""),
        )
    console.print(table)
