"""The HTTP API end to end on both databases: register, enrol, eligibility, claim, reverse;
idempotency; role and area scoping; audit rows; bad input."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from equicover.audit.models import ChangeLog
from tests import factories as make
from tests.api_helpers import login_as
from tests.factories import POLICIES, vn_world

CLAIM = {
    "claim_id": "PA-2024-0001",
    "provider_code": "PA",
    "service_date": "2024-09-02",
    "care_type": "inpatient",
    "diagnosis": "J18.9",
    "days": 3,
    "total": 2_000_000,
}


def test_whole_flow_register_enrol_eligibility_claim_reverse(client, session) -> None:
    admin = login_as(client, "admin")
    # Set up a scheme, its period, a provider with a contract and the policy, over HTTP.
    make.locations(
        session,
        tree=[("VN", "country", None), ("LC", "province", "VN"), ("D1", "district", "LC"), ("C11", "commune", "D1")],
    )
    session.commit()
    assert (
        client.post(
            "/api/v1/schemes", json={"code": "VN-SHI", "name": "SHI", "currency": "VND"}, headers=admin
        ).status_code
        == 201
    )
    period = client.post(
        "/api/v1/schemes/VN-SHI/periods", json={"starts": "2024-07-01", "ends": "2025-06-30"}, headers=admin
    )
    assert period.status_code == 201, period.text
    provider = client.post(
        "/api/v1/providers",
        json={
            "code": "PA",
            "name": "District hospital",
            "level": "district",
            "location_code": "D1",
            "designated": True,
        },
        headers=admin,
    )
    assert provider.status_code == 201, provider.text
    contract = client.post(
        "/api/v1/contracts",
        json={
            "scheme_code": "VN-SHI",
            "provider_code": "PA",
            "starts": "2024-07-01",
            "ends": "2025-06-30",
            "payment_method": "fee_for_service",
        },
        headers=admin,
    )
    assert contract.status_code == 201, contract.text
    policy = client.post(
        "/api/v1/policies",
        json={"scheme_code": "VN-SHI", "source_text": (POLICIES / "vn-shi-2024.toml").read_text(encoding="utf-8")},
        headers=admin,
    )
    assert policy.status_code == 201, policy.text
    listed = client.get("/api/v1/policies", headers=admin).json()
    assert listed["total"] == 1 and listed["items"][0]["effective_from"] == "2024-07-01"

    registrar = login_as(client, "registrar", area="D1")
    household = client.post(
        "/api/v1/households",
        json={
            "code": "H-100",
            "location_code": "C11",
            "registered_on": "2024-01-10",
            "members": [
                {
                    "full_name": "Test Person",
                    "sex": "female",
                    "birth_date": "1985-03-04",
                    "categories": [{"category": "registered_poor", "valid_from": "2024-01-01"}],
                }
            ],
        },
        headers=registrar,
    )
    assert household.status_code == 201, household.text
    person_id = household.json()["members"][0]["id"]
    enrolment = client.post(
        "/api/v1/enrolments",
        json={
            "person_id": person_id,
            "scheme_code": "VN-SHI",
            "period_id": period.json()["id"],
            "starts": "2024-07-01",
            "ends": "2025-06-30",
        },
        headers=registrar,
    )
    assert enrolment.status_code == 201, enrolment.text

    clerk = login_as(client, "clerk", provider="PA")
    eligibility = client.get(f"/api/v1/eligibility/{person_id}?on=2024-09-02", headers=clerk).json()
    assert eligibility["covered"] is True and eligibility["categories"] == ["registered_poor"]
    assert eligibility["schemes"][0]["policy_id"] == "vn-shi-2024"

    submitted = client.post("/api/v1/claims", json={**CLAIM, "person_id": person_id}, headers=clerk)
    assert submitted.status_code == 201, submitted.text
    body = submitted.json()
    assert body["created"] is True and body["zero_reason"] is None
    assert sum(p["amount"] for p in body["payments"] if p["kind"] == "layer") + body["member_oop"] == body["allowed"]
    again = client.post("/api/v1/claims", json={**CLAIM, "person_id": person_id, "total": 5}, headers=clerk)
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["id"] == body["id"]
    assert client.get("/api/v1/claims", headers=clerk).json()["total"] == 1

    verifier = login_as(client, "verifier", area="D1")
    reversed_claim = client.post(
        f"/api/v1/claims/{CLAIM['claim_id']}/reversal", json={"reason": "billed twice"}, headers=verifier
    )
    assert reversed_claim.status_code == 200, reversed_claim.text
    assert reversed_claim.json()["status"] == "reversed"
    assert (
        client.post(
            f"/api/v1/claims/{CLAIM['claim_id']}/reversal", json={"reason": "again"}, headers=verifier
        ).status_code
        == 409
    )
    report = client.get("/api/v1/reports/settlement", headers=verifier).json()
    assert report["claims"] == 0 and report["reversed_claims"] == 1

    # Every write left an audit row under the acting username; only admins read them.
    audit = client.get("/api/v1/audit?limit=200", headers=admin)
    assert audit.status_code == 200
    seen = {(row["entity"], row["action"]) for row in audit.json()["items"]}
    assert {
        ("schemes", "create"),
        ("providers", "create"),
        ("policy_versions", "create"),
        ("households", "create"),
        ("enrolments", "create"),
        ("claims", "submit"),
        ("claims", "reverse"),
    } <= seen
    actors = {row.actor for row in session.scalars(select(ChangeLog).where(ChangeLog.entity == "claims"))}
    assert len(actors) == 2 and all(name.startswith(("clerk-", "verifier-")) for name in actors)
    assert client.get("/api/v1/audit", headers=clerk).status_code == 403
    assert client.delete("/api/v1/audit", headers=admin).status_code == 405


def test_clerk_sees_only_own_facility_and_out_of_area_is_403(client, session) -> None:
    world = vn_world(session)
    session.commit()
    clerk_a = login_as(client, "clerk", provider="PA")
    clerk_b = login_as(client, "clerk", provider="PB")
    member = world.person_ids[0]
    assert client.post("/api/v1/claims", json={**CLAIM, "person_id": member}, headers=clerk_a).status_code == 201
    # B cannot read, list or reverse A's claim, nor submit in A's name.
    assert client.get(f"/api/v1/claims/{CLAIM['claim_id']}", headers=clerk_b).status_code == 403
    assert client.get("/api/v1/claims/NO-SUCH-CLAIM", headers=clerk_b).status_code == 404
    assert client.get("/api/v1/claims", headers=clerk_b).json()["total"] == 0
    assert (
        client.post(f"/api/v1/claims/{CLAIM['claim_id']}/reversal", json={"reason": "x"}, headers=clerk_b).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/claims", json={**CLAIM, "claim_id": "OTHER", "person_id": member}, headers=clerk_b
        ).status_code
        == 403
    )
    # A bill number is the facility's own: B's bill with A's number is B's claim, not A's answered back.
    own = client.post("/api/v1/claims", json={**CLAIM, "person_id": member, "provider_code": "PB"}, headers=clerk_b)
    assert own.status_code == 201 and own.json()["provider_id"] == world.provider_b
    a_claim = client.get(f"/api/v1/claims/{CLAIM['claim_id']}", headers=clerk_a)
    assert a_claim.status_code == 200 and a_claim.json()["id"] != own.json()["id"]
    # Verifiers see the claims of providers in their districts only.
    assert client.get("/api/v1/claims", headers=login_as(client, "verifier", area="D1")).json()["total"] == 1
    verifier_d2 = login_as(client, "verifier", area="D2")
    assert [c["provider_id"] for c in client.get("/api/v1/claims", headers=verifier_d2).json()["items"]] == [
        world.provider_b
    ]
    assert (
        client.get(f"/api/v1/claims/{CLAIM['claim_id']}", params={"provider": "PA"}, headers=verifier_d2).status_code
        == 403
    )
    # Registrars: persons of their area only; out of area is 403 (not 404), writes refused.
    registrar_d2 = login_as(client, "registrar", area="D2")
    assert client.get(f"/api/v1/persons/{member}", headers=registrar_d2).status_code == 403
    assert client.get(f"/api/v1/persons/{world.other_person_id}", headers=registrar_d2).status_code == 200
    assert client.get("/api/v1/persons/999999", headers=registrar_d2).status_code == 404
    persons = client.get("/api/v1/persons", headers=registrar_d2).json()
    assert [p["id"] for p in persons["items"]] == [world.other_person_id]
    assert client.get(f"/api/v1/households/{world.household_id}", headers=registrar_d2).status_code == 403
    moved = client.patch(
        f"/api/v1/persons/{world.other_person_id}", json={"location_code": "C11"}, headers=registrar_d2
    )
    assert moved.status_code == 403
    outside = client.post(
        "/api/v1/households",
        json={
            "code": "H-X",
            "location_code": "C11",
            "members": [{"full_name": "X", "sex": "male", "birth_date": "1990-01-01"}],
        },
        headers=registrar_d2,
    )
    assert outside.status_code == 403
    assert client.get(f"/api/v1/eligibility/{member}?on=2024-09-02", headers=registrar_d2).status_code == 403
    # Roles: a clerk does not register households, a registrar does not submit claims.
    assert (
        client.post(
            "/api/v1/claims", json={**CLAIM, "claim_id": "R-1", "person_id": member}, headers=registrar_d2
        ).status_code
        == 403
    )
    assert client.get("/api/v1/providers", headers=clerk_a).json()["total"] == 1
    fund_manager = login_as(client, "fund_manager")
    assert client.get("/api/v1/claims", headers=fund_manager).json()["total"] == 2  # A's bill and B's
    assert (
        client.post(
            "/api/v1/claims", json={**CLAIM, "claim_id": "FM-1", "person_id": member}, headers=fund_manager
        ).status_code
        == 403
    )


def test_bad_input_is_refused_with_the_right_status(client, session) -> None:
    world = vn_world(session)
    session.commit()
    clerk = login_as(client, "clerk", provider="PA")
    member = world.person_ids[0]
    assert client.get("/api/v1/claims").status_code == 401
    assert client.get("/api/v1/claims", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    wrong_type = client.post("/api/v1/claims", json={**CLAIM, "person_id": "abc"}, headers=clerk)
    assert wrong_type.status_code == 422
    error = wrong_type.json()
    assert error["code"] == "validation_failed" and error["field"] == "body.person_id" and "abc" not in wrong_type.text
    assert (
        client.post("/api/v1/claims", json={**CLAIM, "person_id": member, "total": -1}, headers=clerk).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/claims", json={**CLAIM, "person_id": member, "eligible": 3_000_000}, headers=clerk
        ).status_code
        == 422
    )
    assert (
        client.post("/api/v1/claims", json={**CLAIM, "person_id": member, "extra": 1}, headers=clerk).status_code == 422
    )
    unknown = client.post("/api/v1/claims", json={**CLAIM, "person_id": 999_999}, headers=clerk)
    assert unknown.status_code == 422 and unknown.json()["field"] == "person_id"
    assert (
        client.post(
            "/api/v1/claims", content=b"{not json", headers={**clerk, "content-type": "application/json"}
        ).status_code
        == 422
    )
    huge = client.post(
        "/api/v1/claims", content=b"x" * (3 * 1024 * 1024), headers={**clerk, "content-type": "application/json"}
    )
    assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"
    # Not covered on the date: settled with zero payments and a reason, not an error.
    not_enrolled = client.post(
        "/api/v1/claims", json={**CLAIM, "claim_id": "NC-1", "person_id": world.person_ids[2]}, headers=clerk
    )
    assert not_enrolled.status_code == 201
    assert not_enrolled.json()["zero_reason"] == "not_covered" and not_enrolled.json()["payments"] == []
    assert client.get("/api/v1/persons/abc", headers=clerk).status_code == 422
    assert client.get("/api/v1/claims?limit=100000", headers=clerk).status_code == 422
    assert client.get("/api/v1/claims?date_from=yesterday", headers=clerk).status_code == 422


def test_pagination_and_filters(client, session) -> None:
    world = vn_world(session)
    session.commit()
    clerk = login_as(client, "clerk", provider="PA")
    for index in range(5):
        day = dt.date(2024, 9, 1) + dt.timedelta(days=index)
        response = client.post(
            "/api/v1/claims",
            json={
                **CLAIM,
                "claim_id": f"P-{index}",
                "person_id": world.person_ids[index % 2],
                "service_date": day.isoformat(),
            },
            headers=clerk,
        )
        assert response.status_code == 201
    page = client.get("/api/v1/claims?limit=2&offset=1", headers=clerk).json()
    assert page["total"] == 5 and [c["claim_id"] for c in page["items"]] == ["P-3", "P-2"]
    assert client.get("/api/v1/claims?date_from=2024-09-04", headers=clerk).json()["total"] == 2
    assert client.get(f"/api/v1/claims?person_id={world.person_ids[0]}", headers=clerk).json()["total"] == 3
    assert client.get("/api/v1/claims?category=registered_poor", headers=clerk).json()["total"] == 3
    assert client.get("/api/v1/claims?location=D1", headers=clerk).json()["total"] == 5
    assert client.get("/api/v1/claims?location=D2", headers=clerk).json()["total"] == 0
    admin = login_as(client, "admin")
    persons = client.get("/api/v1/persons?location=D1&limit=2", headers=admin).json()
    assert persons["total"] == 3 and len(persons["items"]) == 2
    assert client.get("/api/v1/persons?category=registered_poor&on=2024-09-01", headers=admin).json()["total"] == 1
    report = client.get("/api/v1/reports/settlement?date_to=2024-09-02", headers=admin).json()
    assert report["claims"] == 2


def test_sign_in_with_password_and_cookie(client, session) -> None:
    vn_world(session)
    session.commit()
    login_as(client, "admin", username="boss")
    bad = client.post("/api/v1/auth/token", json={"username": "boss", "password": "wrong password"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"}).status_code == 401
    good = client.post("/api/v1/auth/token", json={"username": "boss", "password": "correct horse battery"})
    assert good.status_code == 200
    token = good.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "boss" and me.json()["role"] == "admin"
    login_as(client, "clerk", provider="PA", cookie=True)
    assert client.get("/api/v1/auth/me").json()["role"] == "clerk"
    client.cookies.clear()
    assert client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_failed_commit_is_an_error_not_a_success(client, session, monkeypatch) -> None:
    world = vn_world(session)
    session.commit()
    clerk = login_as(client, "clerk", provider="PA")
    from sqlalchemy.orm import Session as OrmSession

    def failing_commit(self) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(OrmSession, "commit", failing_commit)
    response = client.post("/api/v1/claims", json={**CLAIM, "person_id": world.person_ids[0]}, headers=clerk)
    assert response.status_code == 500 and response.json() == {
        "status": 500,
        "code": "internal_error",
        "message": "internal error",
        "record": None,
        "field": None,
        "reason": None,
    }
    assert "disk full" not in response.text


def test_claim_submission_trusts_a_resolved_token_for_ten_seconds_at_most(client, session) -> None:
    """The submission endpoint resolves tokens through the process's cache (docs/service.md):
    logging out through this process ends the token at once; an account disabled behind the
    service's back is refused by every other endpoint at once and by submission once the
    cache entry expires."""
    from equicover.auth.models import User

    world = vn_world(session)
    session.commit()
    clerk = login_as(client, "clerk", provider="PA", username="window-1")
    first = client.post(
        "/api/v1/claims", json={**CLAIM, "claim_id": "TC-1", "person_id": world.person_ids[0]}, headers=clerk
    )
    assert first.status_code == 201
    cache = client.app.state.token_cache
    token = clerk["Authorization"].removeprefix("Bearer ")
    assert cache.get(token) is not None

    session.execute(update(User).where(User.username == "window-1").values(active=False))
    session.commit()
    assert client.get("/api/v1/claims", headers=clerk).status_code == 401
    cached = client.post(
        "/api/v1/claims", json={**CLAIM, "claim_id": "TC-2", "person_id": world.person_ids[0]}, headers=clerk
    )
    assert cached.status_code == 201  # within the cache's lifetime
    cache.ttl = 0.0
    cache.forget(token)
    late = client.post(
        "/api/v1/claims", json={**CLAIM, "claim_id": "TC-3", "person_id": world.person_ids[0]}, headers=clerk
    )
    assert late.status_code == 401

    session.execute(update(User).where(User.username == "window-1").values(active=True))
    session.commit()
    cache.ttl = 10.0
    assert (
        client.post(
            "/api/v1/claims", json={**CLAIM, "claim_id": "TC-4", "person_id": world.person_ids[0]}, headers=clerk
        ).status_code
        == 201
    )
    assert client.post("/api/v1/auth/logout", headers=clerk).status_code == 204
    assert cache.get(token) is None
    after = client.post(
        "/api/v1/claims", json={**CLAIM, "claim_id": "TC-5", "person_id": world.person_ids[0]}, headers=clerk
    )
    assert after.status_code == 401
