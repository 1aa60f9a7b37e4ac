"""The care ledger of the registered poor: statuses and the list of the untreated."""

from __future__ import annotations

import datetime as dt

import pytest

from equicover.care import service as care
from equicover.errors import Conflict
from tests import factories as make
from tests.factories import vn_claims_world

ON = dt.date(2024, 10, 31)


def test_care_ledger_lists_the_untreated(session) -> None:
    world = vn_claims_world(session)
    poor, not_poor, child = world.person_ids
    # Only the poor member is in the ledger. Needs: appendicitis (treated by admission, then
    # resolved), hypertension (in treatment: a visit within 90 days), diabetes (no claim at all).
    appendix = care.note_condition(session=session, person_id=poor, diagnosis="K35.8", noted_on=dt.date(2024, 9, 1))
    care.resolve_condition(session=session, condition_id=appendix.id, resolved_on=dt.date(2024, 9, 10))
    care.note_condition(session=session, person_id=poor, diagnosis="I10", noted_on=dt.date(2024, 8, 1))
    make.claim(session, claim_id="HT-1", person_id=poor, service_date=dt.date(2024, 10, 2), diagnosis="I10")
    care.note_condition(session=session, person_id=not_poor, diagnosis="E11.9", noted_on=dt.date(2024, 8, 1))
    with pytest.raises(Conflict):
        care.note_condition(session=session, person_id=poor, diagnosis="I10", noted_on=dt.date(2024, 9, 1))
    entries = care.care_ledger(session=session, on=ON)
    assert [entry.person_id for entry in entries] == [poor]
    statuses = {need.diagnosis: need.status for need in entries[0].needs}
    assert statuses == {"K35.8": "treated", "I10": "in_treatment"}
    assert entries[0].admissions == 1 and entries[0].status == "in_treatment"
    assert care.untreated(session=session, on=ON) == []
    # A health check finds diabetes; nothing follows: the person now needs treatment.
    care.record_health_check(
        session=session, person_id=poor, checked_on=dt.date(2024, 10, 5), outcome="needs_treatment", finding="E11.9"
    )
    untreated = care.untreated(session=session, on=ON)
    assert [entry.person_id for entry in untreated] == [poor]
    assert [need.diagnosis for need in untreated[0].needs if need.status == "needs_treatment"] == ["E11.9"]
    # Hypertension lapses when no visit comes for 90 days.
    later = care.care_ledger(session=session, on=dt.date(2025, 1, 15))[0]
    assert {need.diagnosis: need.status for need in later.needs}["I10"] == "needs_treatment"
    # Treated after a visit for diabetes.
    make.claim(session, claim_id="DM-1", person_id=poor, service_date=dt.date(2024, 10, 20), diagnosis="E11.9")
    assert care.untreated(session=session, on=ON) == []
    care.sign_family_doctor(
        session=session, person_id=poor, provider_code="PA", starts=dt.date(2024, 7, 1), ends=dt.date(2025, 6, 30)
    )
    summary = care.status_summary(session=session, on=ON)
    assert summary["registered_poor"] == 1 and summary["with_family_doctor"] == 1 and summary["in_treatment"] == 1
    assert summary["needs_treatment"] == 0 and summary["with_health_check"] == 1
    del child


def test_family_doctors_for_every_registered_poor_person(session) -> None:
    world = vn_claims_world(session)
    make.provider(
        session, code="HC11", name="Health centre C11", level="commune", location_code="C11", designated=False
    )
    starts, ends = dt.date(2024, 7, 1), dt.date(2025, 6, 30)
    assert care.sign_family_doctors_for_poor(session=session, starts=starts, ends=ends, provider_level="commune") == 1
    assert care.sign_family_doctors_for_poor(session=session, starts=starts, ends=ends, provider_level="commune") == 0
    entry = care.care_ledger(session=session, on=ON)[0]
    assert entry.person_id == world.person_ids[0] and entry.family_doctor_provider_id is not None
