"""The world of the card tests: the small Viet Nam world, and a scheme whose policy issues cards per household."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from equicover.cards import service
from equicover.cards.models import MemberCard
from equicover.enrolment.models import Contribution
from tests import factories as make

ISSUED_ON = dt.date(2024, 7, 15)
HOUSEHOLD_SCHEME = "VN-HH"


def household_policy_text(valid_days: int = 365) -> str:
    text = (make.POLICIES / "vn-shi-2024.toml").read_text(encoding="utf-8")
    text = text.replace('id = "vn-shi-2024"', 'id = "vn-shi-2024-households"', 1)
    return text + f'\n[card]\nper = "household"\nvalid_days = {valid_days}\n'


def household_scheme(session: Session, world: make.World) -> int:
    """Scheme VN-HH (cards per household), with the members of H1 but the child enrolled in it."""
    scheme = make.scheme(session, code=HOUSEHOLD_SCHEME)
    period = make.period(session, scheme_id=scheme.id)
    make.policy_version(session, scheme_code=HOUSEHOLD_SCHEME, source_text=household_policy_text())
    for person_id in world.person_ids[:2]:
        make.enrolment(session, person_id=person_id, scheme_id=scheme.id, period_id=period.id)
    session.flush()
    return scheme.id


def own_part_due(session: Session, world: make.World, person_id: int) -> Contribution:
    """The member's own part of the scheme year (300,000), due and not paid."""
    return make.contribution(
        session, person_id=person_id, scheme_id=world.scheme_id, amount_minor=300_000, payer_kind="member", status="due"
    )


def card_issued_today(session: Session, world: make.World) -> MemberCard:
    """Member One enrolled in a period around today, with a card issued today."""
    today = dt.date.today()
    period = make.period(
        session, scheme_id=world.scheme_id, starts=today - dt.timedelta(days=10), ends=today + dt.timedelta(days=300)
    )
    person_id = world.person_ids[0]
    make.enrolment(
        session, person_id=person_id, scheme_id=world.scheme_id, period_id=period.id, starts=period.starts,
        ends=period.ends,
    )  # fmt: skip
    return service.issue_card(session=session, scheme_code="VN-SHI", on=today, person_id=person_id)
