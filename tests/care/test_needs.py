"""The care ledger of the registered poor, one behaviour per test: who is in it, how a need is
noted, when it counts as treated, in treatment or needing treatment, and what is refused.

Most tests stand on the VN-SHI scheme year with the district hospital PA (district D1) under
contract; the tests of chronic out-patient claims use the Ya'an policy of 2018, whose care types
include ``chronic_outpatient``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from equicover.care import service as care
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.registry.schemas import CategoryIn
from tests import factories as make
from tests.factories import SchemeYear

ON = dt.date(2024, 10, 31)


@pytest.fixture
def year(session) -> SchemeYear:
    make.locations(session)
    scheme = make.scheme_year(session)
    make.provider(session, code="PA", location_code="D1")
    make.contract(session, provider_code="PA")
    return scheme


def _poor(session, year: SchemeYear, **fields):
    return make.enrolled_person(session, scheme=year, categories=["registered_poor"], **fields)


def _visit(session, person_id: int, claim_id: str, day: dt.date, diagnosis: str, **bill) -> None:
    make.claim(session, claim_id=claim_id, person_id=person_id, service_date=day, diagnosis=diagnosis, **bill)


def _needs(session, person_id: int, on: dt.date = ON) -> dict[str | None, str]:
    (entry,) = [entry for entry in care.care_ledger(session=session, on=on) if entry.person_id == person_id]
    return {need.diagnosis: need.status for need in entry.needs}


def test_only_persons_holding_registered_poor_on_the_day_are_in_the_ledger(session, year) -> None:
    poor = _poor(session, year)
    make.enrolled_person(session, scheme=year)  # never poor
    make.person(  # poor until the end of 2023
        session,
        categories=[
            CategoryIn(category="registered_poor", valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2023, 12, 31))
        ],
    )
    later = make.person(  # poor from 1 November 2024
        session, categories=[CategoryIn(category="registered_poor", valid_from=dt.date(2024, 11, 1))]
    )
    assert [entry.person_id for entry in care.care_ledger(session=session, on=ON)] == [poor.id]
    assert [entry.person_id for entry in care.care_ledger(session=session, on=dt.date(2024, 11, 1))] == [
        poor.id,
        later.id,
    ]


def test_a_person_without_needs_has_the_status_no_need(session, year) -> None:
    poor = _poor(session, year)
    (entry,) = care.care_ledger(session=session, on=ON)
    assert (entry.person_id, entry.needs, entry.status) == (poor.id, [], "no_need")
    assert care.untreated(session=session, on=ON) == []


def test_a_condition_noted_by_hand_needs_treatment_until_a_claim_for_it(session, year) -> None:
    poor = _poor(session, year)
    care.note_condition(session=session, person_id=poor.id, diagnosis=" i10 ", noted_on=dt.date(2024, 8, 1))
    assert _needs(session, poor.id) == {"I10": "needs_treatment"}
    assert [entry.person_id for entry in care.untreated(session=session, on=ON)] == [poor.id]
    _visit(session, poor.id, "HT-1", dt.date(2024, 10, 2), "I10")
    assert _needs(session, poor.id) == {"I10": "in_treatment"}
    assert care.untreated(session=session, on=ON) == []


def test_a_need_stays_in_treatment_for_90_days_after_the_last_claim_for_it(session, year) -> None:
    poor = _poor(session, year)
    care.note_condition(session=session, person_id=poor.id, diagnosis="I10", noted_on=dt.date(2024, 8, 1))
    _visit(session, poor.id, "HT-1", dt.date(2024, 10, 2), "I10")
    # 31 December 2024 is 90 days after 2 October; 1 January 2025 is 91.
    assert (dt.date(2024, 12, 31) - dt.date(2024, 10, 2)).days == 90
    assert _needs(session, poor.id, on=dt.date(2024, 12, 31)) == {"I10": "in_treatment"}
    assert _needs(session, poor.id, on=dt.date(2025, 1, 1)) == {"I10": "needs_treatment"}
    (entry,) = care.care_ledger(session=session, on=dt.date(2025, 1, 1))
    assert entry.needs[0].last_claim == dt.date(2024, 10, 2)


def test_a_claim_for_the_same_icd10_category_treats_the_need(session, year) -> None:
    poor = _poor(session, year)
    care.note_condition(session=session, person_id=poor.id, diagnosis="E11.9", noted_on=dt.date(2024, 8, 1))
    care.note_condition(session=session, person_id=poor.id, diagnosis="I10", noted_on=dt.date(2024, 8, 1))
    _visit(session, poor.id, "DM-1", dt.date(2024, 10, 2), "E11.2")  # another code of diabetes (E11)
    _visit(session, poor.id, "COLD-1", dt.date(2024, 10, 3), "J06.9")  # nothing to do with hypertension
    assert _needs(session, poor.id) == {"E11.9": "in_treatment", "I10": "needs_treatment"}


def test_a_claim_before_the_condition_was_noted_does_not_treat_it(session, year) -> None:
    poor = _poor(session, year)
    _visit(session, poor.id, "HT-0", dt.date(2024, 10, 1), "I10")
    care.note_condition(session=session, person_id=poor.id, diagnosis="I10", noted_on=dt.date(2024, 10, 2))
    assert _needs(session, poor.id) == {"I10": "needs_treatment"}


def test_a_resolved_condition_counts_as_treated_from_the_day_it_is_resolved(session, year) -> None:
    poor = _poor(session, year)
    condition = care.note_condition(session=session, person_id=poor.id, diagnosis="K35.8", noted_on=dt.date(2024, 9, 1))
    care.resolve_condition(session=session, condition_id=condition.id, resolved_on=dt.date(2024, 9, 10))
    assert _needs(session, poor.id, on=dt.date(2024, 9, 10)) == {"K35.8": "treated"}
    assert _needs(session, poor.id, on=ON) == {"K35.8": "treated"}
    assert care.untreated(session=session, on=ON) == []


def test_a_condition_is_resolved_once_and_not_before_it_was_noted(session, year) -> None:
    poor = _poor(session, year)
    condition = care.note_condition(session=session, person_id=poor.id, diagnosis="K35.8", noted_on=dt.date(2024, 9, 1))
    with pytest.raises(ValidationFailed, match="is before the condition was noted"):
        care.resolve_condition(session=session, condition_id=condition.id, resolved_on=dt.date(2024, 8, 31))
    care.resolve_condition(session=session, condition_id=condition.id, resolved_on=dt.date(2024, 9, 1))
    with pytest.raises(Conflict, match="already resolved"):
        care.resolve_condition(session=session, condition_id=condition.id, resolved_on=dt.date(2024, 9, 2))
    with pytest.raises(NotFound, match="unknown condition"):
        care.resolve_condition(session=session, condition_id=987_654, resolved_on=dt.date(2024, 9, 2))


def test_an_open_condition_cannot_be_noted_twice_but_can_again_once_resolved(session, year) -> None:
    poor = _poor(session, year)
    first = care.note_condition(session=session, person_id=poor.id, diagnosis="I10", noted_on=dt.date(2024, 8, 1))
    with pytest.raises(Conflict, match="already open"):
        care.note_condition(session=session, person_id=poor.id, diagnosis="i10", noted_on=dt.date(2024, 9, 1))
    care.resolve_condition(session=session, condition_id=first.id, resolved_on=dt.date(2024, 8, 20))
    again = care.note_condition(session=session, person_id=poor.id, diagnosis="I10", noted_on=dt.date(2024, 9, 1))
    assert again.id != first.id and again.resolved_on is None


def test_a_condition_needs_a_code_and_a_known_person(session, year) -> None:
    poor = _poor(session, year)
    with pytest.raises(ValidationFailed, match="an ICD-10 code is required"):
        care.note_condition(session=session, person_id=poor.id, diagnosis="  ", noted_on=ON)
    with pytest.raises(NotFound, match="unknown person"):
        care.note_condition(session=session, person_id=987_654, diagnosis="I10", noted_on=ON)


def test_a_persons_status_is_the_worst_of_their_needs(session, year) -> None:
    poor = _poor(session, year)
    resolved = care.note_condition(session=session, person_id=poor.id, diagnosis="K35.8", noted_on=dt.date(2024, 9, 1))
    care.resolve_condition(session=session, condition_id=resolved.id, resolved_on=dt.date(2024, 9, 10))
    assert care.care_ledger(session=session, on=ON)[0].status == "treated"
    care.note_condition(session=session, person_id=poor.id, diagnosis="I10", noted_on=dt.date(2024, 9, 1))
    _visit(session, poor.id, "HT-1", dt.date(2024, 10, 2), "I10")
    assert care.care_ledger(session=session, on=ON)[0].status == "in_treatment"
    care.note_condition(session=session, person_id=poor.id, diagnosis="E11.9", noted_on=dt.date(2024, 9, 1))
    assert care.care_ledger(session=session, on=ON)[0].status == "needs_treatment"


def test_a_health_check_finding_a_need_adds_it_and_a_normal_check_adds_none(session, year) -> None:
    needing, healthy = _poor(session, year), _poor(session, year)
    care.record_health_check(
        session=session,
        person_id=needing.id,
        checked_on=dt.date(2024, 10, 5),
        outcome="needs_treatment",
        finding="e11.9",
    )
    care.record_health_check(session=session, person_id=healthy.id, checked_on=dt.date(2024, 10, 6), outcome="normal")
    assert _needs(session, needing.id) == {"E11.9": "needs_treatment"}
    assert _needs(session, healthy.id) == {}
    entries = {entry.person_id: entry for entry in care.care_ledger(session=session, on=ON)}
    assert entries[needing.id].last_health_check == dt.date(2024, 10, 5)
    assert entries[healthy.id].last_health_check == dt.date(2024, 10, 6)
    assert entries[needing.id].needs[0].source == "health_check"


def test_a_health_check_finding_a_condition_already_noted_adds_no_second_need(session, year) -> None:
    poor = _poor(session, year)
    care.note_condition(session=session, person_id=poor.id, diagnosis="E11.9", noted_on=dt.date(2024, 8, 1))
    care.record_health_check(
        session=session, person_id=poor.id, checked_on=dt.date(2024, 10, 5), outcome="needs_treatment", finding="E11.2"
    )
    assert _needs(session, poor.id) == {"E11.9": "needs_treatment"}


def test_a_health_check_outcome_must_be_one_of_the_known_outcomes(session, year) -> None:
    poor = _poor(session, year)
    with pytest.raises(ValidationFailed, match="one of normal, follow_up, needs_treatment"):
        care.record_health_check(session=session, person_id=poor.id, checked_on=ON, outcome="fine")
    with pytest.raises(ValidationFailed, match="unknown provider"):
        care.record_health_check(session=session, person_id=poor.id, checked_on=ON, outcome="normal", provider_code="X")


def test_admissions_are_the_inpatient_claims_of_the_last_365_days(session, year) -> None:
    poor = _poor(session, year)
    for claim_id, day in (("IP-AUG", dt.date(2024, 8, 1)), ("IP-SEP", dt.date(2024, 9, 1))):
        _visit(session, poor.id, claim_id, day, "J18.9", care_type="inpatient", days=3, total=2_000_000)
    _visit(session, poor.id, "OP", dt.date(2024, 9, 2), "J06.9")
    # On 31 July 2025 the window is 1 August 2024 .. 31 July 2025; a day later it starts on 2 August.
    assert care.care_ledger(session=session, on=dt.date(2025, 7, 31))[0].admissions == 2
    assert care.care_ledger(session=session, on=dt.date(2025, 8, 1))[0].admissions == 1


def test_family_doctor_contracts_of_one_person_may_not_overlap(session, year) -> None:
    poor = _poor(session, year)
    first = care.sign_family_doctor(
        session=session, person_id=poor.id, provider_code="PA", starts=dt.date(2024, 1, 1), ends=dt.date(2024, 12, 31)
    )
    with pytest.raises(Conflict, match=f"overlaps family-doctor contract {first.id}"):
        care.sign_family_doctor(
            session=session,
            person_id=poor.id,
            provider_code="PA",
            starts=dt.date(2024, 12, 31),
            ends=dt.date(2025, 12, 31),
        )
    with pytest.raises(ValidationFailed, match="is before starts"):
        care.sign_family_doctor(
            session=session, person_id=poor.id, provider_code="PA", starts=dt.date(2025, 6, 1), ends=dt.date(2025, 1, 1)
        )
    following = care.sign_family_doctor(
        session=session, person_id=poor.id, provider_code="PA", starts=dt.date(2025, 1, 1), ends=dt.date(2025, 12, 31)
    )
    assert (
        care.care_ledger(session=session, on=dt.date(2025, 3, 1))[0].family_doctor_provider_id == following.provider_id
    )


def test_family_doctors_are_given_to_the_registered_poor_of_communes_with_a_facility(session, year) -> None:
    station = make.provider(session, code="HC11", level="commune", location_code="C11")
    in_c11 = _poor(session, year, location_code="C11")
    in_c12 = _poor(session, year, location_code="C12")  # no commune facility in C12
    make.enrolled_person(session, scheme=year, location_code="C11")  # not poor
    assert (
        care.sign_family_doctors_for_poor(
            session=session, starts=dt.date(2024, 7, 1), ends=dt.date(2025, 6, 30), provider_level="commune"
        )
        == 1
    )
    entries = {entry.person_id: entry.family_doctor_provider_id for entry in care.care_ledger(session=session, on=ON)}
    assert entries == {in_c11.id: station.id, in_c12.id: None}
    summary = care.status_summary(session=session, on=ON)
    assert (summary["registered_poor"], summary["with_family_doctor"], summary["no_need"]) == (2, 1, 2)


def test_the_status_summary_counts_the_persons_of_each_status(session, year) -> None:
    treated, in_treatment, untreated, no_need = (_poor(session, year) for _ in range(4))
    condition = care.note_condition(
        session=session, person_id=treated.id, diagnosis="K35.8", noted_on=dt.date(2024, 9, 1)
    )
    care.resolve_condition(session=session, condition_id=condition.id, resolved_on=dt.date(2024, 9, 2))
    care.note_condition(session=session, person_id=in_treatment.id, diagnosis="I10", noted_on=dt.date(2024, 9, 1))
    _visit(session, in_treatment.id, "HT-1", dt.date(2024, 10, 2), "I10")
    care.record_health_check(
        session=session, person_id=untreated.id, checked_on=dt.date(2024, 10, 1), outcome="needs_treatment"
    )
    assert care.status_summary(session=session, on=ON) == {
        "registered_poor": 4,
        "with_family_doctor": 0,
        "with_health_check": 1,
        "no_need": 1,
        "treated": 1,
        "in_treatment": 1,
        "needs_treatment": 1,
    }
    assert [entry.person_id for entry in care.untreated(session=session, on=ON)] == [untreated.id]
    del no_need


# --------------------------------------------------------------------------------------------
# Conditions noted from chronic out-patient claims (Ya'an, 2018)


@pytest.fixture
def yaan(session) -> SchemeYear:
    """The Ya'an resident insurance of 2018 and the township health centre TS of commune C11."""
    make.locations(session)
    scheme = make.scheme_year(
        session,
        code="YAAN",
        currency="CNY",
        policy="cn-yaan-2018",
        starts=dt.date(2018, 1, 1),
        ends=dt.date(2018, 12, 31),
    )
    make.provider(session, code="TS", level="township", location_code="C11")
    make.contract(session, provider_code="TS", scheme_code="YAAN", starts=scheme.starts, ends=scheme.ends)
    return scheme


def _yaan_member(session, yaan: SchemeYear, *categories: str):
    since = dt.date(2017, 1, 1)
    return make.enrolled_person(session, scheme=yaan, registered_on=since, categories=categories, categories_from=since)


def _chronic(
    session, person_id: int, claim_id: str, day: dt.date, diagnosis: str, care_type: str = "chronic_outpatient"
) -> None:
    make.claim(
        session,
        claim_id=claim_id,
        person_id=person_id,
        provider_code="TS",
        service_date=day,
        care_type=care_type,
        diagnosis=diagnosis,
        total=30_000,
    )


def test_a_condition_is_noted_from_the_first_chronic_outpatient_claim_of_a_registered_poor_person(
    session, yaan
) -> None:
    poor = _yaan_member(session, yaan, "registered_poor")
    other = _yaan_member(session, yaan)
    _chronic(session, poor.id, "HT-APR", dt.date(2018, 4, 1), "I10")
    _chronic(session, poor.id, "HT-MAR", dt.date(2018, 3, 1), "I10")
    _chronic(session, poor.id, "DM-MAY", dt.date(2018, 5, 1), "E11.9")
    _chronic(session, poor.id, "COLD", dt.date(2018, 5, 2), "J06.9", care_type="outpatient")  # not chronic care
    _chronic(session, other.id, "HT-OTHER", dt.date(2018, 3, 5), "I10")  # not registered poor
    added = care.conditions_from_claims(session=session, starts=dt.date(2018, 1, 1), ends=dt.date(2018, 6, 30))
    assert added == 2
    (entry,) = care.care_ledger(session=session, on=dt.date(2018, 6, 30))
    assert sorted((need.diagnosis, need.noted_on, need.source) for need in entry.needs) == [
        ("E11.9", dt.date(2018, 5, 1), "claims"),
        ("I10", dt.date(2018, 3, 1), "claims"),
    ]


def test_conditions_from_claims_are_noted_once(session, yaan) -> None:
    poor = _yaan_member(session, yaan, "registered_poor")
    _chronic(session, poor.id, "HT-MAR", dt.date(2018, 3, 1), "I10")
    care.note_condition(session=session, person_id=poor.id, diagnosis="E11.9", noted_on=dt.date(2018, 2, 1))
    _chronic(session, poor.id, "DM-MAR", dt.date(2018, 3, 2), "E11.9")  # already open, noted by hand
    assert care.conditions_from_claims(session=session, starts=dt.date(2018, 1, 1), ends=dt.date(2018, 6, 30)) == 1
    assert care.conditions_from_claims(session=session, starts=dt.date(2018, 1, 1), ends=dt.date(2018, 6, 30)) == 0
    (entry,) = care.care_ledger(session=session, on=dt.date(2018, 3, 31))
    assert sorted((need.diagnosis, need.source, need.status) for need in entry.needs) == [
        ("E11.9", "manual", "in_treatment"),
        ("I10", "claims", "in_treatment"),
    ]


def test_a_condition_resolved_after_the_report_date_is_still_a_need_on_that_date(session, year) -> None:
    """A back-dated ledger sees the condition as it stood then: open, so a need to treat."""
    poor = _poor(session, year)
    condition = care.note_condition(session=session, person_id=poor.id, diagnosis="K35.8", noted_on=dt.date(2024, 9, 1))
    care.resolve_condition(session=session, condition_id=condition.id, resolved_on=dt.date(2024, 9, 10))
    assert _needs(session, poor.id, on=dt.date(2024, 9, 9)) == {"K35.8": "needs_treatment"}
    assert [entry.person_id for entry in care.untreated(session=session, on=dt.date(2024, 9, 9))] == [poor.id]
    assert _needs(session, poor.id, on=dt.date(2024, 9, 10)) == {"K35.8": "treated"}
