"""Registry-quality commands: ``import persons``, ``dedupe run|review|merge``, ``link ids``.

Each command runs its own units of work (the import one per batch, the others one each) and
prints errors without a traceback, exiting non-zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from equicover.commands import ACTOR_OPTION, DATABASE_URL_OPTION, console, fail, migrated_session_factory
from equicover.db.session import session_scope
from equicover.errors import EquicoverError

if TYPE_CHECKING:
    from equicover.registry.models import Person

import_app = typer.Typer(no_args_is_help=True, help="Import lists from other agencies.")
dedupe_app = typer.Typer(no_args_is_help=True, help="Find, review and merge duplicate persons (Splink).")
link_app = typer.Typer(no_args_is_help=True, help="Link persons to a national ID register.")


def _spinner() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
    )


@import_app.command("persons")
def import_persons(
    file: Path = typer.Argument(..., help="CSV or XLSX file with a header row."),
    mapping: Path = typer.Option(..., "--mapping", help="TOML column mapping (see docs/registry-quality.md)."),
    source: str = typer.Option(..., "--source", help="Name of the list (idempotency: source + row id)."),
    report: Path | None = typer.Option(None, "--report", help="Rejected-rows report (default: FILE.rejected.csv)."),
    batch_size: int = typer.Option(20_000, "--batch-size", min=1, help="Rows per transaction."),
    database_url: str | None = DATABASE_URL_OPTION,
    actor: str = ACTOR_OPTION,
) -> None:
    """Import persons: every row validated, good rows written batch by batch, bad rows reported."""
    from equicover.registry.importer import ImportMapping, count_data_rows, import_persons_file

    report_path = report or file.with_name(file.name + ".rejected.csv")
    try:
        parsed = ImportMapping.load(mapping)
        if not file.exists():
            console.print(f"[red]file {file.name}: not found[/]")
            raise typer.Exit(1)
        total = count_data_rows(file)
        columns = (TextColumn("Importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with (
            migrated_session_factory(database_url) as factory,
            Progress(*columns, console=console, transient=True) as bar,
        ):
            task = bar.add_task("import", total=total)
            summary = import_persons_file(
                factory=factory, path=file, mapping=parsed, source=source, report_path=report_path, actor=actor,
                batch_size=batch_size, progress=lambda done: bar.advance(task, done), pipeline=True,
            )  # fmt: skip
    except EquicoverError as error:
        fail(error)
        return
    table = Table(title=f"Import run {summary.run_id} ({source})")
    table.add_column("Rows")
    table.add_column("Count", justify="right")
    for label, value in (("read", summary.rows_read), ("imported", summary.imported),
                         ("already imported", summary.already_imported), ("rejected", summary.rejected)):  # fmt: skip
        table.add_row(label, f"{value:,}")
    console.print(table)
    console.print(f"Rejected rows: {report_path}")
    if summary.rejected:
        raise typer.Exit(2)


@dedupe_app.command("run")
def dedupe_run(
    review_threshold: float = typer.Option(0.5, "--review-threshold", help="Pairs from this probability go to review."),
    auto_threshold: float = typer.Option(
        0.99, "--auto-threshold", help="Pairs from this probability are accepted unless rejected."
    ),
    retrain: bool = typer.Option(False, "--retrain", help="Train the model again instead of reusing the last one."),
    backend: str = typer.Option(
        "duckdb", "--backend", help="duckdb, or spark (local mode; see the docs for a cluster)."
    ),
    database_url: str | None = DATABASE_URL_OPTION,
    actor: str = ACTOR_OPTION,
) -> None:
    """Find duplicate pairs with Splink and put the uncertain ones in the review queue."""
    from equicover.registry.dedupe import run_dedupe

    spark = None
    try:
        if backend == "spark":
            from equicover.registry.spark import local_spark

            spark = local_spark()
        with migrated_session_factory(database_url) as factory, _spinner() as bar, session_scope(factory) as session:
            task = bar.add_task("reading the registry")
            summary = run_dedupe(
                session=session, backend=backend, spark=spark, review_threshold=review_threshold,
                auto_threshold=auto_threshold, retrain=retrain, actor=actor,
                progress=lambda message: bar.update(task, description=message),
            )  # fmt: skip
    except EquicoverError as error:
        fail(error)
        return
    finally:
        if spark is not None:
            spark.stop()
    console.print(
        f"Dedupe run {summary.run_id}: {summary.persons:,} persons, {summary.pairs_found:,} pairs found, "
        f"{summary.pairs_auto:,} accepted automatically, {summary.pairs_queued:,} to review, "
        f"{summary.pairs_already_decided:,} already decided."
    )


def _person_line(person: Person) -> str:
    return (
        f"{person.full_name} | {person.sex} | born {person.birth_date} | household {person.household_id} | "
        f"location {person.location_id} | ID {'yes' if person.national_id else 'no'}"
    )


@dedupe_app.command("review")
def dedupe_review(
    limit: int = typer.Option(20, "--limit", min=1, help="Pairs to show."),
    decide: list[str] = typer.Option([], "--decide", help="PAIR_ID=confirm|reject, without prompting (repeatable)."),
    database_url: str | None = DATABASE_URL_OPTION,
    actor: str = ACTOR_OPTION,
) -> None:
    """Review uncertain pairs: confirm (same person) or reject; each decision is kept for good."""
    from equicover.registry.dedupe import count_pending, decide_pair, review_queue
    from equicover.registry.models import Person

    decisions = {"confirm": "confirmed", "c": "confirmed", "reject": "rejected", "r": "rejected"}
    try:
        with migrated_session_factory(database_url) as factory:
            if decide:
                with session_scope(factory) as session:
                    for item in decide:
                        pair_text, _, word = item.partition("=")
                        if not pair_text.isdigit() or word not in decisions:
                            console.print(f"[red]--decide {item!r}: expected PAIR_ID=confirm|reject[/]")
                            raise typer.Exit(1)
                        decide_pair(session=session, pair_id=int(pair_text), decision=decisions[word], actor=actor)
                console.print(f"{len(decide)} decision(s) recorded.")
                return
            with session_scope(factory) as session:
                queue = review_queue(session=session, limit=limit)
                pending = count_pending(session=session)
                shown = [(pair.id, pair.match_probability,
                          session.get_one(Person, pair.person_id_l), session.get_one(Person, pair.person_id_r))
                         for pair in queue]  # fmt: skip
            console.print(f"{pending:,} pair(s) waiting for review.")
            for pair_id, probability, left, right in shown:
                console.print(f"\n[bold]Pair {pair_id}[/] (match probability {probability:.3f})")
                console.print(f"  person {left.id}: {_person_line(left)}")
                console.print(f"  person {right.id}: {_person_line(right)}")
                answer = typer.prompt("  [c]onfirm, [r]eject, [s]kip, [q]uit", default="s").strip().lower()
                if answer == "q":
                    break
                if answer in decisions:
                    with session_scope(factory) as session:
                        decide_pair(session=session, pair_id=pair_id, decision=decisions[answer], actor=actor)
    except EquicoverError as error:
        fail(error)


@link_app.command("ids")
def link_ids_command(
    file: Path = typer.Argument(..., help="National ID register file (CSV)."),
    register: str = typer.Option("vneid", "--register", help="Name of the register."),
    id_type: str = typer.Option("vneid", "--id-type", help="The persons' id_type that the register's IDs are."),
    threshold: float = typer.Option(0.9, "--threshold", help="Least match probability for a probabilistic link."),
    report: Path | None = typer.Option(
        None, "--report", help="Report of unlinked and conflicting records (default: FILE.links.csv)."
    ),
    database_url: str | None = DATABASE_URL_OPTION,
    actor: str = ACTOR_OPTION,
) -> None:
    """Link persons to a national ID register: exact ID where present, probabilistic otherwise."""
    from equicover.registry.linking import link_ids, read_register, write_link_report

    report_path = report or file.with_name(file.name + ".links.csv")
    try:
        rows, unusable = read_register(file)
        with migrated_session_factory(database_url) as factory, _spinner() as bar, session_scope(factory) as session:
            task = bar.add_task("linking")
            summary = link_ids(session=session, rows=rows, register=register, id_type=id_type, threshold=threshold,
                               actor=actor, progress=lambda message: bar.update(task, description=message))  # fmt: skip
        summary.outcomes.extend(unusable)
        write_link_report(report_path, summary)
    except EquicoverError as error:
        fail(error)
        return
    table = Table(title=f"Links to {register}")
    table.add_column("Outcome")
    table.add_column("Count", justify="right")
    for status in (
        "linked_exact",
        "linked_probabilistic",
        "already_linked",
        "conflict",
        "unlinked",
        "register_row_unusable",
    ):
        table.add_row(status, f"{summary.count(status):,}")
    console.print(table)
    console.print(f"Report: {report_path}")
