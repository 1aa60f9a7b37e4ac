"""Only claims a fund paid are drawn for verification: a claim the member paid in full has nothing to recover."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.claims.models import Claim
from equicover.verification.models import ClaimReview
from equicover.verification.service import draw_sample
from tests import factories as make

YEAR = (dt.date(2018, 1, 1), dt.date(2018, 12, 31))


def test_a_claim_no_fund_paid_is_never_sampled(session: Session) -> None:
    make.locations(session)
    year = make.scheme_year(session, code="CN-YA", currency="CNY", policy="cn-yaan-2018", starts=YEAR[0], ends=YEAR[1])
    make.provider(session, code="PA", level="county", location_code="D1")
    make.contract(session, provider_code="PA", scheme_code="CN-YA", starts=YEAR[0], ends=YEAR[1])
    member = make.enrolled_person(session, scheme=year).id
    # The outpatient pool's 200.00 a year is used up by the first two: the third is the member's alone.
    for claim_id, day, total in (("O1", 1, 30_000), ("O2", 5, 20_000), ("O3", 9, 10_000)):
        make.claim(session, claim_id=claim_id, person_id=member, service_date=dt.date(2018, 3, day), total=total)
    session.flush()
    third = session.scalars(select(Claim).where(Claim.claim_id == "O3")).one()
    assert third.zero_reason is None and third.member_oop == third.total
    draw_sample(session=session, period_starts=YEAR[0], period_ends=YEAR[1], random_count=3, risk_count=0, seed=7)
    sampled = session.scalars(
        select(Claim.claim_id).join(ClaimReview, ClaimReview.claim_pk == Claim.id).order_by(Claim.claim_id)
    ).all()
    assert sampled == ["O1", "O2"]
