"""Indicators equal hand counts on a small fixture; the semi-annual report is written."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

from sqlalchemy import select

from equicover.reports import service as reports
from equicover.reports.indicators import compute_indicators
from tests import factories as make
from tests.factories import vn_claims_world

STARTS, ENDS = dt.date(2024, 7, 1), dt.date(2024, 12, 31)


def test_indicators_equal_hand_counts(session) -> None:
    world = vn_claims_world(session)
    poor = world.person_ids[0]
    reports.record_household_consumption(session=session, household_code="H1", year=2024, amount=20_000_000)
    reports.record_household_consumption(session=session, household_code="H2", year=2024, amount=30_000_000)
    make.contribution(
        session,
        person_id=poor,
        scheme_id=world.scheme_id,
        payer_kind="state_budget",
        amount_minor=1_000_000,
        status="paid",
        period_starts=dt.date(2024, 7, 1),
        period_ends=dt.date(2025, 6, 30),
    )
    rows = {row.area_code: row for row in compute_indicators(session=session, starts=STARTS, ends=ENDS)}
    d1, d2, total = rows["D1"], rows["D2"], rows["ALL"]
    # D1: household H1 of three (two enrolled); D2: household H2 of one (enrolled).
    assert (d1.population, d1.enrolled, d2.population, d2.enrolled) == (3, 2, 1, 1)
    assert total.coverage_rate == 3 / 4
    # Out-patient claims: A-OP0..3 and C-OP0 of H1's members, B-OP0 in D2; 184 days.
    assert d1.consultations == 5 and d2.consultations == 1
    assert d1.consultations_per_person_year == 5 * 365 / (3 * 184)
    assert d1.allowed == 400_000 + 450_000 + 500_000 + 550_000 + 6_000_000 + 9_000_000 + 200_000
    assert d1.member_oop == 80_000 + 100_000 + 1_800_000 + 200_000
    assert (d2.allowed, d2.member_oop) == (12_300_000, 2_400_000)
    assert total.oop_share == (2_180_000 + 2_400_000) / (17_100_000 + 12_300_000)
    # The poor member's one admission (A-IP0) left her nothing to pay.
    assert (d1.poor_inpatients, d1.poor_inpatients_within_target, d2.poor_inpatients) == (1, 1, 0)
    # 2,180,000 > 10% of 20,000,000 x 184/366 = 1,005,464 but not 25% (2,513,661); H2 likewise.
    assert (d1.households_with_consumption, d1.catastrophic[10], d1.catastrophic[25]) == (1, 1, 0)
    assert (d2.catastrophic[10], d2.catastrophic[25]) == (1, 0)
    assert d1.paid_by_funds == 320_000 + 450_000 + 400_000 + 550_000 + 6_000_000 + 7_200_000
    assert d1.contributions == Fraction(1_000_000 * 184, 365)
    assert d2.contributions == 0 and d2.fund_utilisation is None
    assert len(d1.turnaround_days) == 7 and len(total.turnaround_days) == 9
    # The service stamps submission with the current time: turnaround = today - service date.
    today = dt.datetime.now(dt.UTC).date()
    served_d1 = [
        dt.date(2024, 8, 3),
        dt.date(2024, 8, 9),
        dt.date(2024, 8, 15),
        dt.date(2024, 8, 21),
        dt.date(2024, 9, 2),
        dt.date(2024, 9, 20),
        dt.date(2024, 8, 12),
    ]
    assert sorted(d1.turnaround_days) == sorted((today - day).days for day in served_d1)


def test_semiannual_report_files(session, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from equicover.ledger import service as ledger

    vn_claims_world(session)
    ledger.post_claim_settlements(session=session, up_to=ENDS, currency="VND", minor_digits=0)
    report = reports.semiannual_report(session=session, year=2024, half=2, currency="VND", minor_digits=0)
    xlsx = reports.write_xlsx(report, tmp_path / "report.xlsx")
    pdf = reports.write_pdf(report, tmp_path / "report.pdf")
    book = load_workbook(xlsx)
    assert book.sheetnames == ["Indicators", "Funds", "Payments", "Verification", "Care ledger", "Anomaly flags"]
    header = [cell.value for cell in book["Indicators"][2]]
    areas = [row[0].value for row in book["Indicators"].iter_rows(min_row=3)]
    assert header[0] == "area_code" and areas == ["D1", "D2", "ALL"]
    funds = {(row[0].value, row[1].value): row[3].value for row in book["Funds"].iter_rows(min_row=2)}
    assert funds[("shi", "payable")] == str(
        320_000 + 450_000 + 400_000 + 550_000 + 6_000_000 + 7_200_000 + 300_000 + 9_600_000
    )
    assert pdf.read_bytes().startswith(b"%PDF")


def test_synthetic_consumption_fills_households_once(session) -> None:
    from equicover.reports.models import HouseholdConsumption

    vn_claims_world(session)
    reports.record_household_consumption(session=session, household_code="H1", year=2024, amount=20_000_000)
    assert reports.synthesize_household_consumption(session=session, year=2024, seed=3, minor_digits=0) == 1  # H2 only
    assert reports.synthesize_household_consumption(session=session, year=2024, seed=3, minor_digits=0) == 0
    amounts = dict(session.execute(select(HouseholdConsumption.household_id, HouseholdConsumption.amount)).all())
    assert len(amounts) == 2 and 20_000_000 in amounts.values() and all(amount > 0 for amount in amounts.values())
