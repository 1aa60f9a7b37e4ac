"""Bills that are not bills are refused with the field and the reason, and nothing is stored.

Through the REST service (``POST /api/v1/claims``) on SQLite and PostgreSQL: a date after today, a
date no policy of the scheme covers, a total of zero or less, days of stay the policy's
``stay_days`` refuses for the care type, a diagnosis that is not an ICD-10 code, and money that
is not a JSON integer of minor units.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims import service
from equicover.claims.models import Claim, ClaimPayment, StoredAccumulator
from equicover.claims.schemas import MAX_AMOUNT, ClaimIn
from equicover.errors import ValidationFailed
from tests.api_helpers import login_as, make_client
from tests.factories import vn_world

DAY = "2024-09-02"


@pytest.fixture
def world_client(session_factory: sessionmaker[Session], session: Session):
    world = vn_world(session)
    session.commit()
    client = make_client(session_factory=session_factory)
    return world, client, login_as(client, "clerk", provider="PA")


def _bill(person_id: int, claim_id: str, **changes: object) -> dict[str, object]:
    bill: dict[str, object] = {
        "claim_id": claim_id,
        "person_id": person_id,
        "provider_code": "PA",
        "service_date": DAY,
        "care_type": "inpatient",
        "diagnosis": "J18.9",
        "days": 3,
        "total": 2_000_000,
    }
    bill.update(changes)
    return bill


def _nothing_stored(session: Session) -> None:
    session.expire_all()
    for table in (Claim, ClaimPayment, StoredAccumulator):
        assert session.scalar(select(func.count()).select_from(table)) == 0, table.__tablename__


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"service_date": "2030-01-01"}, "service_date", service.SERVICE_DATE_AFTER_TODAY),
        ({"service_date": "2025-08-01"}, "service_date", service.NO_POLICY_ON_DATE),  # the policy ended 2025-06-30
        ({"days": 0}, "days", "a inpatient bill needs at least 1 day(s)"),
        ({"care_type": "outpatient", "days": 2}, "days", "a outpatient bill has at most 0 day(s)"),
    ],
    ids=["after-today", "no-policy", "inpatient-no-day", "outpatient-days"],
)
def test_the_service_refuses_a_bill_that_is_not_one(world_client, session, changes, field, reason) -> None:
    world, client, clerk = world_client
    response = client.post("/api/v1/claims", json=_bill(world.person_ids[0], "NB-1", **changes), headers=clerk)
    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["field"], body["reason"]) == (field, reason)
    _nothing_stored(session)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total": 0}, "total"),
        ({"total": -100}, "total"),
        ({"total": True}, "total"),
        ({"total": "1000"}, "total"),
        ({"total": 1000.5}, "total"),
        ({"total": 1000.0}, "total"),
        ({"eligible": "10"}, "eligible"),
        ({"eligible": False}, "eligible"),
        ({"days": "3"}, "days"),
        ({"diagnosis": "XYZ"}, "diagnosis"),
        ({"diagnosis": "J1"}, "diagnosis"),
        ({"diagnosis": "J18.12345"}, "diagnosis"),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else str(value),
)
def test_rest_refuses_malformed_bills_with_the_field(world_client, session, changes, field) -> None:
    world, client, clerk = world_client
    response = client.post("/api/v1/claims", json=_bill(world.person_ids[0], "NB-2", **changes), headers=clerk)
    assert response.status_code == 422, response.text
    assert field in response.text
    _nothing_stored(session)


def test_an_unenrolled_person_on_a_covered_day_is_still_stored_as_not_covered(world_client, session) -> None:
    """Refusing non-bills does not refuse real bills the scheme does not pay."""
    world, client, clerk = world_client
    response = client.post("/api/v1/claims", json=_bill(world.person_ids[2], "NB-3"), headers=clerk)
    assert response.status_code == 201, response.text
    assert response.json()["zero_reason"] == "not_covered"


def test_a_lower_case_diagnosis_is_stored_upper_cased(world_client, session) -> None:
    world, client, clerk = world_client
    response = client.post(
        "/api/v1/claims", json=_bill(world.person_ids[0], "NB-4", diagnosis=" j18.9 "), headers=clerk
    )
    assert response.status_code == 201, response.text
    assert session.scalars(select(Claim.diagnosis).where(Claim.claim_id == "NB-4")).one() == "J18.9"


def test_the_service_refuses_in_a_batch_without_stopping_the_others(session) -> None:
    world = vn_world(session)
    good = ClaimIn(**_bill(world.person_ids[0], "NB-OK"))
    future = ClaimIn(**_bill(world.person_ids[0], "NB-LATER", service_date="2030-01-01"))
    results = service.submit_claims(
        session=session,
        submissions=[service.ClaimSubmission(good, "clerk"), service.ClaimSubmission(future, "clerk")],
    )
    assert not isinstance(results[0], Exception) and results[0][1] is True
    assert isinstance(results[1], ValidationFailed) and results[1].field == "service_date"
    assert session.scalars(select(Claim.claim_id)).all() == ["NB-OK"]


# -- money and codes, whatever the value ---------------------------------------------------------

_BILL = {
    "claim_id": "P-1",
    "person_id": 1,
    "provider_code": "PA",
    "service_date": DAY,
    "care_type": "inpatient",
    "diagnosis": "J18.9",
    "days": 3,
}


@given(total=st.integers(1, MAX_AMOUNT))
def test_any_whole_positive_number_of_minor_units_is_a_total(total: int) -> None:
    assert ClaimIn.model_validate_json(json.dumps({**_BILL, "total": total})).total == total


@given(
    total=st.one_of(
        st.booleans(),
        st.integers(1, MAX_AMOUNT).map(str),
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(10**18), 0),
        st.integers(MAX_AMOUNT + 1, 10**18),
        st.none(),
    )
)
def test_anything_else_is_refused_as_a_total(total: object) -> None:
    with pytest.raises(ValidationError) as refused:
        ClaimIn.model_validate_json(json.dumps({**_BILL, "total": total}))
    assert {error["loc"][0] for error in refused.value.errors()} == {"total"}


ICD10 = st.builds(
    lambda letter, digits, tail: letter + digits + tail,
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
    st.text("0123456789", min_size=2, max_size=2),
    st.one_of(
        st.just(""), st.text("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=1, max_size=4).map(lambda t: "." + t)
    ),
)


@given(code=ICD10)
def test_every_icd10_shaped_code_is_a_diagnosis_upper_cased(code: str) -> None:
    assert ClaimIn.model_validate({**_BILL, "total": 1, "diagnosis": code}).diagnosis == code.upper()


@given(code=st.text(min_size=1, max_size=16).filter(lambda text: not text.strip()[:1].isalpha() or len(text) < 3))
def test_a_code_without_the_letter_and_two_characters_is_refused(code: str) -> None:
    with pytest.raises(ValidationError):
        ClaimIn.model_validate({**_BILL, "total": 1, "diagnosis": code})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days_after=st.integers(1, 3650))
def test_any_day_after_the_schemes_today_is_refused_and_nothing_stored(session, days_after: int) -> None:
    example = session.begin_nested()  # each example starts from an empty world
    try:
        world = vn_world(session)
        # Any zone's today is at most one day after UTC's: two days on is after today everywhere.
        day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days_after + 1)
        bill = ClaimIn(**_bill(world.person_ids[0], "NB-F", service_date=day.isoformat()))
        with pytest.raises(ValidationFailed) as refused:
            service.submit_claim(session=session, claim=bill, actor="clerk")
        assert (refused.value.field, refused.value.reason) == ("service_date", service.SERVICE_DATE_AFTER_TODAY)
        assert session.scalar(select(func.count()).select_from(Claim)) == 0
    finally:
        example.rollback()
