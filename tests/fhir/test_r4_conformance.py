"""Every kind of resource ``/fhir`` serves, checked with what equicover did not write, on both
databases: HL7's official R4 JSON schema (``tests/fhir/r4``), HL7's code systems for every
``terminology.hl7.org`` code, and, for every local code and extension, the CodeSystem or
StructureDefinition the server itself serves at its canonical path."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator

from equicover import fhir_mapping as mapping
from tests.api_helpers import login_as
from tests.fhir.helpers import DAY, claim_body, eligibility_body, post

R4 = Path(__file__).parent / "r4"
HL7 = "http://terminology.hl7.org/CodeSystem/"


@cache
def schema() -> dict[str, Any]:
    """HL7's R4 schema as first published (4.0.0); R4's technical correction 4.0.1 changed it
    only by adding "4.0.1" to the FHIR version enumerations, added here (see r4/README.md)."""
    with gzip.open(R4 / "fhir.schema.json.gz", "rt", encoding="utf-8") as opened:
        official = json.load(opened)
    for resource_type in ("CapabilityStatement", "StructureDefinition", "ImplementationGuide"):
        element = official["definitions"][resource_type]["properties"]["fhirVersion"]
        versions = element.get("items", element)["enum"]
        assert versions[-1] == "4.0.0"
        versions.append("4.0.1")
    return official


@cache
def validator(resource_type: str) -> Draft6Validator:
    official = schema()
    assert resource_type in official["discriminator"]["mapping"], resource_type
    return Draft6Validator({"$ref": f"#/definitions/{resource_type}", "definitions": official["definitions"]})


@cache
def hl7_codes() -> dict[str, set[str]]:
    listed = json.loads((R4 / "hl7_code_systems.json").read_text(encoding="utf-8"))["code_systems"]
    return {system: set(codes) for system, codes in listed.items()}


def codings(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        if isinstance(value.get("system"), str) and isinstance(value.get("code"), str):
            yield value["system"], value["code"]
        for item in value.values():
            yield from codings(item)
    elif isinstance(value, list):
        for item in value:
            yield from codings(item)


def extension_urls(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for extension in value.get("extension", []):
            if "://" in extension["url"]:  # the parts of a complex extension are named by relative urls
                yield extension["url"]
        for item in value.values():
            yield from extension_urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from extension_urls(item)


def served(client, world, session, row_counts) -> dict[str, Any]:
    """One of each answer the server gives, by a label."""
    from equicover.claims import service as claims_service
    from equicover.claims.schemas import ClaimIn
    from equicover.payments.service import draft_batch
    from equicover.registry.models import Person

    admin = login_as(client, "admin")
    clerk = login_as(client, "clerk", provider="PA")
    poor = world.person_ids[0]
    items = [
        {"sequence": 1, "productOrService": {"text": "bed"}, "net": {"value": 1_500_000, "currency": "VND"}},
        {"sequence": 2, "productOrService": {"text": "surgery"}, "net": {"value": 500_000, "currency": "VND"}},
    ]
    created = post(client, "/fhir/Claim", claim_body(poor, world.provider_a, "R4-1", item=items), clerk).json()
    submitted = post(
        client, "/fhir/Claim/$submit", claim_body(world.person_ids[1], world.provider_a, "R4-2"), clerk
    ).json()
    uncovered = post(
        client, "/fhir/Claim/$submit", claim_body(world.person_ids[2], world.provider_a, "R4-0"), clerk
    ).json()
    from_file, _created = claims_service.submit_claim(
        session=session,
        claim=ClaimIn(
            claim_id="R4-FILE",
            person_id=poor,
            provider_code="PA",
            service_date=dt.date(2024, 9, 3),
            care_type="outpatient",
            diagnosis="J06.9",
            total=150_000,
        ),
        actor="test",
    )
    batch = draft_batch(
        session=session,
        provider_code="PA",
        period_starts=dt.date(2024, 9, 1),
        period_ends=dt.date(2024, 9, 30),
        actor="maker",
        currency="VND",
    )
    session.commit()
    coverage = f"{poor}.{world.policy_version_id}.shi"
    gets = {
        "metadata": "/fhir/metadata",
        "patient": f"/fhir/Patient/{poor}",
        "group": f"/fhir/Group/{world.household_id}",
        "provider": f"/fhir/Organization/{world.provider_a}",
        "payer": "/fhir/Organization/payer-VN-SHI-copay-cap",
        "area": f"/fhir/Location/{session.get(Person, poor).location_id}",
        "site": f"/fhir/Location/provider-{world.provider_a}",
        "coverage": f"/fhir/Coverage/{coverage}",
        "coverages": f"/fhir/Coverage?patient=Patient/{poor}&date={DAY}&_count=1",
        "claim as sent": f"/fhir/Claim/{created['id']}",
        "claim from a file": f"/fhir/Claim/{from_file.id}",
        "claim response": f"/fhir/ClaimResponse/{created['id']}",
        "claim response from a file": f"/fhir/ClaimResponse/{from_file.id}",
        "eob": f"/fhir/ExplanationOfBenefit/{created['id']}",
        "eobs": f"/fhir/ExplanationOfBenefit?patient={poor}&_count=2",
        "eob count": f"/fhir/ExplanationOfBenefit?patient={poor}&_summary=count",
        "eobs subsetted": f"/fhir/ExplanationOfBenefit?patient={poor}&_elements=total&_sort=-created",
        "patients": f"/fhir/Patient?_id={poor},{world.person_ids[1]}",
        "payment": f"/fhir/PaymentReconciliation/{batch.id}",
        "not found": "/fhir/Patient/99999999",
        "code systems": "/fhir/CodeSystem",
        "extensions": "/fhir/StructureDefinition",
        "operation": "/fhir/OperationDefinition/Claim-submit",
    }
    answers = {label: client.get(path, headers=admin).json() for label, path in gets.items()}
    answers["claim created"] = created
    answers["claim response submitted"] = submitted
    answers["claim response uncovered"] = uncovered
    answers["eligibility"] = post(
        client, "/fhir/CoverageEligibilityRequest", eligibility_body({"reference": f"Patient/{poor}"}), admin
    ).json()
    answers["eligibility uncovered"] = post(
        client,
        "/fhir/CoverageEligibilityRequest",
        eligibility_body({"reference": f"Patient/{world.person_ids[2]}"}),
        admin,
    ).json()
    answers["refusal"] = post(client, "/fhir/Claim", b"{}", clerk).json()
    return answers


def test_every_resource_served_is_valid_r4_with_codes_that_resolve(client, world, session, row_counts) -> None:
    answers = served(client, world, session, row_counts)
    kinds = {answer["resourceType"] for answer in answers.values()}
    assert kinds >= {
        "CapabilityStatement", "Patient", "Group", "Organization", "Location", "Coverage", "Bundle", "Claim",
        "ClaimResponse", "ExplanationOfBenefit", "PaymentReconciliation", "OperationOutcome",
        "CoverageEligibilityResponse", "OperationDefinition",
    }  # fmt: skip
    problems = []
    for label, answer in answers.items():
        for error in validator(answer["resourceType"]).iter_errors(answer):
            problems.append(f"{label}: {'/'.join(str(part) for part in error.absolute_path)}: {error.message[:200]}")
    assert problems == []

    local_codes: dict[str, set[str]] = {}
    for entry in answers["code systems"]["entry"]:
        local_codes[entry["resource"]["url"]] = {concept["code"] for concept in entry["resource"].get("concept", [])}
    extensions = {entry["resource"]["url"] for entry in answers["extensions"]["entry"]}
    hl7 = hl7_codes()
    seen_hl7, seen_local = set(), set()
    for label, answer in answers.items():
        for system, code in codings(answer):
            if system.startswith(HL7):
                assert system in hl7, (label, system)
                assert code in hl7[system], (label, system, code)
                seen_hl7.add(system)
            elif system.startswith(mapping.BASE + "/CodeSystem/"):
                assert code in local_codes.get(system, set()), (label, system, code)
                seen_local.add(system)
        for url in extension_urls(answer):
            assert url in extensions, (label, url)
    assert f"{HL7}ex-paymenttype" in seen_hl7 and f"{HL7}adjudication" in seen_hl7
    assert {mapping.LAYER_SYSTEM, mapping.CARE_TYPE_SYSTEM, mapping.ZERO_REASON_SYSTEM} <= seen_local


def test_the_schema_refuses_what_r4_refuses() -> None:
    """The vendored schema is the real one: it refuses a ClaimResponse without its required
    ``patient``, an element R4 does not have, a payment type written as a bare string, and an
    instant that is not a date."""
    valid = {
        "resourceType": "ClaimResponse",
        "status": "active",
        "type": {"text": "x"},
        "use": "claim",
        "patient": {"reference": "Patient/1"},
        "created": "2024-09-02",
        "insurer": {"reference": "Organization/1"},
        "outcome": "complete",
    }
    check = validator("ClaimResponse")
    assert list(check.iter_errors(valid)) == []
    assert list(check.iter_errors({key: value for key, value in valid.items() if key != "patient"}))
    assert list(check.iter_errors({**valid, "colour": "blue"}))
    assert list(check.iter_errors({**valid, "payment": {"type": "complete"}}))
    assert list(check.iter_errors({**valid, "created": "2 September"}))
