"""Command line of settlement: `settle`, `policy check`, `policy explain`, `contributions`.

Exit statuses: 0 when everything was settled; 1 when some rows were rejected (they are in the
errors file) or a checked policy has problems; 2 when nothing could be done (a bad policy, an
unreadable or malformed file). Bad input is reported as messages, never as a traceback.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from equicover.console import make_console
from equicover.money import format_money
from equicover.settlement.claims_file import (
    ClaimError,
    ClaimFileError,
    iter_claims_csv,
    write_errors_csv,
    write_settlements_csv,
)
from equicover.settlement.contributions import (
    MembersFileError,
    compute_contributions,
    read_members_csv,
    write_contributions_csv,
)
from equicover.settlement.loader import PolicyError, check_policies, load_policy
from equicover.settlement.model import Claim, Policy
from equicover.settlement.realtime_engine import (
    InMemoryAccumulatorStore,
    RealtimeEngine,
    describe_settlement,
    settlement_order,
)

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_FAILED = 2
ENGINES = ("batch", "realtime")
# Files above this size get a progress bar; small ones finish before a bar would be readable.
PROGRESS_THRESHOLD_BYTES = 2_000_000
PROGRESS_EVERY_ROWS = 5_000

policy_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _console(*, stderr: bool = False) -> Console:
    # Created per command, so output goes wherever stdout is at call time (CliRunner included).
    return make_console(stderr=stderr, soft_wrap=True, highlight=False)


def _say(console: Console, text: str, style: str | None = None) -> None:
    # Messages carry key paths like layer[2].bands[0]: never read them as Rich markup.
    console.print(text, style=style, markup=False)


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    _say(_console(stderr=True), message, "bold red")
    return typer.Exit(code)


def _load_policy_or_exit(path: Path) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as error:
        console = _console(stderr=True)
        _say(
            console,
            f"The policy {path} cannot be used ({len(error.problems)} problem(s)); nothing was settled:",
            "bold red",
        )
        for problem in error.problems:
            _say(console, f"  {problem}")
        raise typer.Exit(EXIT_FAILED) from None


def errors_path_for(out: Path) -> Path:
    """`O.csv` -> `O.errors.csv`, beside the output."""
    return out.with_name(f"{out.stem}.errors.csv")


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _is_large(path: Path) -> bool:
    try:
        return path.stat().st_size > PROGRESS_THRESHOLD_BYTES
    except OSError:
        return False


def settle(
    policy: Annotated[Path, typer.Option("--policy", help="The policy TOML file.")],
    claims: Annotated[Path, typer.Option("--claims", help="Claims CSV (columns of docs/settlement.md).")],
    out: Annotated[Path, typer.Option("--out", help="Settlements CSV to write; bad rows go to <out>.errors.csv.")],
    engine: Annotated[str, typer.Option("--engine", help="batch (DuckDB, for files) or realtime.")] = "batch",
) -> None:
    """Settle a file of claims: the payer cascade for each bill."""
    if engine not in ENGINES:
        raise _fail(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    loaded = _load_policy_or_exit(policy)
    errors_path = errors_path_for(out)
    try:
        # An errors file left by an earlier run would describe rows of another file.
        errors_path.unlink(missing_ok=True)
    except OSError as error:
        raise _fail(f"cannot remove the old errors file {errors_path}: {error.strerror or error}") from None
    console = _console()
    if engine == "realtime":
        settled, rejected = _settle_realtime(loaded, claims, out, errors_path, console)
    else:
        settled, rejected = _settle_batch(loaded, claims, out, errors_path, console)
    _say(console, f"Settled {settled} claim(s) with policy {loaded.id} ({engine} engine) -> {out}")
    if rejected:
        _say(console, f"Rejected {rejected} row(s): reasons in {errors_path}", "yellow")
        raise typer.Exit(EXIT_REJECTED)


def _settle_realtime(
    policy: Policy, claims_path: Path, out: Path, errors_path: Path, console: Console
) -> tuple[int, int]:
    claims: list[Claim] = []
    errors: list[ClaimError] = []
    rejected_lines: set[int] = set()
    show = _is_large(claims_path)
    with _progress(console) as progress:
        reading = progress.add_task("reading claims", total=None, visible=show)
        try:
            for count, (claim, row_errors) in enumerate(iter_claims_csv(claims_path, policy), start=1):
                if claim is not None:
                    claims.append(claim)
                else:
                    errors.extend(row_errors)
                    rejected_lines.add(row_errors[0].line)
                if count % PROGRESS_EVERY_ROWS == 0:
                    progress.update(reading, completed=count)
        except ClaimFileError as error:
            raise _fail(f"The claims file cannot be read: {error}; nothing was settled") from None
        progress.update(reading, visible=False)
        settling = progress.add_task("settling", total=len(claims), visible=show)
        engine = RealtimeEngine(policy, InMemoryAccumulatorStore())
        settlements = []
        for count, claim in enumerate(sorted(claims, key=settlement_order), start=1):
            settlements.append(engine.settle(claim))
            if count % PROGRESS_EVERY_ROWS == 0:
                progress.update(settling, completed=count)
        progress.update(settling, completed=len(claims))
    try:
        write_settlements_csv(out, policy, settlements)
        if errors:
            write_errors_csv(errors_path, errors)
    except OSError as error:
        raise _fail(f"cannot write the output: {error.strerror or error} ({error.filename})") from None
    return len(settlements), len(rejected_lines)


def _settle_batch(policy: Policy, claims_path: Path, out: Path, errors_path: Path, console: Console) -> tuple[int, int]:
    try:
        import duckdb

        from equicover.settlement import batch_engine as batch
    except ImportError as error:
        raise _fail(f"the batch engine is not available ({error}); use --engine realtime") from None
    unreadable: tuple[type[BaseException], ...] = (ClaimFileError, duckdb.Error, OSError, UnicodeDecodeError)
    batch_file_error = getattr(batch, "ClaimsFileError", None)
    if isinstance(batch_file_error, type):
        unreadable += (batch_file_error,)
    if not claims_path.is_file():
        raise _fail(f"The claims file cannot be read: {claims_path}: no such file; nothing was settled")
    with _progress(console) as progress:
        task = progress.add_task("settling (batch)", total=None, visible=_is_large(claims_path))

        def report(step: str, done: int, total: int) -> None:
            progress.update(task, description=f"settling (batch): {step}", completed=done, total=total)

        try:
            result = batch.settle_file(policy, claims_path, out, errors_path=errors_path, progress=report)
        except unreadable as error:
            raise _fail(f"The claims file cannot be read: {error}; nothing was settled") from None
    settled = getattr(result, "settled", None)
    rejected = getattr(result, "rejected", None)
    if settled is None or rejected is None:
        settled, rejected = _count_rows(out), _count_rejected_lines(errors_path)
    return settled, rejected


def _count_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as handle:
        return max(0, sum(1 for _ in csv.reader(handle)) - 1)


def _count_rejected_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open(encoding="utf-8", newline="") as handle:
        return len({row["line"] for row in csv.DictReader(handle)})


@policy_app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="Policy TOML files; policies with the same id must not overlap.")],
) -> None:
    """Validate policy files: every problem with its file, line and key."""
    console = _console()
    problems = check_policies(files)
    bad_files = {problem.file for problem in problems}
    for path in files:
        if str(path) not in bad_files:
            _say(console, f"ok  {path}", "green")
    for problem in problems:
        _say(console, f"{problem}", "red")
    if problems:
        _say(console, f"{len(problems)} problem(s) in {len(bad_files)} file(s)", "bold red")
        raise typer.Exit(EXIT_REJECTED)
    _say(console, f"{len(files)} policy file(s) checked, no problems")


@policy_app.command("explain")
def explain(
    file: Annotated[Path, typer.Argument(help="The policy TOML file.")],
    claims: Annotated[Path, typer.Option("--claims", help="Claims CSV holding the claim.")],
    claim: Annotated[str, typer.Option("--claim", help="A claim_id, or a 1-based data row number.")],
) -> None:
    """The readable trail of one claim, after the member's earlier claims of the file."""
    policy = _load_policy_or_exit(file)
    rows: list[tuple[Claim | None, list[ClaimError]]] = []
    try:
        rows = list(iter_claims_csv(claims, policy))
    except ClaimFileError as error:
        raise _fail(f"The claims file cannot be read: {error}") from None
    target = _find_row(rows, claim)
    if target is None:
        raise _fail(f"no claim {claim!r} in {claims} (give a claim_id or a data row number 1..{len(rows)})")
    target_claim, target_errors = target
    if target_claim is None:
        console = _console(stderr=True)
        _say(console, f"claim {claim!r} is rejected and cannot be settled:", "bold red")
        for rejection in target_errors:
            _say(console, f"  line {rejection.line}: {rejection.field}: {rejection.reason}")
        raise typer.Exit(EXIT_REJECTED)
    member_claims = sorted(
        (
            row_claim
            for row_claim, _ in rows
            if row_claim is not None
            and row_claim.member_id == target_claim.member_id
            and settlement_order(row_claim) <= settlement_order(target_claim)
        ),
        key=settlement_order,
    )
    engine = RealtimeEngine(policy, InMemoryAccumulatorStore())
    for earlier in member_claims[:-1]:
        engine.settle(earlier)
    settlement, traces = engine.settle_traced(target_claim)
    console = _console()
    if len(member_claims) > 1:
        _say(
            console,
            f"(after {len(member_claims) - 1} earlier claim(s) of member {target_claim.member_id} in this file)",
        )
    _say(console, describe_settlement(policy, target_claim, settlement, traces))


def _find_row(
    rows: list[tuple[Claim | None, list[ClaimError]]], wanted: str
) -> tuple[Claim | None, list[ClaimError]] | None:
    wanted = wanted.strip()
    for row in rows:
        claim, errors = row
        claim_id = claim.claim_id if claim is not None else errors[0].claim_id
        if claim_id == wanted:
            return row
    if wanted.isascii() and wanted.isdigit() and 1 <= int(wanted) <= len(rows):
        return rows[int(wanted) - 1]
    return None


def contributions(
    policy: Annotated[Path, typer.Option("--policy", help="A policy TOML file with a [contribution] table.")],
    members: Annotated[Path, typer.Option("--members", help="Members CSV: household_id, member_id, categories.")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: member_id, payer, amount.")],
) -> None:
    """Each member's yearly contribution, split among the payers of the policy's subsidy rules."""
    loaded = _load_policy_or_exit(policy)
    if loaded.contribution is None:
        raise _fail(f"the policy {policy} has no [contribution] rules")
    try:
        member_list = read_members_csv(members)
    except MembersFileError as error:
        if not error.errors:
            raise _fail(f"The members file cannot be read: {error}") from None
        console = _console(stderr=True)
        _say(console, f"{members}: {len(error.errors)} bad row(s); nothing was written:", "bold red")
        for row_error in error.errors:
            _say(console, f"  {row_error}")
        raise typer.Exit(EXIT_REJECTED) from None
    rows = compute_contributions(loaded.contribution, member_list)
    try:
        write_contributions_csv(out, rows, loaded.minor_digits)
    except OSError as error:
        raise _fail(f"cannot write the output: {error.strerror or error} ({error.filename})") from None
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row.payer] += row.amount
    console = _console()
    _say(console, f"Contributions of {len(member_list)} member(s) with policy {loaded.id} -> {out}")
    for payer, amount in totals.items():
        _say(console, f"  {payer}: {format_money(amount, loaded.minor_digits)} {loaded.currency}")
