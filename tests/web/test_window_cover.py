"""The window's cover panel says what each payer has paid this year, the ceiling layers included."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims.models import ClaimPayment
from equicover.web.i18n import Localiser
from tests import factories as make
from tests.api_helpers import login_as, make_client

YEAR = (dt.date(2018, 1, 1), dt.date(2018, 12, 31))


def test_the_tilt_shows_what_it_paid_not_the_patients_share(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    make.locations(session)
    year = make.scheme_year(session, code="CN-YA", currency="CNY", policy="cn-yaan-2018", starts=YEAR[0], ends=YEAR[1])
    make.provider(session, code="PA", level="county", location_code="D1")
    make.contract(session, provider_code="PA", scheme_code="CN-YA", starts=YEAR[0], ends=YEAR[1])
    poor = make.enrolled_person(
        session, scheme=year, categories=["registered_poor"], categories_from=dt.date(2015, 1, 1)
    ).id
    stay = make.claim(
        session, claim_id="I1", person_id=poor, service_date=dt.date(2018, 3, 1), care_type="inpatient",
        diagnosis="J18.9", days=6, total=2_000_000,
    )  # fmt: skip
    paid = dict(
        session.execute(select(ClaimPayment.item_id, ClaimPayment.amount).where(ClaimPayment.claim_pk == stay.id)).all()
    )
    session.commit()
    assert paid["tilt"] > 0 and paid["tilt"] != stay.member_oop
    client = make_client(session_factory=session_factory)
    login_as(client, "clerk", provider="PA", cookie=True)
    page = client.get(f"/window/persons/{poor}", params={"on": "2018-03-02"}).text
    shown = dict(re.findall(r'<tr data-layer="([a-z_]+)">.*?data-testid="paid-this-year">([^<]*)<', page, re.S))
    money = Localiser("en").money
    assert shown["tilt"] == money(paid["tilt"], 2)
    assert shown["basic"] == money(paid["basic"], 2)
