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
