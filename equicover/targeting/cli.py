"""Command line of targeting: `targeting check`, `targeting score`, `targeting round ...`.

Exit statuses, as for `settle`: 0 when everything was scored; 1 when some rows were rejected (they
are in the errors file) or a checked rules file has problems; 2 when nothing could be done (bad
rules, an unreadable answers file).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from equicover.auth.models import User
from equicover.commands import parse_date, unit_of_work
from equicover.console import make_console
from equicover.exports import safe_csv_writer
from equicover.targeting import service
from equicover.targeting.loader import RulesError, check_rules_files, load_rules
from equicover.targeting.scoring import AnswersFileError, score_file

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_FAILED = 2

targeting_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _console(*, stderr: bool = False) -> Console:
    return make_console(stderr=stderr, soft_wrap=True, highlight=False)


def _say(console: Console, text: str, style: str | None = None) -> None:
    console.print(text, style=style, markup=False)


def errors_path_for(out: Path) -> Path:
    """`O.csv` -> `O.errors.csv`, beside the output."""
    return out.with_name(f"{out.stem}.errors.csv")


@targeting_app.command("check")
def check(files: Annotated[list[Path], typer.Argument(help="Targeting rules files (TOML).")]) -> None:
    """Check targeting rules files: every problem with its file, line and key."""
    problems = check_rules_files(files)
    if problems:
        console = _console(stderr=True)
        for problem in problems:
            _say(console, str(problem))
        _say(console, f"{len(problems)} problem(s) in {len({p.file for p in problems})} file(s)", "bold red")
        raise typer.Exit(EXIT_REJECTED)
    _say(_console(), f"{len(files)} rules file(s) checked: no problems")


@targeting_app.command("score")
def score(
    rules: Annotated[Path, typer.Option("--rules", help="The targeting rules file (TOML).")],
    answers: Annotated[Path, typer.Option("--answers", help="Answers: CSV (Kobo/ODK export) or XLSX.")],
    out: Annotated[Path, typer.Option("--out", help="Scores CSV to write; bad rows go to <out>.errors.csv.")],
) -> None:
    """Score a file of questionnaire answers: scores, category and reason per household."""
    try:
        loaded = load_rules(rules)
    except RulesError as error:
        console = _console(stderr=True)
        _say(console, f"The rules {rules} cannot be used ({len(error.problems)} problem(s)); nothing was scored:")
        for problem in error.problems:
            _say(console, f"  {problem}")
        raise typer.Exit(EXIT_FAILED) from None
    errors_path = errors_path_for(out)
    errors_path.unlink(missing_ok=True)
    try:
        summary = score_file(loaded, answers, out, errors_path)
    except AnswersFileError as error:
        _say(_console(stderr=True), f"The answers file cannot be scored: {error.message}", "bold red")
        raise typer.Exit(EXIT_FAILED) from None
    console = _console()
    counts = ", ".join(f"{name} {count}" for name, count in sorted(summary.by_category.items()))
    _say(console, f"Scored {summary.scored} household(s) with rules {loaded.id} -> {out} ({counts})")
    if summary.rejected:
        _say(console, f"Rejected {summary.rejected} row(s): reasons in {errors_path}", "yellow")
        raise typer.Exit(EXIT_REJECTED)


@targeting_app.command("quality")
def quality(
    rules: Annotated[Path, typer.Option("--rules", help="The targeting rules file (TOML).")],
    households: Annotated[
        Path, typer.Option("--households", help="CSV: household, area, true_consumption (minor units), answers.")
    ],
    true_line: Annotated[int, typer.Option("--true-line", help="Poverty line, minor units per person and year.")],
) -> None:
    """Inclusion and exclusion errors of a rule set against true consumption, by area."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from equicover.targeting.quality import quality_of

    try:
        loaded = load_rules(rules)
    except RulesError as error:
        _say(_console(stderr=True), f"The rules {rules} cannot be used: {error.problems[0]}", "bold red")
        raise typer.Exit(EXIT_FAILED) from None
    try:
        with households.open(newline="", encoding="utf-8-sig") as handle:
            names = next(csv.reader(handle), [])
        types = {name: pa.string() for name in names} | {"true_consumption": pa.int64()}
        table = pa_csv.read_csv(households, convert_options=pa_csv.ConvertOptions(column_types=types))
    except (OSError, UnicodeDecodeError, pa.ArrowInvalid) as error:
        _say(_console(stderr=True), f"The households file cannot be read: {error}", "bold red")
        raise typer.Exit(EXIT_FAILED) from None
    missing = [name for name in ("household", "area", "true_consumption") if name not in table.column_names]
    if missing:
        _say(_console(stderr=True), f"The households file lacks column(s) {missing}", "bold red")
        raise typer.Exit(EXIT_FAILED)
    report = quality_of(loaded, table, true_line=true_line)
    console = _console()
    _say(console, "area\thouseholds\ttruly poor\tidentified\tinclusion error\texclusion error")
    for row in [*report.by_area, report.total]:
        _say(
            console,
            f"{row.area}\t{row.households}\t{row.truly_poor}\t{row.identified}\t"
            f"{row.inclusion_error:.1%}\t{row.exclusion_error:.1%}",
        )
    if report.rejected:
        _say(console, f"{report.rejected} household(s) refused (their answers break the rules): not counted", "yellow")


# --------------------------------------------------------------------------------------------
# Rounds in the database (`equicover targeting round ...`): each command is one unit of work,
# done in the name of an account (``--user``), whose rights the service checks.

round_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
targeting_app.add_typer(round_app, name="round", help="Rounds of identification in the database.")

USER_OPTION = typer.Option(..., "--user", help="The account that does this step (its area and level are checked).")


def _user(session: Session, username: str) -> User:
    from equicover.auth.service import get_user

    return get_user(session=session, username=username)


@round_app.command("open")
def round_open(
    rules: Annotated[Path, typer.Option("--rules", help="The targeting rules file (TOML).")],
    area: Annotated[str, typer.Option("--area", help="Code of the round's area.")],
    starts: Annotated[str, typer.Option("--from", help="First day of data collection.")],
    ends: Annotated[str, typer.Option("--to", help="Last day of data collection.")],
    username: str = USER_OPTION,
    on_demand: Annotated[bool, typer.Option("--on-demand", help="An on-demand identification.")] = False,
) -> None:
    """Open a round of identification for an area."""
    try:
        text = rules.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _say(_console(stderr=True), f"cannot read {rules}: {error}", "bold red")
        raise typer.Exit(EXIT_FAILED) from None
    with unit_of_work() as session:
        row = service.open_round(
            session=session,
            rules_text=text,
            area_code=area,
            starts_on=parse_date(starts, "--from"),
            ends_on=parse_date(ends, "--to"),
            user=_user(session, username),
            kind="on_demand" if on_demand else "regular",
        )
        round_id = row.id
    _say(_console(), f"Opened round {round_id}")


@round_app.command("import")
def round_import(
    round_id: Annotated[int, typer.Argument(help="The round.")],
    answers: Annotated[Path, typer.Argument(help="Answers: CSV (Kobo/ODK export) or XLSX.")],
    username: str = USER_OPTION,
) -> None:
    """Import answers into a round; bad rows go to <answers>.errors.csv (exit 1 if any)."""
    errors_path = answers.with_name(f"{answers.stem}.errors.csv")
    errors_path.unlink(missing_ok=True)
    with unit_of_work() as session:  # a file that cannot be read at all is refused whole: exit 1
        result = service.import_answers(session=session, round_id=round_id, path=answers, user=_user(session, username))
    _say(
        _console(),
        f"Round {round_id}: read {result.rows_read}, imported {result.imported}, "
        f"already imported {result.already_imported}",
    )
    if result.rejections:
        with errors_path.open("w", newline="", encoding="utf-8") as handle:
            writer = safe_csv_writer(handle)
            writer.writerow(("line", "household", "field", "reason"))
            writer.writerows((r.line, r.household, r.field, r.reason) for r in result.rejections)
        _say(_console(), f"Rejected {len({r.line for r in result.rejections})} row(s): reasons in {errors_path}")
        raise typer.Exit(EXIT_REJECTED)


@round_app.command("score")
def round_score(round_id: Annotated[int, typer.Argument(help="The round.")], username: str = USER_OPTION) -> None:
    """Score every household of the round."""
    with unit_of_work() as session:
        counts = service.score_round(session=session, round_id=round_id, user=_user(session, username))
    _say(_console(), f"Round {round_id} scored: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


@round_app.command("list")
def round_list(
    round_id: Annotated[int, typer.Argument(help="The round.")],
    village: Annotated[str | None, typer.Option("--village")] = None,
) -> None:
    """The preliminary list, village by village: household, proposed and final category, reason."""
    with unit_of_work() as session:
        listed = service.preliminary_list(session=session, round_id=round_id, village=village)
        console = _console()
        for name, rows in listed.items():
            _say(console, f"Village {name}")
            for entry in rows:
                _say(console, f"  {entry.household_code}  {entry.proposed}  {entry.final}  {entry.reason}")


@round_app.command("notice")
def round_notice(
    round_id: Annotated[int, typer.Argument(help="The round.")],
    on: Annotated[str, typer.Option("--on", help="First day of the notice.")],
    username: str = USER_OPTION,
    out: Annotated[Path | None, typer.Option("--out", help="Write the printable list here.")] = None,
) -> None:
    """Post the list: the notice period starts."""
    with unit_of_work() as session:
        row = service.publish_notice(
            session=session, round_id=round_id, on=parse_date(on, "--on"), user=_user(session, username)
        )
        text = service.printable_notice(session=session, round_id=round_id)
        _say(_console(), f"Round {round_id}: notice from {row.notice_from} to {row.notice_to}")
    if out is not None:
        out.write_text(text, encoding="utf-8")


@round_app.command("approve")
def round_approve(
    round_id: Annotated[int, typer.Argument(help="The round.")],
    on: Annotated[str, typer.Option("--on", help="The approval day: the categories hold from it.")],
    username: str = USER_OPTION,
) -> None:
    """Approve the round: members of listed households receive their categories."""
    with unit_of_work() as session:
        result = service.approve_round(
            session=session, round_id=round_id, on=parse_date(on, "--on"), user=_user(session, username)
        )
    console = _console()
    _say(
        console,
        f"Round {round_id} approved: {result.households} household(s), "
        f"{result.categories_written} category holding(s) written",
    )
    for change in result.transitions:
        until = f" (keeps it until {change.holds_until})" if change.holds_until else ""
        _say(console, f"  {change.household_code}: {change.before} -> {change.after}{until}")
