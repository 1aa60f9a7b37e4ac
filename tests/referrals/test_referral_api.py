"""Referral letters over HTTP: a clerk issues for its own facility; the receiving one counter-refers."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from tests import factories as make
from tests.api_helpers import login_as, make_client


def _world(session_factory: sessionmaker[Session]) -> make.World:
    with session_factory() as session:
        world = make.vn_world(session)
        session.commit()
    return world


def test_issue_look_up_and_counter_refer(session_factory: sessionmaker[Session]) -> None:
    world = _world(session_factory)
    client = make_client(session_factory=session_factory)
    station = login_as(client, "clerk", provider="PC")
    issued = client.post(
        "/api/v1/referrals",
        json={
            "person_id": world.person_ids[0],
            "to_provider_code": "PA",
            "diagnosis": "K35.8",
            "reason": "suspected appendicitis",
            "issued_on": "2024-09-01",
        },
        headers=station,
    )
    assert issued.status_code == 201, issued.text
    letter = issued.json()
    assert (letter["from_provider_code"], letter["to_provider_code"], letter["status"]) == ("PC", "PA", "issued")

    hospital = login_as(client, "clerk", provider="PA")
    assert client.get(f"/api/v1/referrals/{letter['number']}", headers=hospital).status_code == 200
    wrong = client.post(
        f"/api/v1/referrals/{letter['number']}/counter-referral",
        json={"on": "2024-09-05", "note": "done", "by_provider_code": "PB"},
        headers=hospital,
    )
    assert wrong.status_code == 403
    back = client.post(
        f"/api/v1/referrals/{letter['number']}/counter-referral",
        json={"on": "2024-09-05", "note": "operated, follow-up at the station"},
        headers=hospital,
    )
    assert back.status_code == 200, back.text
    assert (back.json()["status"], back.json()["counter_by_provider_code"]) == ("counter_referred", "PA")
    listed = client.get(f"/api/v1/persons/{world.person_ids[0]}/referrals", headers=hospital)
    assert [item["number"] for item in listed.json()] == [letter["number"]]
    # Only the issuing facility withdraws a letter, and a counter-referred one is closed.
    assert client.post(f"/api/v1/referrals/{letter['number']}/cancellation", headers=hospital).status_code == 403
    assert client.post(f"/api/v1/referrals/{letter['number']}/cancellation", headers=station).status_code == 409


def test_bad_letters_and_other_areas_are_refused(session_factory: sessionmaker[Session]) -> None:
    world = _world(session_factory)
    client = make_client(session_factory=session_factory)
    station = login_as(client, "clerk", provider="PC")
    body = {"person_id": world.person_ids[0], "to_level": "district", "diagnosis": "K35.8", "reason": "r"}
    other_facility = client.post("/api/v1/referrals", json={**body, "from_provider_code": "PA"}, headers=station)
    assert other_facility.status_code == 403
    both = client.post("/api/v1/referrals", json={**body, "to_provider_code": "PA"}, headers=station)
    assert (both.status_code, both.json()["field"]) == (422, "to")
    admin = login_as(client, "admin")
    unnamed = client.post("/api/v1/referrals", json=body, headers=admin)
    assert (unnamed.status_code, unnamed.json()["field"]) == (422, "from_provider_code")
    letter = client.post("/api/v1/referrals", json=body, headers=station).json()
    registrar = login_as(client, "registrar", area="D2")
    assert client.get(f"/api/v1/referrals/{letter['number']}", headers=registrar).status_code == 403
    assert client.get("/api/v1/referrals/R0000000000", headers=admin).status_code == 404
    assert client.post(f"/api/v1/referrals/{letter['number']}/cancellation", headers=station).json()["status"] == (
        "cancelled"
    )
