"""``equicover anomaly``: score stored claims and store the flags."""

from __future__ import annotations

import typer
from rich.table import Table

from equicover.commands import console, parse_date, unit_of_work

anomaly_app = typer.Typer(no_args_is_help=True, help="Anomaly detection over stored claims.")


@anomaly_app.command("run")
def anomaly_run(
    start: str = typer.Option(..., "--from"),
    end: str = typer.Option(..., "--to"),
    seed: int = typer.Option(0, "--seed"),
    top: int = typer.Option(15, "--top", help="Flags to print."),
) -> None:
    """Score the period's stored claims (robust z-scores, rules, IsolationForest) and store the flags."""
    from equicover.anomaly import service

    with unit_of_work() as session:
        with console.status("Scoring claims..."):
            run, result = service.run_detection(
                session=session,
                starts=parse_date(start, "--from"),
                ends=parse_date(end, "--to"),
                seed=seed,
                actor="cli",
            )
        flags = service.top_flags(session=session, run_id=run.id, limit=top)
    console.print(
        f"Run {run.id}: {run.claims_scanned:,} claims scanned in {result.seconds['total']:.1f} s, "
        f"{run.flags:,} flagged."
    )
    table = Table(title=f"Top {len(flags)} flags")
    for column in ("Claim", "Score", "Rules", "Reason"):
        table.add_column(column)
    for flag, claim_id in flags:
        table.add_row(claim_id, f"{flag.score:.1f}", flag.rules, flag.reason)
    console.print(table)
