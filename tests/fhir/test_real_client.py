"""A real FHIR client (``fhirpy``, pinned) against a real server: uvicorn started on a free port
with the application on a fresh database of each backend. The client submits claims through
``Claim/$submit`` and ``create``, reads the stored Claim back, and pages through searches by
following the server's ``next`` links until every match has been fetched."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fhirpy import SyncFHIRClient

from equicover.admin.service import create_user
from equicover.api.app import create_app
from equicover.auth.service import issue_token
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from tests.api_helpers import TEST_PASSWORD
from tests.conftest import BACKENDS, _drop_postgres_database, _fresh_database
from tests.factories import vn_world
from tests.fhir.helpers import DAY, claim_body

OUTPATIENT = {
    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
    "subType": {"coding": [{"system": "https://equicover.org/fhir/CodeSystem/care-type", "code": "outpatient"}]},
    "billablePeriod": {"start": DAY},
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The application under uvicorn on a free port, its database seeded with the small Viet Nam
    world and a clerk of PA: {"url", "token", "world"}."""
    url = _fresh_database(request.param, "fhirclient", tmp_path_factory)
    upgrade(url)
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        world = vn_world(session)
        clerk = create_user(
            session=session, username="window-1", password=TEST_PASSWORD, role="clerk", provider_code="PA"
        )
        token = issue_token(session=session, user=clerk)
    engine.dispose()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(database_url=url), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield {"url": f"http://127.0.0.1:{port}/fhir", "token": token, "world": world}
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        if request.param == "postgresql":
            _drop_postgres_database(url)


def test_a_fhir_client_submits_claims_and_pages_through_every_match(served) -> None:
    world = served["world"]
    poor = world.person_ids[0]
    client = SyncFHIRClient(served["url"], authorization=f"Bearer {served['token']}")

    answers = []
    for number in range(5):
        claim = json.loads(claim_body(poor, world.provider_a, f"HIS-{number}", total=120_000, **OUTPATIENT))
        answers.append(client.execute("Claim/$submit", method="post", data=claim))
    assert {answer["resourceType"] for answer in answers} == {"ClaimResponse"}
    assert all(answer["payment"]["amount"]["value"] == 120_000 for answer in answers)

    sent = json.loads(claim_body(poor, world.provider_a, "HIS-CREATE", total=120_000, **OUTPATIENT))
    created = client.resource("Claim", **sent)
    created.save()
    assert created.resource_type == "Claim" and created.id and created["identifier"] == sent["identifier"]
    read_back = client.reference("Claim", created.id).to_resource()
    assert read_back["insurance"] == sent["insurance"] and read_back["total"] == sent["total"]

    eobs = client.resources("ExplanationOfBenefit").search(patient=f"Patient/{poor}").limit(2).fetch_all()
    pages = [eob.id for eob in eobs]
    assert len(pages) == 6 and len(set(pages)) == 6
    stored = {answer["id"] for answer in answers} | {created.id}
    assert set(pages) == stored
    assert client.resources("ExplanationOfBenefit").search(patient=f"Patient/{poor}").count() == 6

    coverages = client.resources("Coverage").search(patient=f"Patient/{poor}", date=DAY).limit(1).fetch_all()
    assert [coverage["order"] for coverage in coverages] == [1, 2]
    for coverage in coverages:
        payer = client.reference(reference=coverage["payor"][0]["reference"]).to_resource()
        assert payer["type"][0]["coding"][0]["code"] == "pay"
