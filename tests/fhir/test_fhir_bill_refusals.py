"""FHIR Claims that are not bills get an OperationOutcome naming the element, and nothing is
stored; the same bill number from two facilities is two claims, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from equicover import fhir_mapping as mapping
from equicover.claims.models import Claim
from tests.api_helpers import login_as, make_client
from tests.factories import vn_world

FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def world_client(session_factory: sessionmaker[Session], session: Session):
    world = vn_world(session)
    session.commit()
    return world, make_client(session_factory=session_factory)


def _claim(
    person_id: int,
    provider_id: int,
    claim_id: str,
    *,
    start: str = "2024-09-02",
    end: str | None = "2024-09-05",
    care_type: str = "inpatient",
    diagnosis: str = "J18.9",
    total: object = 2_000_000,
) -> bytes:
    period = {"start": start, **({"end": end} if end is not None else {})}
    return json.dumps(
        {
            "resourceType": "Claim",
            "identifier": [{"system": mapping.CLAIM_SYSTEM, "value": claim_id}],
            "status": "active",
            "type": {"coding": [{"system": mapping.CLAIM_TYPE_SYSTEM, "code": "institutional"}]},
            "subType": {"coding": [{"system": mapping.CARE_TYPE_SYSTEM, "code": care_type}]},
            "use": "claim",
            "patient": {"reference": f"Patient/{person_id}"},
            "created": "2024-09-05T09:00:00+07:00",
            "provider": {"reference": f"Organization/{provider_id}"},
            "priority": {"coding": [{"system": mapping.PROCESS_PRIORITY_SYSTEM, "code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "health insurance card"}}],
            "billablePeriod": period,
            "diagnosis": [
                {
                    "sequence": 1,
                    "diagnosisCodeableConcept": {"coding": [{"system": mapping.ICD10_SYSTEM, "code": diagnosis}]},
                }
            ],
            "total": {"value": total, "currency": "VND"},
        }
    ).encode()


def _outcome(response, status: int, expected: str) -> None:
    assert response.status_code == status, response.text
    data = json.loads(response.content, parse_float=Decimal)
    assert data["resourceType"] == "OperationOutcome"
    assert expected in " ".join(issue["diagnostics"] for issue in data["issue"]), data


@pytest.mark.parametrize(
    ("changes", "status", "expected"),
    [
        ({"start": "2030-01-01", "end": "2030-01-03"}, 422, "service_date: after today"),
        ({"start": "2025-08-01", "end": "2025-08-04"}, 422, "no policy of the scheme is in force on this date"),
        ({"total": 0}, 422, "total"),
        ({"end": None}, 422, "a inpatient bill needs at least 1 day(s)"),  # inpatient, no stay
        ({"care_type": "outpatient"}, 422, "a outpatient bill has at most 0 day(s)"),  # outpatient over 3 days
        ({"diagnosis": "XYZ"}, 422, "not an ICD-10 code"),
        ({"total": "1000"}, 400, "Claim.total.value must be a JSON number"),
        ({"total": True}, 400, "Claim.total.value"),
        ({"total": 1000.5}, 422, "Claim.total has more than 0 decimal places"),
    ],
    ids=[
        "after-today",
        "no-policy",
        "zero",
        "inpatient-no-day",
        "outpatient-days",
        "icd10",
        "string-total",
        "boolean-total",
        "fraction-of-a-dong",
    ],
)
def test_fhir_refuses_claims_that_are_not_bills(world_client, session, changes, status, expected) -> None:
    world, client = world_client
    clerk = login_as(client, "clerk", provider="PA")
    body = _claim(world.person_ids[0], world.provider_a, "FB-1", **changes)
    response = client.post("/fhir/Claim", content=body, headers={**clerk, **FHIR_JSON})
    _outcome(response, status, expected)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Claim)) == 0


def test_fhir_keeps_bill_numbers_per_facility(world_client, session) -> None:
    world, client = world_client
    clerk_a = login_as(client, "clerk", provider="PA")
    clerk_b = login_as(client, "clerk", provider="PB")
    headers_a, headers_b = {**clerk_a, **FHIR_JSON}, {**clerk_b, **FHIR_JSON}
    by_b = client.post(
        "/fhir/Claim/$submit", content=_claim(world.other_person_id, world.provider_b, "S-777"), headers=headers_b
    )
    by_a = client.post(
        "/fhir/Claim/$submit", content=_claim(world.person_ids[0], world.provider_a, "S-777"), headers=headers_a
    )
    again = client.post(
        "/fhir/Claim/$submit", content=_claim(world.person_ids[0], world.provider_a, "S-777"), headers=headers_a
    )
    assert (by_b.status_code, by_a.status_code, again.status_code) == (201, 201, 200)
    assert by_a.json()["request"] == again.json()["request"] != by_b.json()["request"]
    session.expire_all()
    assert sorted(session.scalars(select(Claim.provider_id).where(Claim.claim_id == "S-777"))) == sorted(
        [world.provider_a, world.provider_b]
    )
