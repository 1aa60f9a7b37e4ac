"""Cards over HTTP: issue, look up, change status, replace, verify; the published key."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from tests import factories as make
from tests.api_helpers import login_as, make_client
from tests.cards.world import ISSUED_ON


def _world(session_factory: sessionmaker[Session]) -> make.World:
    with session_factory() as session:
        world = make.vn_world(session)
        session.commit()
    return world


def test_a_registrar_issues_and_every_role_checks_a_card(session_factory: sessionmaker[Session]) -> None:
    world = _world(session_factory)
    client = make_client(session_factory=session_factory)
    registrar = login_as(client, "registrar", area="D1")
    issued = client.post(
        "/api/v1/cards",
        json={"scheme_code": "VN-SHI", "person_id": world.person_ids[0], "on": ISSUED_ON.isoformat()},
        headers=registrar,
    )
    assert issued.status_code == 201, issued.text
    card = issued.json()
    assert (card["status"], card["valid_to"], card["category"]) == ("issued", "2025-06-30", "registered_poor")

    clerk = login_as(client, "clerk", provider="PB")
    found = client.get(f"/api/v1/cards/{card['number'][:4]} {card['number'][4:]}", headers=clerk)
    assert found.status_code == 200
    assert found.json()["qr_payload"] == card["qr_payload"]

    checked = client.post(
        "/api/v1/cards/verify", json={"payload": card["qr_payload"], "on": "2024-09-01"}, headers=clerk
    )
    assert checked.json()["verdict"] == "valid"
    assert checked.json()["status"] == "issued"

    lost = client.post(f"/api/v1/cards/{card['number']}/status", json={"status": "lost"}, headers=registrar)
    assert lost.status_code == 200 and lost.json()["status"] == "lost"
    again = client.post("/api/v1/cards/verify", json={"payload": card["qr_payload"], "on": "2024-09-01"}, headers=clerk)
    assert (again.json()["verdict"], again.json()["reason"]) == ("invalid", "the card is lost")
    refused = client.post(f"/api/v1/cards/{card['number']}/status", json={"status": "active"}, headers=registrar)
    assert refused.status_code == 409
    assert refused.json()["field"] == "status"

    # Today the member's enrolment (2024-07-01..2025-06-30) is over: no replacement, and the lost
    # card is left as it was, not half replaced.
    replaced = client.post(f"/api/v1/cards/{card['number']}/replacement", headers=registrar)
    assert (replaced.status_code, replaced.json()["field"]) == (422, "enrolment")
    assert client.get(f"/api/v1/cards/{card['number']}", headers=registrar).json()["status"] == "lost"


def test_bad_input_is_refused_with_the_reason(session_factory: sessionmaker[Session]) -> None:
    world = _world(session_factory)
    client = make_client(session_factory=session_factory)
    admin = login_as(client, "admin")
    mistyped = client.get("/api/v1/cards/123456789093", headers=admin)
    assert mistyped.status_code == 422
    assert "check digits" in mistyped.json()["reason"]
    assert client.get("/api/v1/cards/123456789092", headers=admin).status_code == 404
    forged = client.post("/api/v1/cards/verify", json={"payload": "EQC1|nothing"}, headers=admin)
    assert forged.status_code == 200 and forged.json()["verdict"] == "invalid"
    not_enrolled = client.post(
        "/api/v1/cards", json={"scheme_code": "VN-SHI", "person_id": world.person_ids[2]}, headers=admin
    )
    assert not_enrolled.status_code == 422 and not_enrolled.json()["field"] == "enrolment"
    both = client.post(
        "/api/v1/cards",
        json={"scheme_code": "VN-SHI", "person_id": world.person_ids[0], "household_id": world.household_id},
        headers=admin,
    )
    assert both.status_code == 422


def test_cards_are_scoped_to_the_area_and_issued_by_registrars_only(session_factory: sessionmaker[Session]) -> None:
    world = _world(session_factory)
    client = make_client(session_factory=session_factory)
    outside = login_as(client, "registrar", area="D2")
    refused = client.post(
        "/api/v1/cards", json={"scheme_code": "VN-SHI", "person_id": world.person_ids[0]}, headers=outside
    )
    assert refused.status_code == 403
    clerk = login_as(client, "clerk", provider="PA")
    assert (
        client.post(
            "/api/v1/cards", json={"scheme_code": "VN-SHI", "person_id": world.person_ids[0]}, headers=clerk
        ).status_code
        == 403
    )
    admin = login_as(client, "admin")
    card = client.post(
        "/api/v1/cards",
        json={"scheme_code": "VN-SHI", "person_id": world.person_ids[0], "on": ISSUED_ON.isoformat()},
        headers=admin,
    ).json()
    assert client.get(f"/api/v1/cards/{card['number']}", headers=outside).status_code == 403
    assert (
        client.post(f"/api/v1/cards/{card['number']}/status", json={"status": "active"}, headers=outside).status_code
        == 403
    )


def test_the_public_key_is_published_without_sign_in(session_factory: sessionmaker[Session]) -> None:
    _world(session_factory)
    client = make_client(session_factory=session_factory)
    published = client.get("/api/v1/card-keys/VN-SHI")
    assert published.status_code == 200
    body = published.json()
    assert body["algorithm"] == "Ed25519"
    assert body["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in published.text
    assert client.get("/api/v1/card-keys/NOPE").status_code == 404
