"""What the FHIR tests share: answers re-validated with their ``fhir.resources`` model, Claim and
eligibility bodies of the small Viet Nam world (``tests.factories.vn_world``)."""

from __future__ import annotations

import json
from decimal import Decimal

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit
from fhir.resources.R4B.group import Group
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.operationdefinition import OperationDefinition
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.structuredefinition import StructureDefinition

from equicover import fhir_mapping as mapping

DAY = "2024-09-02"
MODELS = {
    model.get_resource_type(): model
    for model in (
        Bundle,
        CapabilityStatement,
        Claim,
        ClaimResponse,
        CodeSystem,
        Coverage,
        CoverageEligibilityResponse,
        ExplanationOfBenefit,
        Group,
        Location,
        OperationDefinition,
        OperationOutcome,
        Organization,
        Patient,
        PaymentReconciliation,
        ServiceRequest,
        StructureDefinition,
    )
}


def fhir(response, resource_type: str, status: int = 200):
    """The response's resource, re-validated with its model class; its JSON (exact decimals)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(mapping.FHIR_JSON)
    data = json.loads(response.content, parse_float=Decimal)
    assert data["resourceType"] == resource_type
    MODELS[resource_type].model_validate(data)
    if resource_type == "Bundle":
        for entry in data.get("entry", []):
            MODELS[entry["resource"]["resourceType"]].model_validate(entry["resource"])
    return data


def outcome(response, status: int) -> dict:
    data = fhir(response, "OperationOutcome", status)
    assert data["issue"] and all(issue["severity"] == "error" for issue in data["issue"])
    return data


def claim_body(
    person_id: int,
    provider_id: int,
    claim_id: str,
    *,
    total: object = 2_000_000,
    currency: str = "VND",
    **extra: object,
) -> bytes:
    claim = {
        "resourceType": "Claim",
        "identifier": [{"system": mapping.CLAIM_SYSTEM, "value": claim_id}],
        "status": "active",
        "type": {"coding": [{"system": mapping.CLAIM_TYPE_SYSTEM, "code": "institutional"}]},
        "subType": {"coding": [{"system": mapping.CARE_TYPE_SYSTEM, "code": "inpatient"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{person_id}"},
        "created": "2024-09-05T09:00:00+07:00",
        "provider": {"reference": f"Organization/{provider_id}"},
        "priority": {"coding": [{"system": mapping.PROCESS_PRIORITY_SYSTEM, "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "health insurance card"}}],
        "billablePeriod": {"start": DAY, "end": "2024-09-05"},
        "diagnosis": [
            {"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"system": mapping.ICD10_SYSTEM, "code": "J18.9"}]}}
        ],
        "total": {"value": total, "currency": currency},
    }
    claim.update(extra)
    return json.dumps(claim).encode()


def eligibility_body(patient: dict, day: str = DAY) -> bytes:
    return json.dumps(
        {
            "resourceType": "CoverageEligibilityRequest",
            "status": "active",
            "purpose": ["validation", "benefits"],
            "patient": patient,
            "created": "2024-09-01T08:00:00Z",
            "insurer": {"display": "VSS"},
            "servicedDate": day,
        }
    ).encode()


def post(client, path: str, body: bytes, headers: dict):
    return client.post(path, content=body, headers={**headers, "Content-Type": mapping.FHIR_JSON})


def amounts(adjudications: list[dict], system: str) -> dict[str, Decimal]:
    return {
        entry["category"]["coding"][0]["code"]: entry["amount"]["value"]
        for entry in adjudications
        if entry["category"]["coding"][0]["system"] == system
    }
