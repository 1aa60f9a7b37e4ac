"""Programme indicators, one indicator per test, each on a small case built by hand.

The records: the VN-SHI scheme year (policy ``vn-shi-2024``), the district hospitals PA (district
D1) and PB (district D2) under contract, and members living in commune C11 (district D1) unless a
test says otherwise. Under the policy a registered-poor member is paid 100% of the in-scope cost;
a member without a category 80% of a bill from 351,000 on, in area. The period is the second half
of 2024: 1 July to 31 December, 184 days, in a year of 366.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from sqlalchemy import select

from equicover.errors import NotFound, ValidationFailed
from equicover.registry.models import Location
from equicover.reports import service as reports
from equicover.reports.indicators import compute_indicators, half_year
from tests import factories as make
from tests.factories import SchemeYear

STARTS, ENDS = dt.date(2024, 7, 1), dt.date(2024, 12, 31)
DAYS = 184


@pytest.fixture
def year(session) -> SchemeYear:
    make.locations(session)
    scheme = make.scheme_year(session)
    for code, district in (("PA", "D1"), ("PB", "D2")):
        make.provider(session, code=code, location_code=district)
        make.contract(session, provider_code=code)
    return scheme


def _rows(session, **options) -> dict[str, object]:
    return {row.area_code: row for row in compute_indicators(session=session, starts=STARTS, ends=ENDS, **options)}


def _poor(session, year: SchemeYear, **fields):
    return make.enrolled_person(session, scheme=year, categories=["registered_poor"], **fields)


def test_coverage_is_persons_enrolled_on_the_last_day_over_persons_alive_then(session, year) -> None:
    from equicover.registry.schemas import PersonUpdate
    from equicover.registry.service import update_person

    make.enrolled_person(session, scheme=year)  # D1: enrolled on 31 December
    make.enrolled_person(session, scheme=year, ends=dt.date(2024, 11, 30))  # D1: no longer enrolled then
    make.person(session)  # D1: never enrolled
    dead = make.enrolled_person(session, scheme=year)  # D1: died on 1 December: neither counted
    update_person(session=session, person_id=dead.id, changes=PersonUpdate(death_date=dt.date(2024, 12, 1)))
    make.enrolled_person(session, scheme=year, location_code="N21")  # D2
    rows = _rows(session)
    d1, d2, total = rows["D1"], rows["D2"], rows["ALL"]
    assert (d1.population, d1.enrolled, d1.coverage_rate) == (3, 1, 1 / 3)
    assert (d2.population, d2.enrolled, d2.coverage_rate) == (1, 1, 1.0)
    assert (total.population, total.enrolled, total.coverage_rate) == (4, 2, 0.5)


def test_consultations_per_person_year_scale_the_outpatient_claims_of_the_period_to_a_year(session, year) -> None:
    from equicover.claims.service import reverse_claim

    first = make.enrolled_person(session, scheme=year)
    second = make.enrolled_person(session, scheme=year)
    make.claim(session, claim_id="OP-1", person_id=first.id, service_date=dt.date(2024, 7, 1))
    make.claim(session, claim_id="OP-2", person_id=first.id, service_date=dt.date(2024, 12, 31))
    make.claim(session, claim_id="OP-3", person_id=second.id, service_date=dt.date(2024, 9, 9))
    make.claim(  # an admission is not a consultation
        session, claim_id="IP", person_id=second.id, care_type="inpatient", days=2, service_date=dt.date(2024, 9, 10)
    )
    make.claim(session, claim_id="JAN", person_id=second.id, service_date=dt.date(2025, 1, 1))  # after the period
    make.claim(session, claim_id="WRONG", person_id=second.id, service_date=dt.date(2024, 10, 1))
    reverse_claim(session=session, claim_id="WRONG", reason="entered twice")
    d1 = _rows(session)["D1"]
    assert (d1.consultations, d1.population, d1.period_days) == (3, 2, DAYS)
    assert d1.consultations_per_person_year == 3 * 365 / (2 * DAYS)


def test_the_oop_share_is_what_members_paid_over_what_was_allowed(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    poor = _poor(session, year)
    make.claim(session, claim_id="MEMBER", person_id=member.id, total=1_000_000)  # pays 20%: 200,000
    make.claim(session, claim_id="POOR", person_id=poor.id, total=500_000)  # pays nothing
    d1 = _rows(session)["D1"]
    assert (d1.allowed, d1.member_oop) == (1_500_000, 200_000)
    assert d1.oop_share == 200_000 / 1_500_000


def test_a_poor_inpatient_paying_at_most_ten_percent_is_within_the_target(session, year) -> None:
    # Bills of 1,000,000 of which the in-scope part is paid in full: the member pays the rest.
    for claim_id, eligible in (("FIVE", 950_000), ("TEN", 900_000), ("TWENTY", 800_000)):
        poor = _poor(session, year)
        make.claim(
            session,
            claim_id=claim_id,
            person_id=poor.id,
            care_type="inpatient",
            days=3,
            total=1_000_000,
            eligible=eligible,
        )
    # PB, the district hospital of D2, is in the member's province: on route under Viet Nam's rule
    # (the policy's [area]), so this stay counts too; its in-scope bill is paid in full.
    travelling = _poor(session, year)
    away = make.claim(
        session, claim_id="AWAY", person_id=travelling.id, provider_code="PB", care_type="inpatient", days=3
    )
    assert away.in_area is True and away.member_oop <= away.total // 10
    d1 = _rows(session)["D1"]
    # 5%, exactly 10% and the stay at PB are within the target; 20% is not.
    assert (d1.poor_inpatients, d1.poor_inpatients_within_target) == (4, 3)
    assert d1.poor_within_target_share == 3 / 4


def test_catastrophic_spending_compares_oop_with_consumption_scaled_to_the_period(session, year) -> None:
    # Each household's one member pays 20% of 9,200,000: 1,840,000 in the half-year.
    for household in ("AT-LIMIT", "ABOVE", "UNKNOWN"):
        member = make.enrolled_person(session, scheme=year, household_code=household)
        make.claim(session, claim_id=f"BILL-{household}", person_id=member.id, total=9_200_000)
    # 36,600,000 a year is 36,600,000 x 184 / 366 = 18,400,000 in the period: 10% of it is
    # exactly 1,840,000, which is not above 10%. 36,599,000 makes 10% 1,839,949.7: above.
    reports.record_household_consumption(session=session, household_code="AT-LIMIT", year=2024, amount=36_600_000)
    reports.record_household_consumption(session=session, household_code="ABOVE", year=2024, amount=36_599_000)
    d1 = _rows(session)["D1"]
    assert d1.households_with_consumption == 2
    assert d1.catastrophic == {10: 1, 25: 0}
    assert (d1.catastrophic_share(10), d1.catastrophic_share(25)) == (0.5, 0.0)


def test_fund_utilisation_is_what_the_fund_paid_over_paid_contributions_pro_rated_to_the_period(session, year) -> None:
    poor = _poor(session, year)
    # 730,000 paid for 365 days (1 July 2024 to 30 June 2025): 2,000 a day, 184 of them in the period.
    make.contribution(session, person_id=poor.id, scheme_id=year.scheme_id, amount_minor=730_000)
    make.contribution(  # owed, not paid: not counted
        session, person_id=poor.id, scheme_id=year.scheme_id, payer_kind="member", amount_minor=100_000, status="due"
    )
    make.claim(session, claim_id="VISIT", person_id=poor.id, total=92_000)
    d1 = _rows(session)["D1"]
    assert d1.contributions == Fraction(730_000 * DAYS, 365) == 368_000
    assert d1.paid_by_funds == 92_000
    assert d1.fund_utilisation == 0.25


def test_indicators_by_province_gather_its_districts(session, year) -> None:
    make.enrolled_person(session, scheme=year, location_code="C11")
    make.enrolled_person(session, scheme=year, location_code="C12")
    make.person(session, location_code="N21")
    rows = compute_indicators(session=session, starts=STARTS, ends=ENDS, by="province")
    assert [(row.area_code, row.population, row.enrolled) for row in rows] == [("LC", 3, 2), ("ALL", 3, 2)]


def test_indicators_of_a_scope_leave_the_other_areas_out(session, year) -> None:
    make.enrolled_person(session, scheme=year, location_code="C11")
    make.enrolled_person(session, scheme=year, location_code="N21")
    make.person(session, location_code="N21")
    d2 = session.scalar(select(Location.id).where(Location.code == "D2"))
    rows = compute_indicators(session=session, starts=STARTS, ends=ENDS, area_ids=[d2])
    assert [(row.area_code, row.population, row.enrolled) for row in rows] == [("D2", 2, 1), ("ALL", 2, 1)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(starts=ENDS, ends=STARTS), "is before starts"),
        (dict(starts=STARTS, ends=ENDS, by="commune"), "one of district, province, country"),
    ],
    ids=["reversed-period", "unknown-level"],
)
def test_indicators_refuse_a_reversed_period_or_an_unknown_area_level(session, options, message) -> None:
    with pytest.raises(ValidationFailed, match=message):
        compute_indicators(session=session, **options)


def test_a_later_survey_replaces_a_households_consumption(session, year) -> None:
    make.person(session, household_code="H1")
    first = reports.record_household_consumption(session=session, household_code="H1", year=2024, amount=10_000_000)
    again = reports.record_household_consumption(session=session, household_code="H1", year=2024, amount=12_000_000)
    other_year = reports.record_household_consumption(session=session, household_code="H1", year=2025, amount=1)
    assert (again.household_id, again.year, again.amount) == (first.household_id, 2024, 12_000_000)
    assert (other_year.year, other_year.amount) == (2025, 1)


def test_household_consumption_must_be_positive_and_of_a_known_household(session, year) -> None:
    make.person(session, household_code="H1")
    with pytest.raises(ValidationFailed, match="must be positive"):
        reports.record_household_consumption(session=session, household_code="H1", year=2024, amount=0)
    with pytest.raises(NotFound, match="unknown household"):
        reports.record_household_consumption(session=session, household_code="H9", year=2024, amount=5)


def test_a_half_year_is_january_to_june_or_july_to_december() -> None:
    assert half_year(2024, 1) == (dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    assert half_year(2024, 2) == (dt.date(2024, 7, 1), dt.date(2024, 12, 31))
    with pytest.raises(ValidationFailed, match="1 or 2"):
        half_year(2024, 3)


def test_the_semiannual_report_sums_the_batches_and_findings_of_its_half(session, year) -> None:
    from equicover.payments import service as payments
    from equicover.verification import service as verification

    poor = _poor(session, year)
    make.claim(session, claim_id="AUG", person_id=poor.id, service_date=dt.date(2024, 8, 3), total=1_000_000)
    make.claim(session, claim_id="SEP", person_id=poor.id, service_date=dt.date(2024, 9, 3), total=400_000)
    august = payments.draft_batch(
        session=session,
        provider_code="PA",
        period_starts=dt.date(2024, 8, 1),
        period_ends=dt.date(2024, 8, 31),
        actor="maker",
        currency="VND",
    )
    payments.approve_batch(session=session, batch_id=august.id, actor="checker", actor_role="fund_manager")
    verification.draw_sample(
        session=session, period_starts=STARTS, period_ends=ENDS, random_count=10, risk_count=0, seed=1
    )
    queue = {item.claim_id: item.review_id for item in verification.verifier_queue(session=session)}
    verification.decide(session=session, review_id=queue["AUG"], decision="disallow", amount=300_000, reason="x")
    september = payments.draft_batch(
        session=session,
        provider_code="PA",
        period_starts=dt.date(2024, 9, 1),
        period_ends=dt.date(2024, 9, 30),
        actor="maker",
        currency="VND",
    )
    assert september.claim_count == 0  # SEP waits for its review
    report = reports.semiannual_report(session=session, year=2024, half=2, currency="VND", minor_digits=0)
    assert report.payments == {
        "approved_batches": 1,
        "approved_amount": 1_000_000,
        "draft_batches": 1,
        "draft_amount": -300_000,
    }
    assert report.verification == {"partly_disallowed": 1, "pending": 1, "recovered": 300_000}
    assert (report.starts, report.ends) == (STARTS, ENDS)
    assert report.care["registered_poor"] == 1
