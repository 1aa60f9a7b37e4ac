"""A database connection the server ended between two requests costs no request an error.

On PostgreSQL the server really ends them (``pg_terminate_backend``); on SQLite the pool's
connections are closed under the application. The next request is served on a fresh connection
(pooled connections are pinged before use), and so is the next claim, which the claim batcher
settles on a connection of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from tests.api_helpers import login_as, make_client
from tests.factories import vn_world

CLAIM = {
    "provider_code": "PA",
    "service_date": "2024-09-02",
    "care_type": "outpatient",
    "diagnosis": "J18.9",
    "days": 0,
    "total": 300_000,
}


@pytest.fixture
def served(empty_db_url: str) -> Iterator[tuple[str, TestClient, list[object], int]]:
    """(database url, a client of an application on it, its raw connections, a covered member's id)."""
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    with session_scope(make_session_factory(engine)) as session:
        member = vn_world(session).person_ids[0]
    engine.dispose()
    with make_client(db_url=empty_db_url) as client:
        raw: list[object] = []
        event.listen(client.app.state.engine, "connect", lambda connection, _record: raw.append(connection))
        yield empty_db_url, client, raw, member


def _drop_connections(url: str, raw: list[object]) -> int:
    """End every connection the application holds; how many were ended."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for connection in raw:
            connection.close()
        return len(raw)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": parsed.database},
            ).scalar_one()
    finally:
        admin.dispose()
    return int(ended)


def test_requests_and_claims_after_the_server_dropped_every_connection(served) -> None:
    url, client, raw, member = served
    clerk = login_as(client, "clerk", provider="PA")
    first = client.post("/api/v1/claims", json={**CLAIM, "claim_id": "PA-LOST-1", "person_id": member}, headers=clerk)
    assert first.status_code == 201, first.text
    assert client.get(f"/api/v1/persons/{member}", headers=clerk).status_code == 200

    assert _drop_connections(url, raw) >= 2  # the request pool's and the claim batcher's

    # The first claim after the drop: the batcher notices its connection is gone and settles on a new one.
    second = client.post("/api/v1/claims", json={**CLAIM, "claim_id": "PA-LOST-2", "person_id": member}, headers=clerk)
    assert second.status_code == 201, second.text
    assert second.json()["created"] is True
    # The next ordinary request: its pooled connection fails the ping and is replaced.
    assert client.get(f"/api/v1/persons/{member}", headers=clerk).status_code == 200
    listed = client.get("/api/v1/claims", headers=clerk)
    assert listed.status_code == 200 and listed.json()["total"] == 2


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sqlite:////nonexistent-directory/equicover.db", id="sqlite"),
        pytest.param("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2", id="postgresql"),
    ],
)
def test_a_database_that_does_not_answer_is_503_with_retry_after(url: str) -> None:
    with make_client(db_url=url) as client:
        answer = client.get("/api/v1/persons", headers={"Authorization": "Bearer any"})
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["code"] == "overloaded"
        fhir = client.get("/fhir/Patient/1", headers={"Authorization": "Bearer any"})
        assert fhir.status_code == 503 and fhir.json()["resourceType"] == "OperationOutcome"
