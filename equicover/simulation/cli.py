"""Commands of what-if: ``simulate``, ``project`` and ``policy diff``.

Exit statuses: 0 when the figures are printed; 2 when nothing could be done (a policy that fails
``policy check``, an unreadable claims file, a base year without claims, a bad projection file),
with every problem named by file, line and key. ``policy diff`` exits 0 whether or not the
policies differ: only a policy it cannot load is an error.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console

from equicover.console import make_console
from equicover.errors import EquicoverError
from equicover.settlement.claims_file import ClaimFileError
from equicover.settlement.loader import PolicyError, load_policy
from equicover.settlement.model import Policy
from equicover.simulation.consumption import ConsumptionAssumptions, load_consumption
from equicover.simulation.data_files import DataFileError
from equicover.simulation.engine import SimulationError
from equicover.simulation.engine import simulate as run_simulation
from equicover.simulation.report import Sheet, print_sheets, simulation_sheets, write_sheets
from equicover.simulation.stored import parse_stored

EXIT_FAILED = 2


def _console(*, stderr: bool = False) -> Console:
    return make_console(stderr=stderr, soft_wrap=False, highlight=False)


def _refuse(lines: list[str]) -> typer.Exit:
    console = _console(stderr=True)
    for index, line in enumerate(lines):
        console.print(line, style="bold red" if index == 0 else None, markup=False)
    return typer.Exit(EXIT_FAILED)


def load_policies_or_exit(paths: list[Path], *, nothing: str = "nothing was simulated") -> list[Policy]:
    """Every policy, or exit 2 listing every problem of every file (as ``policy check`` does)."""
    policies: list[Policy] = []
    problems: list[str] = []
    for path in paths:
        try:
            policies.append(load_policy(path))
        except PolicyError as error:
            problems.extend(f"  {problem}" for problem in error.problems)
    if problems:
        raise _refuse([f"A policy fails `equicover policy check`; {nothing}:", *problems])
    return policies


def _data_file_or_exit(error: DataFileError, what: str) -> typer.Exit:
    return _refuse(
        [f"The {what} cannot be used ({len(error.problems)} problem(s)):"] + [f"  {p}" for p in error.problems]
    )


def _share(text: str) -> Fraction:
    try:
        value = Fraction(Decimal(text.strip()))
    except (InvalidOperation, ValueError):
        raise _refuse([f"--target-share: {text!r} is not a decimal number like 0.10"]) from None
    if not 0 <= value <= 1:
        raise _refuse([f"--target-share: {text} is outside 0..1"])
    return value


def simulate(
    claims: Annotated[
        str, typer.Option("--claims", help="Claims file (CSV or Parquet), or stored:YEAR for the stored claims.")
    ],
    policy: Annotated[
        list[Path], typer.Option("--policy", help="A policy TOML file; repeat: differences are against the first.")
    ],
    out: Annotated[Path | None, typer.Option("--out", help="Directory for the CSV files and simulation.xlsx.")] = None,
    consumption: Annotated[
        Path | None,
        typer.Option("--consumption", help="Household consumption per person by category (TOML), for SDG 3.8.2."),
    ] = None,
    poor_category: Annotated[
        str, typer.Option("--poor-category", help="The category of the poor.")
    ] = "registered_poor",
    target_share: Annotated[
        str, typer.Option("--target-share", help="The OOP share of a bill the poor should stay within.")
    ] = "0.10",
    top: Annotated[int, typer.Option("--top", min=0, help="How many of the most changed claims to list.")] = 20,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Database of stored:YEAR (default: the configured one).")
    ] = None,
) -> None:
    """Settle one year of claims under each policy and compare payers, members' OOP and catastrophic spending."""
    share = _share(target_share)
    policies = load_policies_or_exit(policy)
    assumptions: ConsumptionAssumptions | None = None
    if consumption is not None:
        try:
            assumptions = load_consumption(consumption)
        except DataFileError as error:
            raise _data_file_or_exit(error, "consumption file") from None
    console = _console()
    try:
        year = parse_stored(claims)
        source: Path | pa.Table
        if year is not None:
            source, _ = _stored_claims(year, database_url, policies[0].minor_digits, console)
        else:
            source = Path(claims)
            if not source.is_file():
                raise _refuse([f"The claims file cannot be read: {claims}: no such file; nothing was simulated"])
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        with console.status("Settling the claims under each policy..."):
            result = run_simulation(
                policies,
                source,
                consumption=assumptions,
                poor_category=poor_category,
                target_share=share,
                top=top,
                errors_dir=out,
            )
    except ClaimFileError as error:
        raise _refuse([f"The claims file cannot be read: {error}; nothing was simulated"]) from None
    except EquicoverError as error:
        raise _refuse([error.message]) from None
    except OSError as error:
        raise _refuse([f"cannot write to {out}: {error.strerror or error}"]) from None
    sheets = simulation_sheets(result)
    print_sheets(console, sheets)
    for index, figures in enumerate(result.figures):
        if figures.rejected:
            where = f" (reasons in {out})" if out is not None else " (give --out for the reasons)"
            console.print(
                f"policy {index + 1} ({result.policies[index].id}) rejected {figures.rejected:,} row(s){where}",
                style="yellow",
                markup=False,
            )
    if len(result.policies) > 1 and result.settled_by_all != result.figures[0].settled:
        console.print(
            f"{result.settled_by_all:,} claim(s) were settled under every policy; the totals of each policy count "
            "all the claims it settles.",
            style="yellow",
            markup=False,
        )
    if out is not None:
        written = _write_or_exit(out, sheets, "simulation.xlsx")
        console.print(f"Written: {', '.join(str(path) for path in written)}", markup=False)


def _write_or_exit(out: Path, sheets: list[Sheet], workbook: str) -> list[Path]:
    try:
        return write_sheets(out, sheets, workbook)
    except OSError as error:
        raise _refuse([f"cannot write the files to {out}: {error.strerror or error}"]) from None


def _stored_claims(
    year: int,
    database_url: str | None,
    minor_digits: int,
    console: Console,
    *,
    with_consumption: bool = True,
    groups: list[tuple[str, ...]] | None = None,
) -> tuple[pa.Table, list[int] | None]:
    """The stored year's claims and, given ``groups``, each group's enrolment of the year: one
    session (the schema is checked once, not once per read)."""
    from equicover.commands import migrated_session_factory
    from equicover.db.session import session_scope
    from equicover.simulation.stored import enrolled_by_group, stored_year_claims

    counted = None
    with migrated_session_factory(database_url) as factory, session_scope(factory) as session:
        stored = stored_year_claims(
            session=session, year=year, default_minor_digits=minor_digits, with_consumption=with_consumption
        )
        if groups is not None and stored.claims:
            counted = enrolled_by_group(session=session, year=year, groups=groups)
    if stored.claims == 0:
        raise SimulationError(
            f"stored:{year}: no stored claims with a service date in {year}: a base year needs claims"
        )
    console.print(
        f"stored:{year}: {stored.claims:,} settled claims ({stored.set_aside:,} set aside as not covered or outside "
        f"a contract, {stored.reversed:,} reversed: left out)",
        markup=False,
    )
    return stored.table, counted


def policy_diff(
    first: Annotated[Path, typer.Argument(help="The policy in force (TOML).")],
    second: Annotated[Path, typer.Argument(help="The policy it is compared with (TOML).")],
) -> None:
    """What changed from the first policy to the second: layers, conditions, bands, ratios, caps, dates."""
    from equicover.simulation.policy_diff import diff_policies

    before, after = load_policies_or_exit([first, second], nothing="nothing was compared")
    changes = diff_policies(before, after)
    console = _console()
    if not changes:
        console.print(f"No difference between {first} and {second}.", markup=False)
        return
    console.print(f"{len(changes)} change(s) from {first} to {second}:", markup=False)
    for change in changes:
        console.print(f"- {change.where}: {change.what}", markup=False)


def project(
    projection: Annotated[Path, typer.Option("--projection", help="The projection file (TOML, projections/).")],
    years: Annotated[str, typer.Option("--years", help="Years to project, e.g. 2026-2030.")],
    claims: Annotated[
        str | None, typer.Option("--claims", help="Base-year claims (file or stored:YEAR); default: the file's.")
    ] = None,
    claims_population: Annotated[
        int | None, typer.Option("--claims-population", min=1, help="People whose claims the base claims are.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Directory for the CSV files and projection.xlsx.")] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Database of stored:YEAR (default: the configured one).")
    ] = None,
) -> None:
    """Contributions by payer, expected payments per layer and each fund's gap, year by year, with ranges."""
    import dataclasses
    import time

    from equicover.simulation.engine import member_sums
    from equicover.simulation.projection import load_projection, parse_years
    from equicover.simulation.projection import project as run_projection
    from equicover.simulation.report import projection_sheets

    started = time.perf_counter()
    try:
        loaded = load_projection(projection)
        if claims_population is not None:
            loaded = dataclasses.replace(loaded, claims_population=claims_population)
        span = parse_years(years, loaded.base_year)
    except DataFileError as error:
        raise _data_file_or_exit(error, "projection file") from None
    except PolicyError as error:
        raise _refuse(
            ["The projection's policy fails `equicover policy check`:", *(f"  {p}" for p in error.problems)]
        ) from None
    base = claims or loaded.base_claims
    if base is None:
        raise _refuse([f"{projection}: projection.base_claims is missing: give --claims FILE or stored:YEAR"])
    console = _console()
    try:
        year = parse_stored(base)
        source: Path | pa.Table
        if year is not None:
            if year != loaded.base_year:
                raise SimulationError(f"--claims {base}: the projection's base year is {loaded.base_year}")
            source, counted = _stored_claims(
                year,
                database_url,
                loaded.policy.minor_digits,
                console,
                with_consumption=False,
                groups=[group.categories for group in loaded.groups],
            )
        else:
            source = Path(base)
            counted = None
            if not source.is_file():
                raise _refuse([f"The claims file cannot be read: {base}: no such file"])
        with console.status("Settling the base year and resampling it..."):
            sums = member_sums(loaded.policy, source, [group.categories for group in loaded.groups])
            result = run_projection(loaded, sums, span, counted=counted)
        if counted is not None:
            result.notes.append(
                f"the base enrolment of each group is counted in the registry (persons enrolled in {year})"
            )
        else:
            result.notes.append(
                f"the base enrolment of each group is claims_population ({loaded.claims_population:,}) x its "
                f"population_share x its {loaded.base_year} enrolment"
            )
    except ClaimFileError as error:
        raise _refuse([f"The claims file cannot be read: {error}"]) from None
    except DataFileError as error:
        raise _data_file_or_exit(error, "projection file") from None
    except EquicoverError as error:
        raise _refuse([error.message]) from None
    sheets = projection_sheets(result)
    print_sheets(console, sheets)
    console.print(
        f"Base year {loaded.base_year}: {result.settled:,} claims settled with {loaded.policy.id}"
        f" ({result.rejected:,} rejected, {result.outside_groups:,} of members in no group left out); "
        f"{len(span)} year(s) projected in {time.perf_counter() - started:.1f} s.",
        markup=False,
    )
    if out is not None:
        written = _write_or_exit(out, sheets, "projection.xlsx")
        console.print(f"Written: {', '.join(str(path) for path in written)}", markup=False)
