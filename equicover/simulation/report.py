"""A simulation's figures as sheets: Rich tables on the console, CSV files and one XLSX workbook.

Each sheet is built once (:func:`simulation_sheets`) and rendered three ways, so the console, the
CSV files and the workbook always show the same numbers. Money is an exact ``Decimal`` in major
units made from the integer minor units (never a float); differences are each policy minus the
first one given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from openpyxl import Workbook
from rich.console import Console
from rich.table import Table

from equicover.exports import safe_csv_writer, store_formulas_as_text
from equicover.money import RATIO_SCALE
from equicover.simulation.engine import GroupRow, SimulationResult
from equicover.simulation.projection import ProjectionResult

Cell = str | int | Decimal | None


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str  # file stem and worksheet title
    title: str  # what the console shows above the table
    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    note: str = ""


def money(minor: int, digits: int) -> Decimal:
    return Decimal(minor).scaleb(-digits)


def percent(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with one decimal, rounded half up; "-" when whole is 0."""
    if whole == 0:
        return "-"
    tenths = (Fraction(part * 1000, whole) + Fraction(1, 2)).__floor__()
    return f"{tenths // 10}.{tenths % 10}%"


def ratio_text(scaled: int) -> str:
    value = Decimal(scaled) / RATIO_SCALE * 100
    return f"{value.normalize():f}%"


def _labels(result: SimulationResult) -> list[str]:
    return [f"{i + 1}:{policy.id}" for i, policy in enumerate(result.policies)]


def _with_differences(values: Sequence[int | None]) -> list[int | None]:
    first = values[0]
    return [*values, *((v - first) if v is not None and first is not None else None for v in values[1:])]


def totals_sheet(result: SimulationResult) -> Sheet:
    digits = result.minor_digits
    labels = _labels(result)
    header = ("what", "payer", *labels, *(f"{label} minus {labels[0]}" for label in labels[1:]))
    rows: list[tuple[Cell, ...]] = []

    def add(what: str, payer: str, values: Sequence[int | None]) -> None:
        cells = [None if v is None else money(v, digits) for v in _with_differences(values)]
        rows.append((what, payer, *cells))

    for layer_id, payer in result.layers:
        add(f"layer {layer_id}", payer, [figures.paid.get(layer_id) for figures in result.figures])
    allowance_ids = list(dict.fromkeys(a.id for p in result.policies for a in p.allowances))
    for allowance_id in allowance_ids:
        add(f"allowance {allowance_id}", "paid to the member", [f.allowances.get(allowance_id) for f in result.figures])
    add("all payers", "", [f.paid_total for f in result.figures])
    add("members' out-of-pocket", "members", [f.member_oop for f in result.figures])
    add("provider write-offs", "providers", [f.provider_writeoff for f in result.figures])
    add("allowed (billed, after fixed fees)", "", [f.allowed for f in result.figures])
    return Sheet("totals", f"Who pays ({result.currency})", header, rows)


def equity_sheet(result: SimulationResult) -> Sheet:
    labels = _labels(result)
    header = ("figure", *labels, *(f"{label} minus {labels[0]}" for label in labels[1:]))
    rows: list[tuple[Cell, ...]] = []
    figures = result.figures

    def add(what: str, values: Sequence[int | None], shares_of: Sequence[int | None] | None = None) -> None:
        rows.append((what, *_with_differences(values)))
        if shares_of is not None:
            shares: list[Cell] = [
                None if value is None or whole is None else percent(value, whole)
                for value, whole in zip(values, shares_of)
            ]
            rows.append(("    as a share", *shares, *(None for _ in values[1:])))

    share = Decimal(result.target_share.numerator) / result.target_share.denominator * 100
    target = f"{share.normalize():f}%"
    add("claims settled", [f.settled for f in figures])
    add("rows rejected", [f.rejected for f in figures])
    stays = [f.poor_inpatient_stays for f in figures]
    add(f"inpatient stays of {result.poor_category} members", stays)
    add(f"  of which OOP above {target} of the bill", [f.above_target for f in figures], stays)
    ceilings = ", ".join(
        f"{label}: {ratio_text(f.ceiling) if f.ceiling is not None else 'none'}" for label, f in zip(labels, figures)
    )
    add(f"  of which OOP above the policy's own ceiling ({ceilings})", [f.above_ceiling for f in figures], stays)
    households = [f.households for f in figures]
    add("households with a settled claim", households)
    measured = [f.measured for f in figures]
    add("  left out of the catastrophic shares: no consumption known", [f.left_out for f in figures])
    add("  with their consumption known", measured)
    add("    catastrophic: OOP above 10% of consumption", [f.catastrophic_10 for f in figures], measured)
    add("    catastrophic: OOP above 25% of consumption", [f.catastrophic_25 for f in figures], measured)
    note = f"Household consumption: {result.consumption_note}."
    return Sheet("equity", "Protection of the poor and catastrophic spending (SDG 3.8.2)", header, rows, note)


def group_sheet(result: SimulationResult, groups: list[GroupRow], name: str, by: str) -> Sheet:
    digits = result.minor_digits
    labels = _labels(result)
    header = (
        by,
        "policy",
        "claims",
        "allowed",
        "paid by payers",
        "members' OOP",
        f"OOP minus {labels[0]}",
        "households",
        "households with consumption known",
        "catastrophic >10%",
        "catastrophic >25%",
        "catastrophic >10% share",
        "catastrophic >25% share",
    )
    rows: list[tuple[Cell, ...]] = []
    known = result.figures[0].catastrophic_10 is not None
    for group in groups:
        first = group.figures[0]
        for label, figures in zip(labels, group.figures):
            rows.append(
                (
                    group.key,
                    label,
                    figures.claims,
                    money(figures.allowed, digits),
                    money(figures.paid, digits),
                    money(figures.member_oop, digits),
                    money(figures.member_oop - first.member_oop, digits),
                    figures.households,
                    figures.measured if known else None,
                    figures.catastrophic_10 if known else None,
                    figures.catastrophic_25 if known else None,
                    percent(figures.catastrophic_10, figures.measured) if known and figures.measured else None,
                    percent(figures.catastrophic_25, figures.measured) if known and figures.measured else None,
                )
            )
    note = (
        "A member counts under each of its categories and a household under each category of its claimants, "
        "so the rows of a policy add up to more than its total."
        if by == "category"
        else "District of the member's household (registry, or the claims file's district column)."
    )
    return Sheet(name, f"By {by}", header, rows, note)


def changed_sheet(result: SimulationResult) -> Sheet:
    digits = result.minor_digits
    labels = _labels(result)
    header = (
        "claim_id",
        "member_id",
        "care_type",
        *(f"allowed {label}" for label in labels),
        *(f"OOP {label}" for label in labels),
        *(f"OOP {label} minus {labels[0]}" for label in labels[1:]),
        "payments that change",
        *(f"trail {label}" for label in labels),
    )
    rows: list[tuple[Cell, ...]] = []
    for claim in result.changed:
        changes = []
        for layer_id, _ in result.layers:
            values = [paid.get(layer_id) for paid in claim.paid]
            if len(set(values)) > 1:
                shown = " -> ".join("-" if v is None else f"{money(v, digits):,}" for v in values)
                changes.append(f"{layer_id} {shown}")
        rows.append(
            (
                claim.claim_id,
                claim.member_id,
                claim.care_type,
                *(money(v, digits) for v in claim.allowed),
                *(money(v, digits) for v in claim.member_oop),
                *(money(v - claim.member_oop[0], digits) for v in claim.member_oop[1:]),
                "; ".join(changes),
                *claim.trail,
            )
        )
    return Sheet("changed_claims", "Claims whose outcome changes most", header, rows)


def simulation_sheets(result: SimulationResult) -> list[Sheet]:
    sheets = [
        totals_sheet(result),
        equity_sheet(result),
        group_sheet(result, result.by_category, "by_category", "category"),
        group_sheet(result, result.by_district, "by_district", "district"),
    ]
    if len(result.policies) > 1:
        sheets.append(changed_sheet(result))
    return sheets


def _shown(cell: Cell) -> str:
    if cell is None:
        return "-"
    if isinstance(cell, (int, Decimal)):
        return f"{cell:,}"
    return cell


def print_sheets(console: Console, sheets: Sequence[Sheet], *, skip: Sequence[str] = ()) -> None:
    for sheet in sheets:
        if sheet.name in skip:
            continue
        table = Table(title=sheet.title, title_justify="left")
        # trails are for the files: on a console they would crowd out the figures
        shown = [index for index, column in enumerate(sheet.header) if not column.startswith("trail ")]
        for index in shown:
            table.add_column(sheet.header[index], justify="left" if index == 0 else "right", overflow="fold")
        for row in sheet.rows:
            table.add_row(*(_shown(row[index]) for index in shown))
        console.print(table)
        if sheet.note:
            console.print(sheet.note, markup=False)


def write_sheets(out_dir: Path, sheets: Sequence[Sheet], workbook_name: str) -> list[Path]:
    """One CSV per sheet and one workbook with a worksheet per sheet; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    book = Workbook()
    default = book.active
    for sheet in sheets:
        path = out_dir / f"{sheet.name}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = safe_csv_writer(handle, lineterminator="\n")
            writer.writerow(sheet.header)
            writer.writerows(("" if cell is None else str(cell) for cell in row) for row in sheet.rows)
        written.append(path)
        worksheet = book.create_sheet(sheet.name[:31])
        worksheet.append(list(sheet.header))
        for row in sheet.rows:
            worksheet.append(list(row))
        if sheet.note:
            worksheet.append([])
            worksheet.append([sheet.note])
    if default is not None:
        book.remove(default)
    store_formulas_as_text(book)
    workbook = out_dir / workbook_name
    book.save(workbook)
    written.append(workbook)
    return written


def projection_sheets(result: ProjectionResult) -> list[Sheet]:
    projection = result.projection
    policy = projection.policy
    digits = policy.minor_digits
    currency = policy.currency
    low, high = f"{float(projection.low) * 100:g}%", f"{float(projection.high) * 100:g}%"
    enrolment: list[tuple[Cell, ...]] = [
        (str(projection.base_year), group, None, enrolled) for group, enrolled in result.base_enrolled.items()
    ]
    for year in result.years:
        enrolment.append((str(year.year), "population", year.population, None))
        enrolment.extend((str(year.year), group, None, enrolled) for group, enrolled in year.enrolled.items())
    contributions: list[tuple[Cell, ...]] = [
        (str(year.year), payer, money(amount, digits))
        for year in result.years
        for payer, amount in year.contributions.items()
    ]
    payer_of = {layer.id: layer.payer for layer in policy.layers}
    payments: list[tuple[Cell, ...]] = [
        (
            str(year.year),
            item,
            payer_of.get(item, "allowance"),
            money(estimate.point, digits),
            money(estimate.low, digits),
            money(estimate.high, digits),
        )
        for year in result.years
        for item, estimate in year.payments.items()
    ]
    funds: list[tuple[Cell, ...]] = []
    for year in result.years:
        for fund in projection.funds:
            spent, gap = year.fund_payments[fund.name], year.gap[fund.name]
            funds.append(
                (
                    str(year.year),
                    fund.name,
                    money(year.fund_in[fund.name], digits),
                    money(spent.point, digits),
                    money(spent.low, digits),
                    money(spent.high, digits),
                    money(gap.point, digits),
                    money(gap.low, digits),
                    money(gap.high, digits),
                )
            )
    notes = "; ".join(result.notes)
    return [
        Sheet(
            "funds",
            f"Funds by year ({currency}): what flows in, what its layers are expected to pay, the gap",
            (
                "year",
                "fund",
                "flows in",
                "expected payments",
                f"payments low ({low})",
                f"payments high ({high})",
                "gap",
                f"gap low (payments at {high})",
                f"gap high (payments at {low})",
            ),
            funds,
            f"{projection.name} ({projection.path}); {notes}.",
        ),
        Sheet(
            "contributions",
            f"Contributions by payer ({currency})",
            ("year", "payer", "amount"),
            contributions,
            "Each group's enrolled people times one person's contribution by payer under the policy's rules, "
            "plus the per-capita subsidies.",
        ),
        Sheet(
            "payments",
            f"Expected payments per layer ({currency})",
            ("year", "layer", "payer", "expected", f"low ({low})", f"high ({high})"),
            payments,
        ),
        Sheet(
            "enrolment",
            "Population and enrolment (persons)",
            ("year", "group", "population", "enrolled"),
            enrolment,
            f"The {projection.base_year} row is the enrolment the base claims come from.",
        ),
    ]
