"""FHIR amounts of a claim settled in whole riel (kh-hef-2015, minor_digits 0): a ClaimResponse
carries 150000 KHR, not 1500.00."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.api_helpers import login_as, make_client
from tests.riel_world import BILL, riel_world


@pytest.fixture
def riel_client(session_factory: sessionmaker[Session], session: Session):
    world = riel_world(session)
    session.commit()
    return world, make_client(session_factory=session_factory)


def test_the_claim_response_carries_whole_riel(riel_client) -> None:
    world, client = riel_client
    response = client.get(f"/fhir/ClaimResponse/{world.claim_pk}", headers=login_as(client, "admin"))
    assert response.status_code == 200, response.text
    # The raw JSON: a decimal written with fraction digits would show here as 150000.00 or 1500.00.
    assert '"value":150000,"currency":"KHR"' in response.text.replace(" ", "")
    assert "1500.0" not in response.text and "150000.0" not in response.text
    body = response.json()
    totals = {total["category"]["coding"][0]["code"]: total["amount"] for total in body["total"]}
    assert totals["submitted"] == {"value": BILL, "currency": "KHR"}
    assert totals["benefit"] == {"value": BILL, "currency": "KHR"}
    assert body["payment"]["amount"] == {"value": BILL, "currency": "KHR"}
