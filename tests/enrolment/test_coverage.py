"""Coverage equals a hand count on a small fixture built through the services.

The fixture (date of measure D = 2024-06-30; scheme HEF in VND, scheme RAMED in MAD):

  person  home  born        registered   death       categories on D         enrolment on D
  p1      C11   1950-01-01  2020         -           registered_poor,elderly HEF active
  p2      C11   1990-01-01  2020         -           near_poor               HEF starts 2024-07-01 (not yet)
  p3      C12   2000-01-01  2020         -           (near_poor ended 06-29) HEF active
  p4      C12   1980-01-01  2020         2024-05-01  (registered_poor)       HEF ended 04-30 — dead: not eligible
  p5      C12   1992-01-01  2024-08-01   -           (near_poor)             — registered after D: not eligible
  p6      C11   1995-01-01  2020         -           -                       HEF cancelled
  p7      C11   1985-01-01  2020         -           registered_poor         RAMED active
  p8      N21   1960-01-01  2020         -           registered_poor         HEF suspended
  p9      N21   2010-01-01  2020         -           student                 HEF starts on D
  p10     N21   1970-01-01  2020         -           -                       none
  p11     LC    1970-01-01  2020         -           -                       HEF active (lives at province level)

Contributions (amounts in minor units):
  p1  state_budget 450000 paid, 2024 ............................ counted
  p2  state_budget 315000 due, 07-01..12-31 ...................... not: p2 not enrolled on D
  p3  state_budget 315000 paid + member 135000 due, 2024 ......... counted
  p3  local_budget 50000 waived, 2024 ............................ not: waived
  p6  member 100000 paid, 2024 ................................... not: enrolment cancelled
  p7  donor 12000 (MAD) paid, 2024 ............................... counted
  p9  state_budget 100000 paid + local_budget 20000 due, 06-30..12-31 counted
  p1  member 9999 paid, 2023-01-01..2023-12-31 ... impossible (p1 not enrolled in 2023): not recorded
"""

from __future__ import annotations

import datetime as dt

import pytest

from equicover.enrolment.schemas import CoverageRow
from equicover.enrolment.service import (
    coverage,
    enrolments_of,
    set_enrolment_status,
)
from equicover.errors import ValidationFailed
from equicover.registry.schemas import PersonIn, PersonUpdate
from equicover.registry.service import end_category, set_category, update_person
from tests import factories as make

D = dt.date(2024, 6, 30)
JAN1, DEC31 = dt.date(2024, 1, 1), dt.date(2024, 12, 31)
SINCE_2020 = dt.date(2020, 1, 1)


def _person(name: str, born: str, *categories: str, registered: str | None = None) -> PersonIn:
    return make.person_in(
        full_name=name,
        sex="unknown",
        birth_date=dt.date.fromisoformat(born),
        registered_on=dt.date.fromisoformat(registered) if registered else None,
        categories=categories,
        categories_from=JAN1,
    )


@pytest.fixture
def fixture_ids(session, geo):
    today = dt.date(2025, 1, 1)
    households = {
        "C11": [
            _person("p1", "1950-01-01", "registered_poor", "elderly"),
            _person("p2", "1990-01-01", "near_poor"),
            _person("p6", "1995-01-01"),
            _person("p7", "1985-01-01", "registered_poor"),
        ],
        "C12": [
            _person("p3", "2000-01-01"),
            _person("p4", "1980-01-01", "registered_poor"),
            _person("p5", "1992-01-01", "near_poor", registered="2024-08-01"),
        ],
        "N21": [
            _person("p8", "1960-01-01", "registered_poor"),
            _person("p9", "2010-01-01", "student"),
            _person("p10", "1970-01-01"),
        ],
        "LC": [_person("p11", "1970-01-01")],
    }
    ids: dict[str, int] = {}
    for location_code, members in households.items():
        _, persons = make.household(
            session,
            code=f"H-{location_code}",
            location_code=location_code,
            registered_on=SINCE_2020,
            members=members,
            today=today,
        )
        ids.update((person.full_name, person.id) for person in persons)
    # p3 was near-poor until the day before D.
    set_category(session=session, person_id=ids["p3"], category="near_poor", valid_from=dt.date(2023, 1, 1))
    end_category(session=session, person_id=ids["p3"], category="near_poor", valid_to=dt.date(2024, 6, 29))

    hef = make.scheme(session, code="HEF", name="Health Equity Fund", currency="VND")
    ramed = make.scheme(session, code="RAMED", name="RAMED", currency="MAD")
    hef_2024 = make.period(session, scheme_id=hef.id, starts=JAN1, ends=DEC31)
    ramed_2024 = make.period(session, scheme_id=ramed.id, starts=JAN1, ends=DEC31)

    def enrol_in(name: str, starts: dt.date = JAN1, ends: dt.date = DEC31, scheme=hef, period=hef_2024) -> int:
        return make.enrolment(
            session, person_id=ids[name], scheme_id=scheme.id, period_id=period.id, starts=starts, ends=ends
        ).id

    def contribute(
        name: str, kind: str, amount: int, status: str, starts: dt.date = JAN1, ends: dt.date = DEC31, scheme=hef
    ) -> None:
        make.contribution(
            session,
            person_id=ids[name],
            scheme_id=scheme.id,
            payer_kind=kind,
            amount_minor=amount,
            status=status,
            period_starts=starts,
            period_ends=ends,
        )

    enrol_in("p1")
    contribute("p1", "state_budget", 450_000, "paid")
    enrol_in("p2", starts=dt.date(2024, 7, 1))
    contribute("p2", "state_budget", 315_000, "due", starts=dt.date(2024, 7, 1))
    enrol_in("p3")
    contribute("p3", "state_budget", 315_000, "paid")
    contribute("p3", "member", 135_000, "due")
    contribute("p3", "local_budget", 50_000, "waived")
    enrol_in("p4", ends=dt.date(2024, 4, 30))
    update_person(
        session=session, person_id=ids["p4"], changes=PersonUpdate(death_date=dt.date(2024, 5, 1)), today=today
    )
    p6_enrolment = enrol_in("p6")
    contribute("p6", "member", 100_000, "paid")
    set_enrolment_status(session=session, enrolment_id=p6_enrolment, status="cancelled")
    enrol_in("p7", scheme=ramed, period=ramed_2024)
    contribute("p7", "donor", 12_000, "paid", scheme=ramed)
    p8_enrolment = enrol_in("p8")
    set_enrolment_status(session=session, enrolment_id=p8_enrolment, status="suspended")
    enrol_in("p9", starts=D)
    contribute("p9", "state_budget", 100_000, "paid", starts=D)
    contribute("p9", "local_budget", 20_000, "due", starts=D)
    enrol_in("p11")
    with pytest.raises(ValidationFailed, match="not enrolled in the scheme"):
        contribute("p1", "member", 9_999, "paid", starts=dt.date(2023, 1, 1), ends=dt.date(2023, 12, 31))
    return {"ids": ids, "hef": hef.id, "ramed": ramed.id}


def _table(rows: list[CoverageRow]) -> dict[str, tuple[int, int, dict[str, dict[str, int]]]]:
    return {row.group_code: (row.eligible, row.enrolled, row.amounts) for row in rows}


def test_coverage_by_district_any_scheme(session, fixture_ids) -> None:
    assert _table(coverage(session=session, on=D, by="district")) == {
        # eligible p1 p2 p3 p6 p7; enrolled p1 p3 p7
        "D1": (5, 3, {"VND": {"state_budget": 450_000 + 315_000, "member": 135_000}, "MAD": {"donor": 12_000}}),
        # eligible p8 p9 p10; enrolled p9
        "D2": (3, 1, {"VND": {"state_budget": 100_000, "local_budget": 20_000}}),
        # p11 lives at province level: no district
        "-": (1, 1, {}),
    }


def test_coverage_by_district_for_one_scheme(session, fixture_ids) -> None:
    assert _table(coverage(session=session, on=D, by="district", scheme_id=fixture_ids["hef"])) == {
        "D1": (5, 2, {"VND": {"state_budget": 765_000, "member": 135_000}}),
        "D2": (3, 1, {"VND": {"state_budget": 100_000, "local_budget": 20_000}}),
        "-": (1, 1, {}),
    }
    assert _table(coverage(session=session, on=D, by="district", scheme_id=fixture_ids["ramed"])) == {
        "D1": (5, 1, {"MAD": {"donor": 12_000}}),
        "D2": (3, 0, {}),
        "-": (1, 0, {}),
    }


def test_coverage_by_province(session, fixture_ids) -> None:
    (row,) = coverage(session=session, on=D, by="province")
    assert (row.group_code, row.eligible, row.enrolled) == ("LC", 9, 5)
    assert row.amounts == {
        "VND": {"state_budget": 865_000, "member": 135_000, "local_budget": 20_000},
        "MAD": {"donor": 12_000},
    }
    assert row.percent_text() == "55.56"  # 5/9
    assert row.subsidy("VND") == 885_000


def test_coverage_by_category_respects_validity_dates(session, fixture_ids) -> None:
    assert _table(coverage(session=session, on=D, by="category")) == {
        # p1 p7 p8 (p4 dead); enrolled p1 (HEF) p7 (RAMED)
        "registered_poor": (3, 2, {"VND": {"state_budget": 450_000}, "MAD": {"donor": 12_000}}),
        "elderly": (1, 1, {"VND": {"state_budget": 450_000}}),
        # p2 only: p3's holding ended the day before, p5 registered after D
        "near_poor": (1, 0, {}),
        "student": (1, 1, {"VND": {"state_budget": 100_000, "local_budget": 20_000}}),
    }
    # The day before D p3 was still near-poor (and enrolled); p9 not yet enrolled.
    day_before = _table(coverage(session=session, on=dt.date(2024, 6, 29), by="category"))
    assert day_before["near_poor"][:2] == (2, 1)
    assert day_before["student"][:2] == (1, 0)


def test_coverage_before_anyone_was_enrolled(session, fixture_ids) -> None:
    # 2019-12-31: everybody registered in 2020, so nobody is eligible yet.
    assert coverage(session=session, on=dt.date(2019, 12, 31), by="district") == []
    # 2023-06-30: all but p5 eligible (p4 alive then), nobody enrolled.
    rows = _table(coverage(session=session, on=dt.date(2023, 6, 30), by="district"))
    assert rows == {"D1": (6, 0, {}), "D2": (3, 0, {}), "-": (1, 0, {})}


def test_unknown_grouping_or_scheme_is_refused(session, fixture_ids) -> None:
    with pytest.raises(ValidationFailed) as caught:
        coverage(session=session, on=D, by="village")
    assert caught.value.field == "by"
    with pytest.raises(ValidationFailed) as caught:
        coverage(session=session, on=D, scheme_id=424242)
    assert caught.value.field == "scheme_id"


def test_enrolment_history_is_kept(session, fixture_ids) -> None:
    from equicover.audit.service import history

    (p6_enrolment,) = enrolments_of(session=session, person_id=fixture_ids["ids"]["p6"])
    log = history(session=session, entity="enrolments", entity_id=p6_enrolment.id)
    assert [(row.action, row.before, row.after.get("status")) for row in log] == [
        ("create", None, "active"),
        ("update", {"status": "active"}, "cancelled"),
    ]
