"""Programme organisations: who answers for which area, and coverage by organisation and area."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.organisations import service
from equicover.registry.schemas import PersonUpdate
from equicover.registry.service import update_person
from tests import factories

ON = dt.date(2024, 12, 31)


@pytest.fixture
def world(session: Session, geo):
    """C11: two living persons (one enrolled) and one dead before ON; C12: one enrolled person;
    N21 (in D2): one enrolled person. The Welfare Organisation answers for C11, the Red Crescent for
    N21; a HEF operator runs district D1 (C11 and C12)."""
    scheme = factories.scheme_year(session)
    factories.enrolled_person(session, scheme=scheme, location_code="C11")
    factories.person(session, location_code="C11")
    dead = factories.person(session, location_code="C11")
    update_person(session=session, person_id=dead.id, changes=PersonUpdate(death_date=dt.date(2024, 10, 1)))
    factories.enrolled_person(session, scheme=scheme, location_code="C12")
    factories.enrolled_person(session, scheme=scheme, location_code="N21")
    for code, name, role, area in (
        ("WELFARE", "Welfare Organisation", "responsible_organisation", "C11"),
        ("RED-CRESCENT", "Red Crescent", "responsible_organisation", "N21"),
        ("HEFO", "A HEF operator", "hef_operator", "D1"),
    ):
        service.ensure_organisation(session=session, code=code, name=name, role=role)
        service.assign_areas(
            session=session, organisation_code=code, location_ids=[geo[area].id], assigned_on=dt.date(2024, 1, 1)
        )
    return geo


def test_coverage_by_organisation_counts_the_living_residents_of_its_areas(session: Session, world):
    rows = service.coverage(session=session, on=ON, role="responsible_organisation")
    by_code = {row.code: (row.areas, row.population, row.enrolled) for row in rows}
    # C11: two alive (the dead one is not counted), one enrolled; N21: one, enrolled; C12 has no organisation
    assert by_code == {"RED-CRESCENT": (1, 1, 1), "WELFARE": (1, 2, 1)}
    assert [row.rate for row in rows] == [1.0, 0.5]


def test_a_district_operator_answers_for_the_district_communes(session: Session, world):
    (row,) = service.coverage(session=session, on=ON, role="hef_operator")
    assert (row.code, row.population, row.enrolled) == ("HEFO", 3, 2)  # C11 (2 alive) + C12 (1)


def test_coverage_by_area_names_the_responsible_organisation(session: Session, world):
    rows = service.coverage(session=session, on=ON, role="responsible_organisation", by="area")
    assert [(row.code, row.organisation, row.population, row.enrolled) for row in rows] == [
        ("C11", "WELFARE", 2, 1),
        ("N21", "RED-CRESCENT", 1, 1),
    ]


def test_an_area_has_one_organisation_of_a_role(session: Session, world):
    with pytest.raises(Conflict, match="location_ids"):
        service.assign_areas(
            session=session, organisation_code="RED-CRESCENT", location_ids=[world["C11"].id], assigned_on=ON
        )
    # assigning again what it already holds adds nothing
    assert (
        service.assign_areas(
            session=session, organisation_code="WELFARE", location_ids=[world["C11"].id], assigned_on=ON
        )
        == 0
    )


def test_bad_organisations_are_refused_with_the_field(session: Session, world):
    with pytest.raises(Conflict, match="role"):
        service.ensure_organisation(session=session, code="WELFARE", name="Welfare", role="hef_operator")
    with pytest.raises(ValidationFailed, match="role"):
        service.ensure_organisation(session=session, code="X", name="X", role="ministry")
    with pytest.raises(NotFound, match="code"):
        service.assign_areas(session=session, organisation_code="NOBODY", location_ids=[1], assigned_on=ON)
    with pytest.raises(NotFound, match="location_ids"):
        service.assign_areas(session=session, organisation_code="WELFARE", location_ids=[999_999], assigned_on=ON)
    with pytest.raises(ValidationFailed, match="by"):
        service.coverage(session=session, on=ON, role="hef_operator", by="village")


# --------------------------------------------------------------------------------------------
# The enrolment drive, by hand: the Welfare Organisation's C11 and the Red Crescent's N21.


@pytest.fixture
def drive(session: Session, geo):
    """C11: A enrolled from 15 July 2024, B from 3 August, C never, E registered on 10 August and
    never enrolled; N21: D enrolled from 20 August."""
    scheme = factories.scheme_year(session)
    factories.enrolled_person(session, scheme=scheme, location_code="C11", starts=dt.date(2024, 7, 15))
    factories.enrolled_person(session, scheme=scheme, location_code="C11", starts=dt.date(2024, 8, 3))
    factories.person(session, location_code="C11")
    factories.person(session, location_code="C11", registered_on=dt.date(2024, 8, 10))
    factories.enrolled_person(session, scheme=scheme, location_code="N21", starts=dt.date(2024, 8, 20))
    for code, area in (("WELFARE", "C11"), ("RED-CRESCENT", "N21")):
        service.ensure_organisation(session=session, code=code, name=code.title(), role="responsible_organisation")
        service.assign_areas(
            session=session, organisation_code=code, location_ids=[geo[area].id], assigned_on=dt.date(2024, 1, 1)
        )
    return geo


def test_the_drive_counts_the_newly_enrolled_and_coverage_month_by_month(session: Session, drive):
    points = service.enrolment_drive(session=session, starts=dt.date(2024, 7, 1), ends=dt.date(2024, 9, 30))
    table = [(p.code, p.organisation, p.ends.isoformat(), p.newly_enrolled, p.population, p.enrolled) for p in points]
    assert table == [
        ("C11", "WELFARE", "2024-07-31", 1, 3, 1),
        ("C11", "WELFARE", "2024-08-31", 1, 4, 2),  # E joins the population, B is enrolled
        ("C11", "WELFARE", "2024-09-30", 0, 4, 2),
        ("N21", "RED-CRESCENT", "2024-07-31", 0, 1, 0),
        ("N21", "RED-CRESCENT", "2024-08-31", 1, 1, 1),
        ("N21", "RED-CRESCENT", "2024-09-30", 0, 1, 1),
    ]
    assert [p.rate for p in points][:2] == [pytest.approx(1 / 3), 0.5]


def test_the_drive_by_organisation_and_by_week(session: Session, drive):
    points = service.enrolment_drive(
        session=session, starts=dt.date(2024, 7, 31), ends=dt.date(2024, 8, 11), step="week", by="organisation"
    )
    welfare = [
        (p.starts.isoformat(), p.ends.isoformat(), p.newly_enrolled, p.enrolled) for p in points if p.code == "WELFARE"
    ]
    # Weeks run Monday to Sunday, the first and last cut to the period; B started on Saturday 3 August.
    assert welfare == [("2024-07-31", "2024-08-04", 1, 2), ("2024-08-05", "2024-08-11", 0, 2)]


def test_a_drive_is_refused_with_the_field(session: Session, drive):
    with pytest.raises(ValidationFailed, match="by"):
        service.enrolment_drive(session=session, starts=dt.date(2024, 7, 1), ends=dt.date(2024, 9, 30), step="day")
    with pytest.raises(ValidationFailed, match="to"):
        service.enrolment_drive(session=session, starts=dt.date(2024, 9, 1), ends=dt.date(2024, 8, 1))
    with pytest.raises(ValidationFailed, match="steps"):
        service.enrolment_drive(session=session, starts=dt.date(2000, 1, 1), ends=dt.date(2024, 1, 1), step="week")


def test_the_drive_over_http(session: Session, session_factory, drive):
    from tests.api_helpers import login_as, make_client

    session.commit()
    client = make_client(session_factory=session_factory)
    manager = login_as(client, "fund_manager")
    params = {"starts": "2024-07-01", "ends": "2024-08-31", "by": "organisation"}
    answer = client.get("/api/v1/reports/enrolment-drive", params=params, headers=manager)
    assert answer.status_code == 200, answer.text
    assert [(p["code"], p["newly_enrolled"], p["enrolled"]) for p in answer.json()] == [
        ("RED-CRESCENT", 0, 0), ("RED-CRESCENT", 1, 1), ("WELFARE", 1, 1), ("WELFARE", 1, 2)
    ]  # fmt: skip
    assert (
        client.get(
            "/api/v1/reports/enrolment-drive", params=params, headers=login_as(client, "verifier", area="D1")
        ).status_code
        == 403
    )
    bad = client.get("/api/v1/reports/enrolment-drive", params={**params, "ends": "2024-06-01"}, headers=manager)
    assert bad.status_code == 422
