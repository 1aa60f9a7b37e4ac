"""Every integer of a path or query of the JSON API and FHIR is bounded: an id beyond the range of
stored ids is not found (404), a value that is not a number or is out of a parameter's range is
refused (422; FHIR 400), never looked up, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.api_helpers import login_as


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/persons/99999999999", 404),
        ("/api/v1/persons/0", 404),
        ("/api/v1/persons/abc", 422),
        ("/api/v1/households/99999999999999999999999", 404),
        ("/api/v1/payments/batches/99999999999.csv", 404),
        ("/api/v1/persons?limit=999999999999", 422),
        ("/api/v1/persons?offset=99999999999999999999", 422),
        ("/api/v1/claims?person_id=99999999999", 422),
        ("/fhir/Patient/999999999999999999", 404),
        ("/fhir/Patient?identifier=x&_offset=99999999999", 400),  # _count beyond the maximum is capped, not refused
    ],
)
def test_the_api_bounds_every_integer_of_a_path_or_query(client, path: str, status: int) -> None:
    response = client.get(path, headers=login_as(client, "admin"))
    assert response.status_code == status, response.text[:200]
    if status == 404 and path.startswith("/api/"):
        assert response.json()["code"] == "not_found"
