"""HEF operators over ``tests.riel_world``: OP-D1 runs district D1 (where the member stayed at
referral hospital RH), OP-D2 runs district D2, and the member's stay was post-identified at
admission by the hospital's HEF agent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.organisations import service as organisations
from equicover.registry.models import Location, Person
from equicover.targeting.models import TargetingHospitalCase
from equicover.verification import operators
from equicover.verification.models import OperatorReview
from tests.riel_world import SERVED, RielWorld, riel_world

STARTS, ENDS = dt.date(2015, 3, 1), dt.date(2015, 3, 31)  # the month of the stay


def operator_world(session: Session) -> tuple[RielWorld, TargetingHospitalCase]:
    world = riel_world(session)
    for code, district in (("OP-D1", "D1"), ("OP-D2", "D2")):
        organisations.ensure_organisation(session=session, code=code, name=f"Operator {district}", role="hef_operator")
        location = session.scalar(select(Location.id).where(Location.code == district))
        organisations.assign_areas(
            session=session, organisation_code=code, location_ids=[location], assigned_on=dt.date(2015, 1, 1)
        )
    household = session.scalar(select(Person.household_id).where(Person.id == world.person_id))
    case = TargetingHospitalCase(
        household_id=household,
        provider_id=world.provider_id,
        rules_id="kh-idpoor-hospital",
        rules_text="",
        area_type="rural",
        answers="{}",
        category="registered_poor",
        reason="post-identified at admission",
        admitted_on=SERVED,
        valid_to=SERVED + dt.timedelta(days=10),
        status="granted",
        interviewed_by="hef-agent",
        interviewed_at=dt.datetime(2015, 3, 10, 9, tzinfo=dt.UTC),
    )
    session.add(case)
    session.flush()
    return world, case


def draw(
    session: Session, code: str = "OP-D1", cases: int = 5, benefits: int = 5, seed: int = 7
) -> list[OperatorReview]:
    """A sample of the operator's acts in the month of the stay."""
    return operators.draw_operator_sample(
        session=session,
        organisation_code=code,
        period_starts=STARTS,
        period_ends=ENDS,
        cases=cases,
        benefits=benefits,
        seed=seed,
    )
