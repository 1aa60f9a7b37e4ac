"""``equicover organisations``: coverage by the organisations that run a programme and their areas."""

from __future__ import annotations

import typer
from rich.table import Table

from equicover.commands import console, parse_date, unit_of_work

organisations_app = typer.Typer(no_args_is_help=True, help="Organisations that run a programme in an area.")


@organisations_app.command("coverage")
def organisations_coverage(
    on: str = typer.Option(..., "--on", help="The date coverage is measured on (YYYY-MM-DD)."),
    role: str = typer.Option(
        "responsible_organisation", "--role", help="responsible_organisation (Iran) or hef_operator (Cambodia)."
    ),
    by: str = typer.Option("organisation", "--by", help="organisation, or area (each neighbourhood or district)."),
) -> None:
    """Persons living in the areas of each organisation, and how many are enrolled."""
    from equicover.organisations import service

    day = parse_date(on, "--on")
    with unit_of_work() as session:
        rows = service.coverage(session=session, on=day, role=role, by=by)
    table = Table(title=f"Coverage on {day} by {by} ({role})")
    for column in ("Code", "Name", "Organisation", "Areas", "Population", "Enrolled", "Coverage %"):
        table.add_column(
            column, justify="right" if column in ("Areas", "Population", "Enrolled", "Coverage %") else "left"
        )
    for row in rows:
        rate = "" if row.rate is None else f"{100 * row.rate:.1f}"
        table.add_row(
            row.code, row.name, row.organisation, f"{row.areas:,}", f"{row.population:,}", f"{row.enrolled:,}", rate
        )
    console.print(table)
    population = sum(row.population for row in rows)
    enrolled = sum(row.enrolled for row in rows)
    if population:
        console.print(f"All areas: {enrolled:,} of {population:,} enrolled ({100 * enrolled / population:.2f} %)")


@organisations_app.command("drive")
def organisations_drive(
    start: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD)."),
    end: str = typer.Option(..., "--to", help="Last day (YYYY-MM-DD)."),
    by: str = typer.Option("month", "--by", help="month or week."),
    role: str = typer.Option("responsible_organisation", "--role", help="responsible_organisation or hef_operator."),
    per: str = typer.Option("area", "--per", help="area (each neighbourhood or district) or organisation."),
) -> None:
    """The enrolment drive: per area, the newly enrolled in each month (or week) and coverage at its end."""
    from equicover.organisations import service

    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    with unit_of_work() as session:
        points = service.enrolment_drive(session=session, starts=first, ends=last, step=by, role=role, by=per)
    table = Table(title=f"Enrolment drive {first} to {last} by {by} ({role}, per {per})")
    for column in ("Code", "Organisation", "From", "To", "Newly enrolled", "Population", "Enrolled", "Coverage %"):
        table.add_column(column, justify="left" if column in ("Code", "Organisation", "From", "To") else "right")
    for point in points:
        table.add_row(
            point.code,
            point.organisation,
            point.starts.isoformat(),
            point.ends.isoformat(),
            f"{point.newly_enrolled:,}",
            f"{point.population:,}",
            f"{point.enrolled:,}",
            "" if point.rate is None else f"{100 * point.rate:.1f}",
        )
    console.print(table)
