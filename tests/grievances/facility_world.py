"""A facility with money to contest: PA (district D1) under contract with the VN scheme's year, its
payment batches drafted and approved as the fund's maker and checker do, and a claim of August
paid then partly disallowed by a verifier."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from equicover.payments import service as payments
from equicover.verification import service as verification
from tests import factories as make
from tests.factories import SchemeYear

AUGUST = (dt.date(2024, 8, 1), dt.date(2024, 8, 31))
SEPTEMBER = (dt.date(2024, 9, 1), dt.date(2024, 9, 30))


def facility_year(session: Session) -> SchemeYear:
    """The VN scheme's year with PA, a facility of D1 under contract."""
    make.locations(session)
    year = make.scheme_year(session)
    make.provider(session, code="PA", location_code="D1")
    make.contract(session, provider_code="PA")
    return year


def draft_batch(session: Session, period: tuple[dt.date, dt.date]):
    return payments.draft_batch(
        session=session, provider_code="PA", period_starts=period[0], period_ends=period[1], actor="maker",
        currency="VND",
    )  # fmt: skip


def approve_batch(session: Session, batch) -> None:
    payments.approve_batch(session=session, batch_id=batch.id, actor="checker", actor_role="fund_manager")


def disallowed(session: Session, year: SchemeYear, amount: int = 500_000) -> tuple[int, int]:
    """PA's August claim of 2,000,000 paid in the approved August batch, then ``amount`` of it
    disallowed by a verifier; a September claim of 800,000 not yet batched. Returns the review id
    and the August batch id."""
    member = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=2_000_000)
    make.claim(session, claim_id="SEP", person_id=member.id, service_date=dt.date(2024, 9, 5), total=800_000)
    august = draft_batch(session, AUGUST)
    approve_batch(session, august)
    verification.draw_sample(
        session=session, period_starts=AUGUST[0], period_ends=AUGUST[1], random_count=50, risk_count=0, seed=1
    )
    review_id = next(item.review_id for item in verification.verifier_queue(session=session) if item.claim_id == "AUG")
    verification.decide(
        session=session, review_id=review_id, decision="disallow", amount=amount, reason="two days not documented",
        on=dt.date(2024, 9, 20),
    )  # fmt: skip
    return review_id, august.id
