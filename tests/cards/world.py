"""The world of the card tests: the small Viet Nam world, and a scheme whose policy issues cards per household."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

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
