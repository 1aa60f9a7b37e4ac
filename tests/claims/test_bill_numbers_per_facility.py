"""A bill number is the facility's own: unique per (provider, claim_id), on SQLite and PostgreSQL.

Facility B storing a number facility A also uses is another claim and never blocks A's bill; the
same bill from one facility twice is one claim. Claims are read by facility and bill number, or by
their stored id; a number two facilities use, asked for without the facility, is refused (409)
rather than answered with either.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims import service
from equicover.claims.models import Claim
from equicover.claims.settle_and_store import ClaimSubmission
from equicover.errors import Conflict
from tests import factories as make
from tests.api_helpers import login_as, make_client
from tests.factories import vn_world

NUMBER = "S1-D01-CH-INV-000777"


@pytest.fixture
def world_client(session_factory: sessionmaker[Session], session: Session):
    world = vn_world(session)
    session.commit()
    client = make_client(session_factory=session_factory)
    return world, client


def _bill(person_id: int, provider: str, claim_id: str = NUMBER, total: int = 2_000_000) -> dict[str, object]:
    return {
        "claim_id": claim_id,
        "person_id": person_id,
        "provider_code": provider,
        "service_date": "2024-09-02",
        "care_type": "inpatient",
        "diagnosis": "J18.9",
        "days": 3,
        "total": total,
    }


def test_another_facility_storing_the_number_does_not_block_the_real_bill(world_client, session) -> None:
    world, client = world_client
    clerk_a = login_as(client, "clerk", provider="PA")
    clerk_b = login_as(client, "clerk", provider="PB")
    taken = client.post("/api/v1/claims", json=_bill(world.other_person_id, "PB", total=1_000), headers=clerk_b)
    assert taken.status_code == 201, taken.text
    real = client.post("/api/v1/claims", json=_bill(world.person_ids[0], "PA"), headers=clerk_a)
    assert real.status_code == 201, real.text
    assert real.json()["id"] != taken.json()["id"]
    assert (real.json()["provider_id"], real.json()["total"]) == (world.provider_a, 2_000_000)
    again = client.post("/api/v1/claims", json=_bill(world.person_ids[0], "PA", total=9_999), headers=clerk_a)
    assert again.status_code == 200 and again.json()["id"] == real.json()["id"] and again.json()["total"] == 2_000_000
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Claim).where(Claim.claim_id == NUMBER)) == 2

    # Read by facility and number: a clerk reads its own facility's bill without naming it.
    assert client.get(f"/api/v1/claims/{NUMBER}", headers=clerk_a).json()["id"] == real.json()["id"]
    assert client.get(f"/api/v1/claims/{NUMBER}", headers=clerk_b).json()["id"] == taken.json()["id"]
    admin = login_as(client, "admin")
    ambiguous = client.get(f"/api/v1/claims/{NUMBER}", headers=admin)
    assert ambiguous.status_code == 409 and ambiguous.json()["field"] == "provider"
    named = client.get(f"/api/v1/claims/{NUMBER}", params={"provider": "PB"}, headers=admin)
    assert named.status_code == 200 and named.json()["id"] == taken.json()["id"]
    assert client.get(f"/api/v1/claims/{NUMBER}", params={"provider": "NOPE"}, headers=admin).status_code == 404
    # By the stored id; another facility's claim stays out of a clerk's reach.
    assert client.get(f"/api/v1/claim-records/{real.json()['id']}", headers=admin).json()["provider_id"] == (
        world.provider_a
    )
    assert client.get(f"/api/v1/claim-records/{taken.json()['id']}", headers=clerk_a).status_code == 403
    assert client.get(f"/api/v1/claims/{NUMBER}", params={"provider": "PB"}, headers=clerk_a).status_code == 403
    assert client.get("/api/v1/claim-records/999999", headers=admin).status_code == 404


def test_a_reversal_names_the_facility_and_reverses_only_its_bill(world_client, session) -> None:
    world, client = world_client
    clerk_a = login_as(client, "clerk", provider="PA")
    clerk_b = login_as(client, "clerk", provider="PB")
    first = client.post("/api/v1/claims", json=_bill(world.person_ids[0], "PA"), headers=clerk_a).json()
    second = client.post("/api/v1/claims", json=_bill(world.other_person_id, "PB"), headers=clerk_b).json()
    reversed_ = client.post(f"/api/v1/claims/{NUMBER}/reversal", json={"reason": "entered twice"}, headers=clerk_b)
    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json()["id"] == second["id"] and reversed_.json()["status"] == "reversed"
    session.expire_all()
    assert session.get(Claim, first["id"]).status == "settled"


def test_the_database_refuses_the_same_number_twice_at_one_facility_only(session) -> None:
    world = vn_world(session)
    make.claim(session, claim_id="DUP", person_id=world.person_ids[0], provider_code="PA")
    make.claim(session, claim_id="DUP", person_id=world.other_person_id, provider_code="PB")
    stored = session.scalars(select(Claim).where(Claim.claim_id == "DUP")).all()
    assert sorted(row.provider_id for row in stored) == sorted([world.provider_a, world.provider_b])
    copy = {column.name: getattr(stored[0], column.name) for column in Claim.__table__.columns if column.name != "id"}
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(Claim.__table__.insert().values(**copy))
    with pytest.raises(Conflict):
        service.get_claim(session=session, claim_id="DUP")
    assert service.get_claim(session=session, claim_id="DUP", provider_id=world.provider_b).provider_id == (
        world.provider_b
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bills=st.lists(
        st.tuples(st.sampled_from(["PA", "PB"]), st.sampled_from(["N-1", "N-2", "N-3"])), min_size=1, max_size=10
    ),
    together=st.booleans(),
)
def test_one_claim_per_facility_and_number_whatever_the_order(session, bills, together) -> None:
    """Submitted one by one or as one batch: as many claims as distinct (facility, number) pairs,
    and a repeated pair answers with the claim the first one stored."""
    example = session.begin_nested()
    try:
        world = vn_world(session)
        member = {"PA": world.person_ids[0], "PB": world.other_person_id}
        submissions = [
            ClaimSubmission(make.claim_in(claim_id=number, person_id=member[provider], provider_code=provider), "t")
            for provider, number in bills
        ]
        if together:
            results = service.submit_claims(session=session, submissions=submissions)
        else:
            results = [service.submit_claims(session=session, submissions=[one])[0] for one in submissions]
        first_of: dict[tuple[str, str], int] = {}
        for (provider, number), result in zip(bills, results, strict=True):
            assert not isinstance(result, Exception), result
            row, created = result
            assert created == ((provider, number) not in first_of)
            assert row.id == first_of.setdefault((provider, number), row.id)
        assert session.scalar(select(func.count()).select_from(Claim)) == len(set(bills))
    finally:
        example.rollback()
