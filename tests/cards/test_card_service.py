"""Issuing cards, their status, replacement, and checking a card against the register."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from equicover.audit.models import ChangeLog
from equicover.cards import service
from equicover.cards.models import MemberCard
from equicover.cards.numbers import number_problem
from equicover.errors import Conflict, NotFound, ValidationFailed
from tests import factories as make
from tests.cards.world import HOUSEHOLD_SCHEME, ISSUED_ON, household_scheme


def _cards(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(MemberCard)) or 0


def test_a_person_card_is_valid_for_the_policy_days_within_the_enrolment(session: Session) -> None:
    world = make.vn_world(session)
    poor = world.person_ids[0]
    card = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=poor, actor="reg")
    assert number_problem(card.number) is None
    assert (card.holder_kind, card.person_id, card.household_id) == ("person", poor, world.household_id)
    assert card.category == "registered_poor"
    assert card.status == "issued"
    # 365 days from 2024-07-15 would run to 2025-07-14; the enrolment ends 2025-06-30.
    assert (card.valid_from, card.valid_to) == (ISSUED_ON, dt.date(2025, 6, 30))
    logged = session.scalars(select(ChangeLog).where(ChangeLog.entity == "member_cards")).all()
    assert [(row.entity_id, row.action, row.actor) for row in logged] == [(card.id, "create", "reg")]
    assert logged[0].after is not None and logged[0].after["holder"] == f"P{poor}"


def test_the_policy_valid_days_shorten_a_card(session: Session) -> None:
    world = make.vn_world(session)
    scheme_id = household_scheme(session, world)
    from equicover.claims.models import PolicyVersion

    version = session.scalars(select(PolicyVersion).where(PolicyVersion.scheme_id == scheme_id)).one()
    assert 'per = "household"' in version.source_text
    card = service.issue_card(
        session=session, scheme_code=HOUSEHOLD_SCHEME, on=ISSUED_ON, household_id=world.household_id
    )
    assert (card.holder_kind, card.person_id, card.household_id) == ("household", None, world.household_id)
    assert card.category == "registered_poor"  # the first category any member holds, in the registry's order
    assert service.card_rules(session=session, scheme_id=scheme_id, on=ISSUED_ON).per == "household"


def test_a_card_goes_to_the_holder_the_policy_names(session: Session) -> None:
    world = make.vn_world(session)
    household_scheme(session, world)
    with pytest.raises(ValidationFailed, match="issues cards per household"):
        service.issue_card(session=session, scheme_code=HOUSEHOLD_SCHEME, on=ISSUED_ON, person_id=world.person_ids[0])
    with pytest.raises(ValidationFailed, match="issues cards per person"):
        service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, household_id=world.household_id)
    assert _cards(session) == 0


def test_no_card_without_an_enrolment_on_the_issue_date(session: Session) -> None:
    world = make.vn_world(session)
    child = world.person_ids[2]  # not enrolled
    with pytest.raises(ValidationFailed) as refused:
        service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=child)
    assert (refused.value.record, refused.value.field) == (f"person {child}", "enrolment")
    with pytest.raises(ValidationFailed, match="not enrolled"):
        service.issue_card(session=session, scheme_code="VN-SHI", on=dt.date(2025, 7, 1), person_id=world.person_ids[0])
    with pytest.raises(NotFound):
        service.issue_card(session=session, scheme_code="NOPE", on=ISSUED_ON, person_id=child)
    assert _cards(session) == 0


def test_one_live_card_per_holder_and_a_stale_one_expires_when_the_next_is_issued(session: Session) -> None:
    world = make.vn_world(session)
    poor = world.person_ids[0]
    make.enrolment(
        session,
        person_id=poor,
        scheme_id=world.scheme_id,
        period_id=make.period(
            session, scheme_id=world.scheme_id, starts=dt.date(2025, 7, 1), ends=dt.date(2026, 6, 30)
        ).id,
        starts=dt.date(2025, 7, 1),
        ends=dt.date(2026, 6, 30),
    )
    first = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=poor)
    with pytest.raises(Conflict, match=f"already holds card {first.id}"):
        service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=poor)
    assert _cards(session) == 1
    renewed = service.issue_card(session=session, scheme_code="VN-SHI", on=dt.date(2025, 7, 1), person_id=poor)
    assert first.status == "expired"
    assert (renewed.status, renewed.valid_to) == ("issued", dt.date(2026, 6, 30))


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (["active", "suspended", "active", "lost"], None),
        (["active", "issued"], "a active card cannot become issued"),
        (["lost", "active"], "a lost card cannot become active"),
        (["active", "replaced"], "replaced by issuing its replacement"),
        (["suspended"], "a issued card cannot become suspended"),
        (["expired"], "not expired yet"),
    ],
)
def test_status_moves_only_along_the_allowed_transitions(
    session: Session, path: list[str], refused: str | None
) -> None:
    world = make.vn_world(session)
    card = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=world.person_ids[0])
    *allowed, last = path
    for status in allowed:
        service.set_status(session=session, card=card, status=status, on=ISSUED_ON)
    if refused is None:
        service.set_status(session=session, card=card, status=last, on=ISSUED_ON)
        assert card.status == last
        return
    before = card.status
    with pytest.raises(Conflict, match=refused):
        service.set_status(session=session, card=card, status=last, on=ISSUED_ON)
    assert card.status == before


def test_a_card_past_its_validity_may_be_marked_expired(session: Session) -> None:
    world = make.vn_world(session)
    card = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=world.person_ids[0])
    service.set_status(session=session, card=card, status="expired", on=dt.date(2025, 7, 1))
    assert card.status == "expired"


def test_a_lost_card_is_replaced_by_a_new_number(session: Session) -> None:
    world = make.vn_world(session)
    card = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=world.person_ids[0])
    service.set_status(session=session, card=card, status="lost", on=ISSUED_ON)
    new = service.replace_card(session=session, card=card, on=dt.date(2024, 8, 1), actor="reg")
    assert card.status == "replaced"
    assert (new.replaces_id, new.person_id, new.status) == (card.id, card.person_id, "issued")
    assert new.number != card.number
    with pytest.raises(Conflict, match="a replaced card cannot be replaced"):
        service.replace_card(session=session, card=card, on=dt.date(2024, 8, 1))


def test_a_card_is_found_by_its_number_and_a_mistyped_number_is_refused(session: Session) -> None:
    world = make.vn_world(session)
    card = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=world.person_ids[0])
    spaced = " ".join(card.number[i : i + 4] for i in (0, 4, 8))
    assert service.get_card(session=session, number=spaced) is card
    wrong = card.number[:-1] + str((int(card.number[-1]) + 1) % 10)
    with pytest.raises(ValidationFailed, match="check digits"):
        service.get_card(session=session, number=wrong)


def test_the_register_overrules_a_good_signature_of_a_lost_card(session: Session) -> None:
    world = make.vn_world(session)
    card = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=world.person_ids[0])
    text = service.payload_of(session=session, card=card)
    assert text == service.payload_of(session=session, card=card)  # Ed25519 is deterministic
    good = service.verify_payload(session=session, text=text, on=dt.date(2024, 9, 1))
    assert (good.check.verdict, good.card) == ("valid", card)
    service.set_status(session=session, card=card, status="lost", on=ISSUED_ON)
    lost = service.verify_payload(session=session, text=text, on=dt.date(2024, 9, 1))
    assert (lost.check.verdict, lost.check.reason) == ("invalid", "the card is lost")
    late = service.verify_payload(session=session, text=text, on=dt.date(2025, 7, 1))
    assert late.check.verdict == "expired"


def test_cards_are_issued_by_area_to_those_without_one(session: Session) -> None:
    world = make.vn_world(session)
    poor, member_two, _ = world.person_ids
    already = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=poor)
    issued = service.issue_for_area(session=session, area_code="D1", scheme_code="VN-SHI", on=ISSUED_ON)
    assert [card.person_id for card in issued] == [member_two]  # H2 lives in D2; the child is not enrolled
    everywhere = service.issue_for_area(session=session, area_code="LC", scheme_code="VN-SHI", on=ISSUED_ON)
    assert [card.person_id for card in everywhere] == [world.other_person_id]
    assert service.issue_for_area(session=session, area_code="LC", scheme_code="VN-SHI", on=ISSUED_ON) == []
    with pytest.raises(NotFound):
        service.issue_for_area(session=session, area_code="XX", scheme_code="VN-SHI", on=ISSUED_ON)
    assert already.status == "issued"


def test_household_cards_are_issued_by_area_once_per_household(session: Session) -> None:
    world = make.vn_world(session)
    household_scheme(session, world)
    issued = service.issue_for_area(session=session, area_code="LC", scheme_code=HOUSEHOLD_SCHEME, on=ISSUED_ON)
    assert [(card.holder_kind, card.household_id) for card in issued] == [("household", world.household_id)]
    printed = service.printed_cards(session=session, cards=issued)
    assert printed[0].holder_name == "Member One"  # a household's card shows its first member
    assert printed[0].household_code == "H1"
