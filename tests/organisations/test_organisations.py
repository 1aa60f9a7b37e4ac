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
