"""Referral letters: issued, checked for a claim, counter-referred, cancelled."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.audit.models import ChangeLog
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.referrals import service
from equicover.referrals.models import ReferralLetter
from tests import factories as make

ISSUED = dt.date(2024, 9, 1)


def _letter(session: Session, world: make.World, **changes: object) -> ReferralLetter:
    fields: dict[str, object] = dict(
        person_id=world.person_ids[1],
        from_provider_code="PC",
        to_provider_code="PA",
        diagnosis="k35.8",
        reason="suspected appendicitis",
        issued_on=ISSUED,
        actor="clerk-pc",
    )
    fields.update(changes)
    return service.issue_letter(session=session, **fields)  # type: ignore[arg-type]


def test_a_letter_is_issued_to_a_facility_and_logged_without_its_reason(session: Session) -> None:
    world = make.vn_world(session)
    letter = _letter(session, world)
    assert letter.number.startswith("R") and len(letter.number) == 11
    assert (letter.to_provider_id, letter.to_level, letter.diagnosis, letter.status) == (
        world.provider_a,
        None,
        "K35.8",
        "issued",
    )
    assert service.get_letter(session=session, number=letter.number.lower()) is letter
    logged = session.scalars(select(ChangeLog).where(ChangeLog.entity == "referral_letters")).one()
    assert logged.after is not None
    assert "reason" not in logged.after and "diagnosis" not in logged.after


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"to_level": "province"}, "to"),  # both a facility and a level
        ({"to_provider_code": None}, "to"),  # neither
        ({"diagnosis": "appendicitis"}, "diagnosis"),
        ({"reason": "   "}, "reason"),
        ({"from_provider_code": "NOPE"}, "from_provider_code"),
        ({"to_provider_code": "PC"}, "to_provider_code"),  # to itself
        ({"issued_on": dt.date(1970, 1, 1)}, "issued_on"),
    ],
)
def test_bad_letters_are_refused_with_the_field(session: Session, changes: dict[str, object], field: str) -> None:
    world = make.vn_world(session)
    with pytest.raises(ValidationFailed) as refused:
        _letter(session, world, **changes)
    assert refused.value.field == field
    assert session.scalar(select(ReferralLetter.id)) is None


def test_an_unknown_number_is_not_found(session: Session) -> None:
    make.vn_world(session)
    with pytest.raises(NotFound):
        service.get_letter(session=session, number="R1234567890")


@pytest.mark.parametrize(
    ("care", "refusal"),
    [
        ({}, None),
        ({"service_date": ISSUED + dt.timedelta(days=29)}, None),  # the 30th day of 30
        ({"service_date": ISSUED + dt.timedelta(days=30)}, "the letter was valid until 2024-09-30"),
        ({"service_date": ISSUED - dt.timedelta(days=1)}, "the care is dated before the letter"),
        ({"person": "other"}, "the letter is for another patient"),
        ({"provider": "PB"}, "the letter refers the patient to another facility"),
    ],
)
def test_a_letter_refers_its_patient_to_its_facility_for_its_days(
    session: Session, care: dict[str, object], refusal: str | None
) -> None:
    world = make.vn_world(session)
    letter = _letter(session, world)
    person = world.other_person_id if care.get("person") == "other" else world.person_ids[1]
    provider = world.provider_b if care.get("provider") == "PB" else world.provider_a
    on = care.get("service_date", ISSUED + dt.timedelta(days=3))
    assert isinstance(on, dt.date)
    found = service.letter_refusal(
        letter, person_id=person, provider_id=provider, provider_level="district", service_date=on, valid_days=30
    )
    assert found == refusal


def test_a_letter_to_a_level_refers_to_any_facility_of_that_level(session: Session) -> None:
    world = make.vn_world(session)
    letter = _letter(session, world, to_provider_code=None, to_level="district")
    common = dict(person_id=world.person_ids[1], service_date=ISSUED, valid_days=30)
    assert service.letter_refusal(letter, provider_id=world.provider_b, provider_level="district", **common) is None
    assert (
        service.letter_refusal(letter, provider_id=world.provider_c, provider_level="commune", **common)
        == "the letter refers the patient to level district"
    )


def test_the_counter_referral_closes_the_letter_after_its_date(session: Session) -> None:
    world = make.vn_world(session)
    letter = _letter(session, world)
    with pytest.raises(ValidationFailed, match="another facility"):
        service.counter_refer(session=session, letter=letter, by_provider_code="PB", on=ISSUED, note="done")
    back = ISSUED + dt.timedelta(days=5)
    service.counter_refer(session=session, letter=letter, by_provider_code="PA", on=back, note="operated; follow-up")
    assert (letter.status, letter.counter_on, letter.counter_by_provider_id) == (
        "counter_referred",
        back,
        world.provider_a,
    )
    common = dict(person_id=world.person_ids[1], provider_id=world.provider_a, provider_level="district", valid_days=30)
    assert service.letter_refusal(letter, service_date=back, **common) is None
    assert (
        service.letter_refusal(letter, service_date=back + dt.timedelta(days=1), **common)
        == "the patient was sent back on 2024-09-06"
    )
    with pytest.raises(Conflict, match="counter-referred letter cannot be counter-referred"):
        service.counter_refer(session=session, letter=letter, by_provider_code="PA", on=back, note="again")


def test_a_cancelled_letter_refers_nothing(session: Session) -> None:
    world = make.vn_world(session)
    letter = _letter(session, world)
    service.cancel_letter(session=session, letter=letter)
    assert (
        service.letter_refusal(
            letter,
            person_id=world.person_ids[1],
            provider_id=world.provider_a,
            provider_level="district",
            service_date=ISSUED,
            valid_days=30,
        )
        == "the letter was cancelled"
    )
    with pytest.raises(Conflict):
        service.cancel_letter(session=session, letter=letter)
