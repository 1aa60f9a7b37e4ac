"""Payers, codes and balances, on both databases: each layer's payer is an Organization of type
``pay`` with an identifier that does not change with the policy year, referenced from Coverage,
ClaimResponse, ExplanationOfBenefit and the eligibility answer; ``payment.type`` is HL7's
``ex-paymenttype#complete``; the ExplanationOfBenefit carries each capped layer's annual cap and
what is used of it; the CapabilityStatement declares what is served and how to sign in; the local
CodeSystems and extensions are served at their canonical paths."""

from __future__ import annotations

from decimal import Decimal

from equicover import fhir_mapping as mapping
from equicover.claims.service import store_policy_version
from tests.api_helpers import login_as
from tests.factories import POLICIES
from tests.fhir.helpers import DAY, claim_body, eligibility_body, fhir, outcome, post


def _next_year_policy() -> str:
    text = (POLICIES / "vn-shi-2024.toml").read_text(encoding="utf-8")
    replaced = (
        text.replace('id = "vn-shi-2024"', 'id = "vn-shi-2025"')
        .replace("effective_from = 2024-07-01", "effective_from = 2025-07-01")
        .replace("effective_to = 2025-06-30", "effective_to = 2026-06-30")
    )
    assert replaced.count("2025-07-01") >= 1 and 'id = "vn-shi-2025"' in replaced
    return replaced


def test_every_layer_payer_is_an_organization_that_keeps_its_identifier_across_policy_years(
    client, world, session
) -> None:
    headers = login_as(client, "admin")
    poor = world.person_ids[0]
    coverages = fhir(
        client.get("/fhir/Coverage", params={"patient": f"Patient/{poor}", "date": DAY}, headers=headers), "Bundle"
    )
    payors = [entry["resource"]["payor"][0] for entry in coverages["entry"]]
    assert [payor["reference"] for payor in payors] == [
        "Organization/payer-VN-SHI-shi",
        "Organization/payer-VN-SHI-copay-cap",
    ]
    assert [payor["identifier"] for payor in payors] == [
        {"system": mapping.PAYER_SYSTEM, "value": "VN-SHI/shi"},
        {"system": mapping.PAYER_SYSTEM, "value": "VN-SHI/copay_cap"},
    ]
    store_policy_version(session=session, source_text=_next_year_policy(), scheme_code="VN-SHI", actor="test")
    session.commit()
    for payor in payors:
        organization = fhir(client.get(f"/fhir/{payor['reference']}", headers=headers), "Organization")
        assert organization["type"][0]["coding"][0] == {
            "system": mapping.ORGANIZATION_TYPE_SYSTEM,
            "code": "pay",
            "display": "Payer",
        }
        assert organization["identifier"] == [payor["identifier"]] and organization["name"] == payor["display"]
    outcome(client.get("/fhir/Organization/payer-VN-SHI-nothing", headers=headers), 404)

    clerk = login_as(client, "clerk", provider="PA")
    answer = fhir(
        post(client, "/fhir/Claim/$submit", claim_body(poor, world.provider_a, "PAYER-1"), clerk), "ClaimResponse", 201
    )
    assert answer["insurer"]["reference"] == payors[0]["reference"]
    eob = fhir(client.get(f"/fhir/ExplanationOfBenefit/{answer['id']}", headers=clerk), "ExplanationOfBenefit")
    assert eob["insurer"]["reference"] == payors[0]["reference"]
    eligibility = fhir(
        post(client, "/fhir/CoverageEligibilityRequest", eligibility_body({"reference": f"Patient/{poor}"}), headers),
        "CoverageEligibilityResponse",
    )
    assert eligibility["insurer"]["reference"] == payors[0]["reference"]
    for resource in (answer, eob):
        assert resource["payment"]["type"]["coding"] == [
            {
                "system": "http://terminology.hl7.org/CodeSystem/ex-paymenttype",
                "code": "complete",
                "display": "Complete",
            }
        ]


def test_the_explanation_of_benefit_carries_each_capped_layer_balance(client, world) -> None:
    clerk = login_as(client, "clerk", provider="PA")
    member = world.person_ids[1]  # 80%: the member's co-payment counts towards the co-payment cap
    answer = fhir(
        post(client, "/fhir/Claim/$submit", claim_body(member, world.provider_a, "CAP-1"), clerk), "ClaimResponse", 201
    )
    eob = fhir(client.get(f"/fhir/ExplanationOfBenefit/{answer['id']}", headers=clerk), "ExplanationOfBenefit")
    eligibility = fhir(
        post(client, "/fhir/CoverageEligibilityRequest", eligibility_body({"reference": f"Patient/{member}"}), clerk),
        "CoverageEligibilityResponse",
    )
    capped = {
        entry["item"][0]["category"]["coding"][0]["code"]: entry["item"][0]["benefit"][0]
        for entry in eligibility["insurance"]
        if "item" in entry
    }
    balances = {entry["category"]["coding"][0]["code"]: entry for entry in eob["benefitBalance"]}
    assert set(balances) == set(capped) == {"copay_cap"}
    financial = balances["copay_cap"]["financial"][0]
    assert financial["allowedMoney"] == {"value": Decimal(14_040_000), "currency": "VND"}
    assert financial["usedMoney"] == capped["copay_cap"]["usedMoney"] and financial["usedMoney"]["value"] > 0
    copay = next(
        entry["amount"]["value"] for entry in answer["total"] if entry["category"]["coding"][0]["code"] == "copay"
    )
    assert financial["usedMoney"]["value"] == copay  # the member's first bill of the year
    assert balances["copay_cap"]["term"]["coding"][0]["code"] == "annual"
    assert eob["benefitPeriod"] == {"start": "2024-01-01", "end": "2024-12-31"}


def test_the_capability_statement_declares_what_is_served_and_how_to_sign_in(client, world) -> None:
    statement = fhir(client.get("/fhir/metadata"), "CapabilityStatement")
    rest = statement["rest"][0]
    resources = {entry["type"]: entry for entry in rest["resource"]}
    coverage_params = {param["name"] for param in resources["Coverage"]["searchParam"]}
    assert {"beneficiary", "patient", "date", "_count", "_offset", "_summary"} <= coverage_params
    assert {"_id", "identifier", "_count"} <= {param["name"] for param in resources["Patient"]["searchParam"]}
    assert resources["Claim"]["operation"] == [{"name": "submit", "definition": mapping.SUBMIT_OPERATION}]
    assert [item["code"] for item in resources["Claim"]["interaction"]] == ["read", "create"]
    assert rest["security"]["service"] and rest["security"]["extension"] == [
        {"url": mapping.TOKEN_ENDPOINT_EXTENSION, "valueUri": "http://testserver/api/v1/auth/token"}
    ]
    operation = fhir(client.get("/fhir/OperationDefinition/Claim-submit"), "OperationDefinition")
    assert operation["url"] == mapping.SUBMIT_OPERATION and operation["code"] == "submit"

    token = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "wrong password"})
    assert token.status_code == 401  # the endpoint declared is the one that signs in


def test_local_code_systems_and_extensions_are_served_at_their_canonical_paths(client, world) -> None:
    for system in mapping.LOCAL_CODE_SYSTEMS:
        path = system.url.removeprefix("https://equicover.org")
        served = fhir(client.get(path), "CodeSystem")
        assert served["url"] == system.url and served["content"] == "complete"
    layers = fhir(client.get("/fhir/CodeSystem/layer"), "CodeSystem")
    assert {"shi", "copay_cap"} <= {concept["code"] for concept in layers["concept"]}
    found = fhir(client.get("/fhir/CodeSystem", params={"url": mapping.LAYER_SYSTEM}), "Bundle")
    assert found["total"] == 1 and found["entry"][0]["resource"]["id"] == "layer"
    for url in (
        mapping.ELIGIBLE_AMOUNT_EXTENSION,
        mapping.ZERO_REASON_EXTENSION,
        mapping.NAME_SCRIPT_EXTENSION,
        mapping.ADDRESS_LOCATION_EXTENSION,
    ):
        definition = fhir(client.get(url.removeprefix("https://equicover.org")), "StructureDefinition")
        assert definition["url"] == url and definition["type"] == "Extension"
    outcome(client.get("/fhir/CodeSystem/nothing"), 404)


def test_payers_and_providers_are_found_by_identifier_and_type(client, world) -> None:
    headers = login_as(client, "admin")
    by_identifier = fhir(
        client.get("/fhir/Organization", params={"identifier": f"{mapping.PAYER_SYSTEM}|VN-SHI/shi"}, headers=headers),
        "Bundle",
    )
    assert [entry["resource"]["id"] for entry in by_identifier["entry"]] == ["payer-VN-SHI-shi"]
    payers = fhir(client.get("/fhir/Organization", params={"type": "pay"}, headers=headers), "Bundle")
    assert [entry["resource"]["id"] for entry in payers["entry"]] == ["payer-VN-SHI-shi", "payer-VN-SHI-copay-cap"]
    either = fhir(
        client.get(
            "/fhir/Organization",
            params={"identifier": f"{mapping.PAYER_SYSTEM}|VN-SHI/copay_cap,{mapping.PROVIDER_SYSTEM}|PB"},
            headers=headers,
        ),
        "Bundle",
    )
    assert [entry["resource"]["id"] for entry in either["entry"]] == ["payer-VN-SHI-copay-cap", str(world.provider_b)]
    clerk_a = login_as(client, "clerk", provider="PA")
    own = fhir(client.get("/fhir/Organization", params={"type": "prov"}, headers=clerk_a), "Bundle")
    assert [entry["resource"]["id"] for entry in own["entry"]] == [str(world.provider_a)]  # the clerk's facility only
    outcome(client.get("/fhir/Organization", headers=headers), 400)
