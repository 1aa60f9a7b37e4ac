"""A Cambodian Health Equity Fund world: amounts in whole riel.

The ``kh-hef-2015`` policy counts riel with ``minor_digits = 0`` although ISO 4217 gives the riel
two: every amount of this world is a whole number of riel, and anything that prints
``150000`` minor units as ``1500.00`` has re-derived the digits from the currency.

    world = riel_world(session)      # scheme KH-HEF (KHR, 0 digits), referral hospital RH in D1
    world.claim_pk                   # a 6-day stay of a registered-poor member, billed 150,000 riel

The HEF pays the whole bill (150,000 riel to the hospital) and, beside it, 30,000 riel of food
allowance (6 days at 5,000) and 9,000 riel of transport to the member. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tests import factories as make
from tests.factories import SchemeYear

SCHEME_CODE = "KH-HEF"
POLICY = "kh-hef-2015"
STARTS, ENDS = dt.date(2015, 1, 1), dt.date(2015, 12, 31)
SERVED = dt.date(2015, 3, 10)
BILL = 150_000  # riel: the hospital's bill, paid in full by the HEF
ALLOWANCES = 6 * 5_000 + 9_000  # riel paid to the member beside the bill
LONG_BEFORE = dt.date(2010, 1, 1)


@dataclass(frozen=True)
class RielWorld:
    scheme: SchemeYear
    provider_id: int
    person_id: int
    claim_pk: int
    claim_id: str


def riel_world(session: Session, *, claim_id: str = "KH-1", locations: bool = True) -> RielWorld:
    if locations:
        make.locations(session)
    # The scheme states its digits: the riel's ISO exponent (2) is not what the programme counts.
    scheme = make.scheme(session, code=SCHEME_CODE, name="Health Equity Fund", currency="KHR", minor_digits=0)
    period = make.period(session, scheme_id=scheme.id, starts=STARTS, ends=ENDS)
    version = make.policy_version(session, scheme_code=SCHEME_CODE, policy=POLICY)
    year = SchemeYear(scheme.id, SCHEME_CODE, period.id, STARTS, ENDS, version.id)
    hospital = make.provider(session, code="RH", level="referral_hospital", location_code="D1")
    make.contract(session, provider_code="RH", scheme_code=SCHEME_CODE, starts=STARTS, ends=ENDS)
    member = make.enrolled_person(
        session,
        scheme=year,
        categories=["registered_poor"],
        categories_from=LONG_BEFORE,
        registered_on=LONG_BEFORE,
    )
    claim = make.claim(
        session,
        claim_id=claim_id,
        person_id=member.id,
        provider_code="RH",
        service_date=SERVED,
        care_type="inpatient",
        diagnosis="K35.8",
        days=6,
        total=BILL,
    )
    return RielWorld(year, hospital.id, member.id, int(claim.id), claim_id)


MAKER, CHECKER = "maker", "checker"


def seed_database(url: str) -> None:
    """Migrate the database at ``url`` and commit the riel world and two fund managers into it,
    for the commands (which open their own sessions)."""
    from equicover.admin.service import create_user
    from equicover.db.engine import make_engine
    from equicover.db.migrate import upgrade
    from equicover.db.session import make_session_factory, session_scope
    from tests.api_helpers import TEST_PASSWORD

    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            riel_world(session)
            for username in (MAKER, CHECKER):
                create_user(
                    session=session,
                    username=username,
                    password=TEST_PASSWORD,
                    role="fund_manager",
                    area_code=None,
                    provider_code=None,
                    language="en",
                    actor="test",
                )
    finally:
        engine.dispose()
