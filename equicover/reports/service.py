"""Reports: household consumption (for SDG 3.8.2) and the semi-annual implementation status report.

The semi-annual report gathers, for one half-year: the programme indicators by area, the fund
ledger's sources and uses per fund, payment batches, verification findings, anomaly flags and
the care ledger's untreated list size; it is written as XLSX (openpyxl, pinned 3.1.5) and PDF
(fpdf2, see ``reports.pdf`` for fonts).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from equicover.errors import NotFound, ValidationFailed
from equicover.exports import store_formulas_as_text
from equicover.ledger import service as ledger
from equicover.money import format_money
from equicover.registry.models import Household
from equicover.reports.indicators import IndicatorRow, compute_indicators, half_year
from equicover.reports.models import HouseholdConsumption


def record_household_consumption(
    *, session: Session, household_code: str, year: int, amount: int
) -> HouseholdConsumption:
    """Set a household's consumption for a year (a later survey replaces the earlier figure)."""
    household_id = session.scalar(select(Household.id).where(Household.code == household_code))
    if household_id is None:
        raise NotFound(f"household {household_code}", "household_code", "unknown household")
    if amount <= 0:
        raise ValidationFailed(f"household {household_code}", "amount", "must be positive")
    row = session.get(HouseholdConsumption, (household_id, year))
    if row is None:
        row = HouseholdConsumption(household_id=household_id, year=year, amount=amount)
        session.add(row)
    else:
        row.amount = amount
    session.flush()
    return row


def household_consumption_of_year(*, session: Session, year: int) -> tuple[list[int], list[int]]:
    """Every household's recorded consumption of ``year`` as two columns (household ids, minor
    units), read in one scan: a what-if joins them to a whole year of claims."""
    rows = session.connection().execute(
        select(HouseholdConsumption.household_id, HouseholdConsumption.amount).where(HouseholdConsumption.year == year)
    )
    households: list[int] = []
    amounts: list[int] = []
    for household_id, amount in rows:
        households.append(household_id)
        amounts.append(amount)
    return households, amounts


@dataclass
class SemiAnnualReport:
    year: int
    half: int
    starts: dt.date
    ends: dt.date
    currency: str
    minor_digits: int
    indicators: list[IndicatorRow]
    funds: list[dict[str, Any]] = field(default_factory=list)
    payments: dict[str, int] = field(default_factory=dict)
    verification: dict[str, int] = field(default_factory=dict)
    anomaly_flags: int = 0
    care: dict[str, int] = field(default_factory=dict)


def semiannual_report(
    *, session: Session, year: int, half: int, currency: str, minor_digits: int, by: str = "district"
) -> SemiAnnualReport:
    """The report of one half-year; amounts are printed with ``minor_digits`` of ``currency``,
    those of the scheme whose funds it reports (the command takes them from its policies)."""
    from equicover.anomaly.models import AnomalyFlag, AnomalyRun
    from equicover.payments.models import PaymentBatch
    from equicover.verification.models import ClaimReview

    starts, ends = half_year(year, half)
    report = SemiAnnualReport(
        year,
        half,
        starts,
        ends,
        currency,
        minor_digits,
        compute_indicators(session=session, starts=starts, ends=ends, by=by),
    )
    flows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for flow in ledger.flows_by_month(session=session, starts=starts, ends=ends):
        signed = flow.credit - flow.debit if flow.kind in ("source", "payable") else flow.debit - flow.credit
        flows[flow.fund][flow.account] += signed
    closing: dict[str, dict[str, int]] = defaultdict(dict)
    for balance in ledger.balances(session=session, as_of=ends):
        closing[balance.fund][balance.account] = balance.balance
    for fund in sorted(set(flows) | set(closing)):
        report.funds.append({"fund": fund, "flows": dict(flows[fund]), "closing": closing.get(fund, {})})
    for status, count, net in session.execute(
        select(PaymentBatch.status, func.count(), func.sum(PaymentBatch.net_amount))
        .where(PaymentBatch.period_starts <= ends, PaymentBatch.period_ends >= starts)
        .group_by(PaymentBatch.status)
    ).all():
        report.payments[f"{status}_batches"] = int(count)
        report.payments[f"{status}_amount"] = int(net or 0)
    from equicover.claims.models import Claim

    for status, count, disallowed in session.execute(
        select(ClaimReview.status, func.count(), func.sum(ClaimReview.disallowed))
        .join(Claim, Claim.id == ClaimReview.claim_pk)
        .where(Claim.service_date >= starts, Claim.service_date <= ends)
        .group_by(ClaimReview.status)
    ).all():
        report.verification[status] = int(count)
        report.verification["recovered"] = report.verification.get("recovered", 0) + int(disallowed or 0)
    latest = session.scalar(select(func.max(AnomalyRun.id)))
    if latest is not None:
        report.anomaly_flags = int(
            session.scalar(
                select(func.count())
                .select_from(AnomalyFlag)
                .join(Claim, Claim.id == AnomalyFlag.claim_pk)
                .where(AnomalyFlag.run_id == latest, Claim.service_date >= starts, Claim.service_date <= ends)
            )
            or 0
        )
    from equicover.care import service as care

    summary = care.status_summary(session=session, on=ends)
    report.care = summary
    return report


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f} %"


def _number(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


INDICATOR_COLUMNS = (
    ("Area", lambda r, m: r.area_code),
    ("Population", lambda r, m: f"{r.population:,}"),
    ("Coverage", lambda r, m: _percent(r.coverage_rate)),
    ("Consult./person/yr", lambda r, m: _number(r.consultations_per_person_year)),
    ("OOP share", lambda r, m: _percent(r.oop_share)),
    ("Poor IP OOP<=10%", lambda r, m: _percent(r.poor_within_target_share)),
    ("Catastr. >10%", lambda r, m: _percent(r.catastrophic_share(10))),
    ("Catastr. >25%", lambda r, m: _percent(r.catastrophic_share(25))),
    ("Fund utilisation", lambda r, m: _percent(r.fund_utilisation)),
    ("Turnaround (days)", lambda r, m: _number(r.turnaround_mean, 1)),
)


def write_xlsx(report: SemiAnnualReport, path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.worksheets[0]  # a new workbook's one sheet, the active one
    sheet.title = "Indicators"
    sheet.append(
        [f"Semi-annual implementation status report {report.year} H{report.half} ({report.starts} to {report.ends})"]
    )
    sheet["A1"].font = Font(bold=True, size=13)
    raw = report.indicators[0].as_dict() if report.indicators else {}
    sheet.append(list(raw))
    for row in report.indicators:
        sheet.append([value if value is not None else None for value in row.as_dict().values()])
    funds = book.create_sheet("Funds")
    funds.append(["Fund", "Account", f"Flow in the half ({report.currency})", f"Balance at {report.ends}"])
    for fund in report.funds:
        for account in sorted(set(fund["flows"]) | set(fund["closing"])):
            funds.append(
                [
                    fund["fund"],
                    account,
                    _money(fund["flows"].get(account, 0), report),
                    _money(fund["closing"].get(account, 0), report),
                ]
            )
    for title, values in (
        ("Payments", report.payments),
        ("Verification", report.verification),
        ("Care ledger", report.care),
    ):
        sheet_ = book.create_sheet(title)
        sheet_.append(["Item", "Value"])
        for key, value in values.items():
            sheet_.append([key, _money(value, report) if key.endswith(("amount", "recovered")) else value])
    flags = book.create_sheet("Anomaly flags")
    flags.append(["Flags of the latest run on claims of the half", report.anomaly_flags])
    store_formulas_as_text(book)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _money(amount: int, report: SemiAnnualReport) -> float | str:
    return format_money(int(amount), report.minor_digits)


def write_pdf(report: SemiAnnualReport, path: Path) -> Path:
    from equicover.pdf import PdfDocument

    document = PdfDocument(title=f"Semi-annual report {report.year} H{report.half}", landscape=True)
    document.heading(f"Semi-annual implementation status report - {report.year}, half {report.half}")
    document.text(f"Period {report.starts} to {report.ends}. Amounts in {report.currency}.")
    document.heading("Programme indicators by area")
    document.table(
        [name for name, _ in INDICATOR_COLUMNS],
        [[cell(row, report) for _, cell in INDICATOR_COLUMNS] for row in report.indicators],
    )
    document.heading("Funds: flows in the half and balances at its end")
    rows = []
    for fund in report.funds:
        for account in sorted(set(fund["flows"]) | set(fund["closing"])):
            rows.append(
                [
                    fund["fund"],
                    account,
                    _money(fund["flows"].get(account, 0), report),
                    _money(fund["closing"].get(account, 0), report),
                ]
            )
    document.table(["Fund", "Account", "Flow", "Balance"], rows)
    document.heading("Payments to providers")
    document.table(
        ["Item", "Value"],
        [[k, str(_money(v, report) if k.endswith("amount") else v)] for k, v in report.payments.items()],
    )
    document.heading("Verification of providers")
    document.table(
        ["Finding", "Value"],
        [[k, str(_money(v, report) if k == "recovered" else v)] for k, v in report.verification.items()],
    )
    document.text(f"Claims flagged by the latest anomaly run: {report.anomaly_flags:,}")
    document.heading("Care ledger of the registered poor")
    document.table(["Status", "Persons"], [[k, f"{v:,}"] for k, v in report.care.items()])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(document.output())
    return path


# Per-capita annual consumption of the synthetic province (CNY, medians): rural China 2018 spent
# about 12,000 CNY a person; registered-poor households a third of that.
SYNTHETIC_CONSUMPTION_MEDIAN = {"poor": 4_000, "other": 12_000}
SYNTHETIC_CONSUMPTION_SIGMA = 0.5


def synthesize_household_consumption(
    *,
    session: Session,
    year: int,
    seed: int,
    minor_digits: int,
    median_per_capita: tuple[int, int] | None = None,
    poor_households: set[int] | None = None,
) -> int:
    """Give every household without a figure for ``year`` a synthetic consumption (log-normal per
    capita × size; registered-poor households poorer). For the synthetic province only: real
    figures come from surveys or means tests (``record_household_consumption``). Returns rows added.
    ``median_per_capita``: (registered poor, others) in whole major units of the province's
    currency; default the Chinese figures of ``SYNTHETIC_CONSUMPTION_MEDIAN``. ``poor_households``: the
    ids of the poor households (default: those holding ``registered_poor`` in the year)."""
    import numpy as np

    from equicover.db.bulk import bulk_insert_rows
    from equicover.registry.models import Person, PersonCategory

    known = select(HouseholdConsumption.household_id).where(HouseholdConsumption.year == year)
    sizes = session.execute(
        select(Person.household_id, func.count())
        .where(Person.household_id.not_in(known))
        .group_by(Person.household_id)
        .order_by(Person.household_id)
    ).all()
    if not sizes:
        return 0
    # The synthetic province knows which households are truly poor before any category is written.
    poor = (
        poor_households
        if poor_households is not None
        else set(
            session.scalars(
                select(Person.household_id)
                .join(PersonCategory, PersonCategory.person_id == Person.id)
                .where(PersonCategory.category == "registered_poor", PersonCategory.valid_from <= dt.date(year, 12, 31))
            )
        )
    )
    generator = np.random.default_rng(seed)
    medians = (
        SYNTHETIC_CONSUMPTION_MEDIAN
        if median_per_capita is None
        else {"poor": median_per_capita[0], "other": median_per_capita[1]}
    )
    household_ids = [household for household, _ in sizes]
    median = np.array([medians["poor" if h in poor else "other"] for h in household_ids], dtype=float)
    per_capita = median * generator.lognormal(0.0, SYNTHETIC_CONSUMPTION_SIGMA, len(sizes))
    amounts = np.maximum(1, np.round(per_capita * np.array([size for _, size in sizes]) * 10**minor_digits)).astype(
        np.int64
    )
    return bulk_insert_rows(
        session,
        HouseholdConsumption.__table__,
        {"household_id": household_ids, "year": [year] * len(sizes), "amount": amounts.tolist()},
    )
