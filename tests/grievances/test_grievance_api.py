"""Grievances over HTTP: taken at the window, decided in the area, the complainant shown to handlers only."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims.models import ClaimAdjustment
from tests import factories as make
from tests.api_helpers import login_as, make_client


def _world(session_factory: sessionmaker[Session]) -> make.ClaimsWorld:
    with session_factory() as session:
        world = make.vn_claims_world(session)
        session.commit()
    return world


def test_the_grievance_flow_over_http(session_factory: sessionmaker[Session]) -> None:
    world = _world(session_factory)
    client = make_client(session_factory=session_factory)
    window = login_as(client, "clerk", provider="PA")
    opened = client.post(
        "/api/v1/grievances",
        json={
            "category": "overcharged",
            "subject_id": world.claim_pks["A-OP0"],
            "description": "asked to pay at the counter",
            "complainant_person_id": world.person_ids[1],
            "complainant_contact": "+84 20 0000 0000",
            "opened_on": "2024-10-01",
        },
        headers=window,
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    # The clerk took the case but does not handle it: no identity, no description.
    assert (case["complainant_person_id"], case["complainant_contact"], case["description"]) == (None, None, None)
    assert case["deadline"] == "2024-10-16"

    handler = login_as(client, "verifier", area="D1")
    seen = client.get(f"/api/v1/grievances/{case['id']}", headers=handler).json()
    assert (seen["complainant_person_id"], seen["complainant_contact"]) == (world.person_ids[1], "+84 20 0000 0000")
    assert [step["kind"] for step in seen["steps"]] == ["opened"]

    outsider = login_as(client, "verifier", area="D2")
    assert client.get(f"/api/v1/grievances/{case['id']}", headers=outsider).status_code == 403
    refused = client.post(
        f"/api/v1/grievances/{case['id']}/decision",
        json={"outcome": "upheld", "reasons": "r", "refund_amount": 80_000, "refund_layer": "shi", "on": "2024-10-02"},
        headers=outsider,
    )
    assert refused.status_code == 403

    overdue = client.get("/api/v1/grievances?overdue=true&area=D1", headers=handler).json()
    assert [item["id"] for item in overdue["items"]] == [case["id"]]  # its deadline has long passed
    assert client.get("/api/v1/grievances?facility=PB", headers=handler).json()["total"] == 0

    called = client.post(
        f"/api/v1/grievances/{case['id']}/steps", json={"kind": "call", "note": "called the member"}, headers=handler
    )
    assert called.status_code == 200
    decided = client.post(
        f"/api/v1/grievances/{case['id']}/decision",
        json={
            "outcome": "upheld",
            "reasons": "on route: the fund pays it all",
            "refund_amount": 80_000,
            "refund_layer": "shi",
            "on": "2024-10-05",
        },
        headers=handler,
    )
    assert decided.status_code == 200, decided.text
    assert [step["kind"] for step in decided.json()["steps"]] == ["opened", "call", "decided", "action", "action"]
    appealed = client.post(
        f"/api/v1/grievances/{case['id']}/appeal", json={"description": "the provider disagrees"}, headers=window
    )
    assert appealed.status_code == 201
    assert appealed.json()["level"] == 2
    again = client.post(f"/api/v1/grievances/{case['id']}/appeal", json={"description": "again"}, headers=window)
    assert again.status_code == 409


def test_a_refused_decision_writes_nothing(session_factory: sessionmaker[Session]) -> None:
    world = _world(session_factory)
    client = make_client(session_factory=session_factory)
    handler = login_as(client, "verifier", area="D1")
    case = client.post(
        "/api/v1/grievances",
        json={
            "category": "overcharged",
            "subject_id": world.claim_pks["A-OP0"],
            "description": "asked to pay",
            "complainant_person_id": world.person_ids[1],
            "opened_on": "2024-10-01",
        },
        headers=handler,
    ).json()
    too_much = client.post(
        f"/api/v1/grievances/{case['id']}/decision",
        json={"outcome": "upheld", "reasons": "r", "refund_amount": 90_000, "refund_layer": "shi", "on": "2024-10-05"},
        headers=handler,
    )
    assert (too_much.status_code, too_much.json()["field"]) == (422, "amount")
    half = client.post(
        f"/api/v1/grievances/{case['id']}/decision",
        json={"outcome": "upheld", "reasons": "r", "refund_amount": 10_000},
        headers=handler,
    )
    assert (half.status_code, half.json()["field"]) == (422, "refund_layer")
    assert client.get(f"/api/v1/grievances/{case['id']}", headers=handler).json()["status"] == "open"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ClaimAdjustment)) == 0
