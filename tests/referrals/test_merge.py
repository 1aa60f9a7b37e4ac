"""Merging a duplicate person gives the survivor its referral letters and grievance cases."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from equicover.claims.service import submit_claim
from equicover.grievances.service import open_case
from equicover.person_merge.service import merge_persons
from equicover.referrals import service
from tests import factories as make
from tests.referrals.test_referred_claims import ISSUED, _bill, _province_world


def test_the_survivor_takes_the_duplicates_letters_and_cases(session: Session) -> None:
    world, letter = _province_world(session)
    duplicate = world.person_ids[1]  # the letter's patient
    survivor = make.person(session, full_name="Member Two", location_code="C11", birth_date=dt.date(1978, 2, 3))
    make.enrolment(session, person_id=survivor.id, scheme_id=world.scheme_id, period_id=world.period_id)
    case = open_case(
        session=session,
        category="category_decision",
        subject_id=duplicate,
        description="wrong category",
        opened_on=ISSUED,
        complainant_person_id=duplicate,
    )
    result = merge_persons(session=session, survivor_id=survivor.id, merged_id=duplicate)
    assert result.referral_letters == [letter.id] and result.grievance_cases == [case.id]
    assert (letter.person_id, case.complainant_person_id, case.subject_id) == (survivor.id,) * 3
    stored, _ = submit_claim(
        session=session, claim=_bill(world, "M-1", person_id=survivor.id, referral_letter=letter.number)
    )
    assert stored.referred is True
    assert service.claims_using(session=session, letter_id=letter.id) == [stored.id]
