"""Submitting a Claim, on both databases: ``create`` answers the Claim as stored (absolute
Location, the Claim as sent), ``$submit`` the ClaimResponse; one ClaimResponse and EOB item per
item sent, each amount shared so that every category adds up; a total that is not the sum of
the items refused; the insurance kept as sent and each Coverage it names checked."""

from __future__ import annotations

import json
from decimal import Decimal

from equicover import fhir_mapping as mapping
from tests.api_helpers import login_as
from tests.fhir.helpers import DAY, claim_body, eligibility_body, fhir, outcome, post

ITEMS = [
    {
        "sequence": 1,
        "productOrService": {"coding": [{"system": "http://example.org/fee-schedule", "code": "BED"}]},
        "servicedDate": DAY,
        "net": {"value": 1_200_001, "currency": "VND"},
    },
    {"sequence": 2, "productOrService": {"text": "surgery"}, "net": {"value": 700_000, "currency": "VND"}},
    {"sequence": 3, "productOrService": {"text": "drugs"}, "net": {"value": 99_999, "currency": "VND"}},
]


def by_category(adjudications: list[dict]) -> dict[tuple[str, str], Decimal]:
    return {
        (entry["category"]["coding"][0]["system"], entry["category"]["coding"][0]["code"]): entry["amount"]["value"]
        for entry in adjudications
    }


def test_create_answers_the_stored_claim_as_sent_with_an_absolute_location(client, world) -> None:
    clerk = login_as(client, "clerk", provider="PA")
    insurance = [{"sequence": 1, "focal": True, "coverage": {"display": "health insurance card HS4010"}}]
    body = claim_body(world.person_ids[0], world.provider_a, "CREATE-1", item=ITEMS, insurance=insurance)
    created = post(client, "/fhir/Claim", body, clerk)
    claim = fhir(created, "Claim", 201)
    assert created.headers["location"] == f"http://testserver/fhir/Claim/{claim['id']}"
    assert claim["insurance"] == insurance and [item["sequence"] for item in claim["item"]] == [1, 2, 3]
    assert claim["item"][0]["productOrService"] == ITEMS[0]["productOrService"]
    read = fhir(client.get(created.headers["location"], headers=clerk), "Claim")
    assert {key: value for key, value in read.items() if key != "meta"} == {
        key: value for key, value in claim.items() if key != "meta"
    }
    again = post(client, "/fhir/Claim", body, clerk)
    assert fhir(again, "Claim", 200)["id"] == claim["id"] and again.headers["location"] == created.headers["location"]


def test_submit_answers_one_item_per_item_sent_and_every_category_adds_up(client, world) -> None:
    clerk = login_as(client, "clerk", provider="PA")
    body = claim_body(world.person_ids[1], world.provider_a, "ITEMS-1", item=ITEMS)
    response = post(client, "/fhir/Claim/$submit", body, clerk)
    answer = fhir(response, "ClaimResponse", 201)
    assert response.headers["location"] == f"http://testserver/fhir/ClaimResponse/{answer['id']}"
    assert [item["itemSequence"] for item in answer["item"]] == [1, 2, 3]
    per_item = [by_category(item["adjudication"]) for item in answer["item"]]
    totals = by_category(answer["total"])
    for key, value in totals.items():
        assert sum(item[key] for item in per_item) == value, key
    layers = [key for key in per_item[0] if key[0] == mapping.LAYER_SYSTEM]
    assert layers and totals[mapping.ADJUDICATION_SYSTEM, "benefit"] > 0
    for item, sent in zip(per_item, ITEMS):
        assert item[mapping.ADJUDICATION_SYSTEM, "submitted"] == sent["net"]["value"]
        assert item[mapping.ADJUDICATION_SYSTEM, "benefit"] == sum(item[key] for key in layers)
    eob = fhir(client.get(f"/fhir/ExplanationOfBenefit/{answer['id']}", headers=clerk), "ExplanationOfBenefit")
    assert [item["sequence"] for item in eob["item"]] == [1, 2, 3]
    assert [item["adjudication"] for item in eob["item"]] == [item["adjudication"] for item in answer["item"]]
    assert eob["item"][1]["productOrService"] == {"text": "surgery"}


def test_a_total_that_is_not_the_sum_of_the_items_is_refused(client, world, row_counts) -> None:
    clerk = login_as(client, "clerk", provider="PA")
    before = row_counts("claims", "claim_payments", "claim_documents")
    items = [
        {"sequence": 1, "productOrService": {"text": "bed"}, "net": {"value": 5_000, "currency": "VND"}},
        {"sequence": 2, "productOrService": {"text": "surgery"}, "net": {"value": 500, "currency": "VND"}},
    ]
    body = claim_body(world.person_ids[0], world.provider_a, "SUM-1", total=100, item=items)
    for path in ("/fhir/Claim", "/fhir/Claim/$submit"):
        refused = outcome(post(client, path, body, clerk), 422)
        assert refused["issue"][0]["expression"] == ["Claim.total"]
    no_net = [{"sequence": 1, "productOrService": {"text": "bed"}}]
    refused = outcome(
        post(client, "/fhir/Claim", claim_body(world.person_ids[0], world.provider_a, "SUM-2", item=no_net), clerk), 422
    )
    assert refused["issue"][0]["expression"] == ["Claim.item[0].net"]
    assert row_counts("claims", "claim_payments", "claim_documents") == before


def test_the_insurance_sent_is_kept_and_each_coverage_it_names_is_checked(client, world) -> None:
    clerk = login_as(client, "clerk", provider="PA")
    poor, other = world.person_ids[0], world.other_person_id
    own = f"{poor}.{world.policy_version_id}.shi"
    insurance = [{"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{own}"}}]
    answer = fhir(
        post(
            client,
            "/fhir/Claim/$submit",
            claim_body(poor, world.provider_a, "INS-1", insurance=insurance),
            clerk,
        ),
        "ClaimResponse",
        201,
    )
    assert answer["insurance"] == insurance
    absolute = [{"sequence": 1, "focal": True, "coverage": {"reference": f"http://testserver/fhir/Coverage/{own}"}}]
    body = claim_body(poor, world.provider_a, "INS-3", insurance=absolute)
    assert fhir(post(client, "/fhir/Claim", body, clerk), "Claim", 201)["insurance"] == absolute
    for wrong in (
        f"Coverage/{other}.{world.policy_version_id}.shi",
        f"Coverage/{poor}.{world.policy_version_id}.nothing",
        "Patient/1",
        f"http://elsewhere.example/fhir/Coverage/{own}",
    ):
        body = claim_body(
            poor,
            world.provider_a,
            "INS-2",
            insurance=[{"sequence": 1, "focal": True, "coverage": {"reference": wrong}}],
        )
        refused = outcome(post(client, "/fhir/Claim/$submit", body, clerk), 422)
        assert refused["issue"][0]["expression"] == ["Claim.insurance[0].coverage"]


def test_an_eligibility_response_names_no_request_it_never_stored(client, world) -> None:
    headers = login_as(client, "admin")
    request = json.loads(eligibility_body({"reference": f"Patient/{world.person_ids[0]}"}))
    request["id"] = "ask-1"
    request["identifier"] = [{"system": "urn:oid:1.2.3", "value": "ASK-1"}]
    answer = fhir(
        post(client, "/fhir/CoverageEligibilityRequest", json.dumps(request).encode(), headers),
        "CoverageEligibilityResponse",
    )
    assert "reference" not in answer["request"]
    assert answer["request"]["identifier"] == {"system": "urn:oid:1.2.3", "value": "ASK-1"}
