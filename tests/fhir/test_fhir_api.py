"""The ``/fhir`` endpoints on both databases: every resource served re-validates with the
``fhir.resources`` model class; malformed input gets an OperationOutcome 400/422 and writes
nothing; a Claim round trip whose ClaimResponse equals the stored ``claim_payments``; idempotency
on the Claim identifier; area and facility scoping (403 outside, 404 unknown, 401 signed out)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from fhir.resources.R4B.operationoutcome import OperationOutcome

from equicover import fhir_mapping as mapping
from equicover.claims.service import payments_of
from tests.api_helpers import login_as, make_client
from tests.fhir.helpers import DAY, amounts, claim_body, eligibility_body, fhir, outcome, post


def test_metadata_is_a_capability_statement(client) -> None:
    statement = fhir(client.get("/fhir/metadata"), "CapabilityStatement")
    assert statement["fhirVersion"] == "4.0.1" and statement["kind"] == "instance"
    served = {
        entry["type"]: [item["code"] for item in entry["interaction"]] for entry in statement["rest"][0]["resource"]
    }
    assert served["Claim"] == ["read", "create"] and served["CoverageEligibilityRequest"] == ["create"]


def test_claim_round_trip_pays_what_is_stored_and_is_idempotent(client, world, session, row_counts) -> None:
    headers = login_as(client, "clerk", provider="PA")
    poor = world.person_ids[0]
    answer = fhir(
        post(client, "/fhir/Claim/$submit", claim_body(poor, world.provider_a, "FHIR-1"), headers), "ClaimResponse", 201
    )
    claim_pk = int(answer["id"])
    stored = payments_of(session=session, claim_pk=claim_pk)
    layer_rows = {row.item_id: Decimal(row.amount) for row in stored if row.kind == "layer"}
    adjudications = answer["item"][0]["adjudication"]
    assert amounts(adjudications, mapping.LAYER_SYSTEM) == layer_rows and layer_rows  # one per layer, VND has 0 digits
    assert set(layer_rows) == {"shi", "copay_cap"}
    from equicover.claims.models import Claim as ClaimRow

    row = session.get(ClaimRow, claim_pk)
    standard = amounts(adjudications, mapping.ADJUDICATION_SYSTEM)
    assert standard == {
        "submitted": Decimal(2_000_000),
        "eligible": Decimal(row.eligible),
        "benefit": sum(layer_rows.values()),
        "copay": Decimal(row.member_oop),
    }
    assert sum(layer_rows.values()) + row.member_oop == row.allowed
    assert answer["payment"]["amount"] == {"value": sum(layer_rows.values()), "currency": "VND"}
    assert answer["identifier"][0]["value"] == "FHIR-1" and answer["patient"] == {"reference": f"Patient/{poor}"}

    before = row_counts("claims", "claim_payments", "accumulators")
    again = fhir(
        post(client, "/fhir/Claim/$submit", claim_body(poor, world.provider_a, "FHIR-1"), headers), "ClaimResponse", 200
    )
    assert again["id"] == answer["id"] and again["item"] == answer["item"]
    assert row_counts("claims", "claim_payments", "accumulators") == before

    # The stored claim reads back as Claim, ClaimResponse and ExplanationOfBenefit.
    claim = fhir(client.get(f"/fhir/Claim/{claim_pk}", headers=headers), "Claim")
    assert claim["total"]["value"] == Decimal(2_000_000) and claim["billablePeriod"] == {
        "start": DAY,
        "end": "2024-09-05",
    }
    assert (
        fhir(client.get(f"/fhir/ClaimResponse/{claim_pk}", headers=headers), "ClaimResponse")["item"] == answer["item"]
    )
    eob = fhir(client.get(f"/fhir/ExplanationOfBenefit/{claim_pk}", headers=headers), "ExplanationOfBenefit")
    assert eob["item"][0]["adjudication"] == adjudications
    found = fhir(
        client.get("/fhir/ExplanationOfBenefit", params={"patient": f"Patient/{poor}"}, headers=headers), "Bundle"
    )
    assert found["type"] == "searchset" and found["total"] == 1 and found["entry"][0]["resource"]["id"] == str(claim_pk)


def test_eligibility_and_coverage_per_layer(client, world) -> None:
    headers = login_as(client, "admin")
    poor = world.person_ids[0]
    response = fhir(
        post(client, "/fhir/CoverageEligibilityRequest", eligibility_body({"reference": f"Patient/{poor}"}), headers),
        "CoverageEligibilityResponse",
    )
    coverage_ids = [entry["coverage"]["reference"].removeprefix("Coverage/") for entry in response["insurance"]]
    assert coverage_ids == [f"{poor}.{world.policy_version_id}.shi", f"{poor}.{world.policy_version_id}.copay-cap"]
    assert all(entry["inforce"] for entry in response["insurance"])
    cap = response["insurance"][1]["item"][0]["benefit"][0]
    assert cap["allowedMoney"] == {"value": Decimal(14_040_000), "currency": "VND"} and cap["usedMoney"][
        "value"
    ] == Decimal(0)

    found = fhir(
        client.get("/fhir/Coverage", params={"beneficiary": f"Patient/{poor}", "date": DAY}, headers=headers), "Bundle"
    )
    assert [entry["resource"]["order"] for entry in found["entry"]] == [1, 2]
    for coverage_id in coverage_ids:
        coverage = fhir(client.get(f"/fhir/Coverage/{coverage_id}", headers=headers), "Coverage")
        assert coverage["beneficiary"] == {"reference": f"Patient/{poor}"} and coverage["period"] == {
            "start": "2024-07-01",
            "end": "2025-06-30",
        }

    # Not enrolled: a complete answer without insurance, not an error.
    uncovered = fhir(
        post(
            client,
            "/fhir/CoverageEligibilityRequest",
            eligibility_body({"reference": f"Patient/{world.person_ids[2]}"}),
            headers,
        ),
        "CoverageEligibilityResponse",
    )
    assert "insurance" not in uncovered and uncovered["disposition"] == "not covered: not_enrolled"
    today = fhir(
        client.get("/fhir/Coverage", params={"beneficiary": str(world.person_ids[2])}, headers=headers), "Bundle"
    )
    assert today["total"] == 0


def test_a_claim_for_a_person_not_covered_is_settled_with_nothing(client, world) -> None:
    headers = login_as(client, "clerk", provider="PA")
    answer = fhir(
        post(client, "/fhir/Claim/$submit", claim_body(world.person_ids[2], world.provider_a, "FHIR-0"), headers),
        "ClaimResponse",
        201,
    )
    assert answer["disposition"] == "settled with no payment: not_covered"
    assert amounts(answer["item"][0]["adjudication"], mapping.LAYER_SYSTEM) == {}
    assert amounts(answer["item"][0]["adjudication"], mapping.ADJUDICATION_SYSTEM)["copay"] == Decimal(2_000_000)


def test_registry_and_provider_reads_and_patient_search(client, world, session) -> None:
    from sqlalchemy import select

    from equicover.registry.models import Location as LocationRow
    from equicover.registry.models import Person

    headers = login_as(client, "admin")
    poor = world.person_ids[0]
    patient = fhir(client.get(f"/fhir/Patient/{poor}", headers=headers), "Patient")
    assert patient["name"][0]["text"] == "Member One"
    group = fhir(client.get(f"/fhir/Group/{world.household_id}", headers=headers), "Group")
    assert [member["entity"]["reference"] for member in group["member"]] == [
        f"Patient/{pid}" for pid in world.person_ids
    ]
    organization = fhir(client.get(f"/fhir/Organization/{world.provider_a}", headers=headers), "Organization")
    assert organization["identifier"][0]["value"] == "PA"
    site = fhir(client.get(f"/fhir/Location/provider-{world.provider_a}", headers=headers), "Location")
    district = site["partOf"]["reference"].removeprefix("Location/")
    area = fhir(client.get(f"/fhir/Location/{district}", headers=headers), "Location")
    assert area["identifier"][0]["value"] == "D1"
    province = fhir(client.get(f"/fhir/{area['partOf']['reference']}", headers=headers), "Location")
    assert province["identifier"][0]["value"] == "LC"
    assert session.scalar(select(LocationRow.code).where(LocationRow.id == int(district))) == "D1"

    vneid = session.scalar(select(Person).where(Person.national_id == "001170000042"))
    found = fhir(
        client.get(
            "/fhir/Patient",
            params={"identifier": f"{mapping.NATIONAL_ID_SYSTEM_PREFIX}vneid|001170000042"},
            headers=headers,
        ),
        "Bundle",
    )
    assert found["total"] == 1 and found["entry"][0]["resource"]["id"] == str(vneid.id)
    assert found["entry"][0]["resource"]["name"][0]["family"] == "Nguyễn"
    none = fhir(
        client.get(
            "/fhir/Patient",
            params={"identifier": f"{mapping.NATIONAL_ID_SYSTEM_PREFIX}cni|001170000042"},
            headers=headers,
        ),
        "Bundle",
    )
    assert none["total"] == 0 and "entry" not in none
    by_id = fhir(
        client.get("/fhir/Patient", params={"identifier": f"{mapping.PERSON_SYSTEM}|{poor}"}, headers=headers), "Bundle"
    )
    assert by_id["total"] == 1
    # Eligibility by the national identifier instead of a reference.
    by_identifier = {"identifier": {"system": f"{mapping.NATIONAL_ID_SYSTEM_PREFIX}vneid", "value": "001170000042"}}
    fhir(
        post(client, "/fhir/CoverageEligibilityRequest", eligibility_body(by_identifier), headers),
        "CoverageEligibilityResponse",
    )


MALFORMED_CLAIMS = [
    (b"{not json", 400, "not JSON"),
    (b'"a string"', 400, "not a JSON object"),
    (b"[" * 50_000, 400, "nested too deeply"),
    (b'{"resourceType": "Patient", "id": "1"}', 400, "resourceType must be Claim"),
    (json.dumps({"resourceType": "Claim", "status": "active"}).encode(), 400, "Field required"),
    ({"status": 7}, 400, "Claim.status"),
    ({"patient": {"reference": "Patient/99999999"}}, 422, "unknown patient"),
    ({"patient": {"reference": "Patient/999999999999999999999"}}, 422, "no such Patient"),
    (
        {"patient": {"identifier": {"system": mapping.PERSON_SYSTEM, "value": "99999999999"}}},
        422,
        "no registered patient",
    ),
    ({"provider": {"reference": "Organization/99999999999"}}, 422, "no such Organization"),
    (
        {"patient": {"identifier": {"system": mapping.NATIONAL_ID_SYSTEM_PREFIX + "vneid", "value": "a\x00b"}}},
        422,
        "contains a control character",  # refused before any FHIR parsing (http.limits.TextGuard)
    ),
    ({"provider": {"reference": "Organization/99999999"}}, 422, "unknown provider"),
    ({"currency": "USD"}, 422, "must be in VND"),
    ({"total": 100.5}, 422, "more than 0 decimal places"),
    ({"total": -5}, 422, "negative"),
    ({"subType": {"coding": [{"system": mapping.CARE_TYPE_SYSTEM, "code": "dental"}]}}, 422, "care_type"),
    ({"claim_id": "bad id with spaces"}, 422, "claim_id"),
    ({"billablePeriod": {"start": DAY, "end": "2035-01-01"}}, 422, "days"),
]


def test_malformed_claims_get_an_operation_outcome_and_write_nothing(client, world, row_counts) -> None:
    headers = login_as(client, "clerk", provider="PA")
    before = row_counts("claims", "claim_payments", "accumulators", "change_log")
    for case, (body, status, reason) in enumerate(MALFORMED_CLAIMS):
        if isinstance(body, dict):
            changes = dict(body)
            claim_id = changes.pop("claim_id", "BAD-1")
            currency = changes.pop("currency", "VND")
            total = changes.pop("total", 2_000_000)
            body = claim_body(
                world.person_ids[0], world.provider_a, claim_id, currency=currency, total=total, **changes
            )
        data = outcome(post(client, "/fhir/Claim", body, headers), status)
        assert reason in " ".join(issue["diagnostics"] for issue in data["issue"]), (case, data)
    assert row_counts("claims", "claim_payments", "accumulators", "change_log") == before


def test_malformed_eligibility_requests(client, world) -> None:
    headers = login_as(client, "admin")
    outcome(post(client, "/fhir/CoverageEligibilityRequest", b"\xff\xfe", headers), 400)
    outcome(post(client, "/fhir/CoverageEligibilityRequest", claim_body(1, 1, "X"), headers), 400)
    outcome(
        post(client, "/fhir/CoverageEligibilityRequest", eligibility_body({"reference": "Patient/99999999"}), headers),
        422,
    )
    unknown_id = {"identifier": {"system": f"{mapping.NATIONAL_ID_SYSTEM_PREFIX}vneid", "value": "nobody"}}
    data = outcome(post(client, "/fhir/CoverageEligibilityRequest", eligibility_body(unknown_id), headers), 422)
    assert "nobody" not in json.dumps(data)  # the identifier sent is not echoed


def test_scoping_sign_in_and_unknown_resources(client, world) -> None:
    admin = login_as(client, "admin")
    clerk_a = login_as(client, "clerk", provider="PA")
    answer = fhir(
        post(client, "/fhir/Claim/$submit", claim_body(world.person_ids[0], world.provider_a, "SCOPE-1"), clerk_a),
        "ClaimResponse",
        201,
    )
    claim_pk = answer["id"]

    clerk_b = login_as(client, "clerk", provider="PB")
    for path in (
        f"/fhir/Claim/{claim_pk}",
        f"/fhir/ClaimResponse/{claim_pk}",
        f"/fhir/ExplanationOfBenefit/{claim_pk}",
        f"/fhir/Organization/{world.provider_a}",
        f"/fhir/Location/provider-{world.provider_a}",
    ):
        outcome(client.get(path, headers=clerk_b), 403)
    # A clerk submits for its own facility only; a bill number is the facility's own, so facility B's
    # SCOPE-1 is B's bill, stored beside A's, never A's answered back.
    outcome(post(client, "/fhir/Claim", claim_body(world.person_ids[0], world.provider_a, "SCOPE-2"), clerk_b), 403)
    own = post(client, "/fhir/Claim/$submit", claim_body(world.other_person_id, world.provider_b, "SCOPE-1"), clerk_b)
    assert own.status_code == 201, own.text
    assert own.json()["request"]["reference"] != f"Claim/{claim_pk}"
    # The clerk's window sees its facility's claims only: the patient's other claims are filtered out.
    listed = fhir(
        client.get("/fhir/ExplanationOfBenefit", params={"patient": str(world.person_ids[0])}, headers=clerk_b),
        "Bundle",
    )
    assert listed["total"] == 0

    verifier_d2 = login_as(client, "verifier", area="D2")
    for path in (
        f"/fhir/Patient/{world.person_ids[0]}",
        f"/fhir/Group/{world.household_id}",
        f"/fhir/Claim/{claim_pk}",
    ):
        outcome(client.get(path, headers=verifier_d2), 403)
    outcome(
        client.get(
            "/fhir/Coverage", params={"beneficiary": f"Patient/{world.person_ids[0]}", "date": DAY}, headers=verifier_d2
        ),
        403,
    )
    outcome(
        client.get("/fhir/ExplanationOfBenefit", params={"patient": str(world.person_ids[0])}, headers=verifier_d2), 403
    )
    outcome(
        post(
            client,
            "/fhir/CoverageEligibilityRequest",
            eligibility_body({"reference": f"Patient/{world.person_ids[0]}"}),
            verifier_d2,
        ),
        403,
    )
    outcome(
        post(client, "/fhir/Claim", claim_body(world.other_person_id, world.provider_b, "SCOPE-3"), verifier_d2), 403
    )
    fhir(client.get(f"/fhir/Patient/{world.other_person_id}", headers=verifier_d2), "Patient")
    search = fhir(
        client.get(
            "/fhir/Patient",
            params={"identifier": f"{mapping.PERSON_SYSTEM}|{world.person_ids[0]}"},
            headers=verifier_d2,
        ),
        "Bundle",
    )
    assert search["total"] == 0  # searches are filtered in the query

    outcome(client.get(f"/fhir/Patient/{world.person_ids[0]}"), 401)
    outcome(post(client, "/fhir/Claim", claim_body(world.person_ids[0], world.provider_a, "SCOPE-4"), {}), 401)
    for path in (
        "/fhir/Patient/99999999",
        "/fhir/Patient/999999999999999999",
        "/fhir/Patient/abc",
        "/fhir/Claim/99999999",
        "/fhir/Group/999999999999999999",
        "/fhir/Claim/999999999999999999",
        "/fhir/Coverage/999999999999999999.999999999999999999.shi",
        "/fhir/Coverage/1.2",
        "/fhir/Medication/1",
        "/fhir/Location/99999999",
    ):
        outcome(client.get(path, headers=admin), 404)
    outcome(client.get("/fhir/Patient", headers=admin), 400)
    outcome(client.get("/fhir/Coverage", params={"beneficiary": "Group/1"}, headers=admin), 400)
    outcome(client.get("/fhir/Coverage", params={"beneficiary": "1", "date": "not-a-date"}, headers=admin), 400)


def test_cents_are_exact_and_eligibility_shows_what_a_claim_used(client, world, session) -> None:
    """A CNY policy (two minor digits): the ClaimResponse carries the stored payments to the fen,
    and the eligibility answer's ``usedMoney`` of the capped layer is what the claim paid."""
    from equicover.claims.service import store_policy_version
    from equicover.enrolment.schemas import SchemeIn
    from equicover.enrolment.service import create_scheme, enrol, open_period
    from equicover.providers.schemas import ContractIn, ProviderIn
    from equicover.providers.service import register_provider, sign_contract
    from tests.factories import POLICIES

    scheme = create_scheme(
        session=session, scheme=SchemeIn(code="CN-YA", name="Ya'an basic medical insurance", currency="CNY")
    )
    period = open_period(session=session, scheme_id=scheme.id, starts=dt.date(2018, 1, 1), ends=dt.date(2018, 12, 31))
    store_policy_version(
        session=session,
        source_text=(POLICIES / "cn-yaan-2018.toml").read_text(encoding="utf-8"),
        scheme_code="CN-YA",
        actor="test",
    )
    county = register_provider(
        session=session,
        provider=ProviderIn(code="PY", name="County hospital", level="county", location_code="D1", designated=True),
    )
    sign_contract(
        session=session,
        contract=ContractIn(
            scheme_code="CN-YA",
            provider_code="PY",
            starts=dt.date(2018, 1, 1),
            ends=dt.date(2018, 12, 31),
            payment_method="fee_for_service",
        ),
    )
    person = world.person_ids[2]
    enrol(
        session=session,
        person_id=person,
        scheme_id=scheme.id,
        period_id=period.id,
        starts=dt.date(2018, 1, 1),
        ends=dt.date(2018, 12, 31),
    )
    session.commit()
    headers = login_as(client, "admin")

    body = claim_body(
        person,
        county.id,
        "CN-1",
        total="12345.67",
        currency="CNY",
        billablePeriod={"start": "2018-05-02", "end": "2018-05-09"},
    )
    response = post(client, "/fhir/Claim/$submit", body.replace(b'"12345.67"', b"12345.67"), headers)
    answer = fhir(response, "ClaimResponse", 201)
    assert b'"value":12345.67,"currency":"CNY"' in response.content
    stored = {
        row.item_id: row.amount
        for row in payments_of(session=session, claim_pk=int(answer["id"]))
        if row.kind == "layer"
    }
    paid = amounts(answer["item"][0]["adjudication"], mapping.LAYER_SYSTEM)
    assert {layer: value * 100 for layer, value in paid.items()} == stored and stored["basic"] > 0
    assert all(value == value.quantize(Decimal("0.01")) and value.as_tuple().exponent == -2 for value in paid.values())

    eligibility = fhir(
        post(
            client,
            "/fhir/CoverageEligibilityRequest",
            eligibility_body({"reference": f"Patient/{person}"}, "2018-06-01"),
            headers,
        ),
        "CoverageEligibilityResponse",
    )
    benefits = {
        entry["item"][0]["category"]["coding"][0]["code"]: entry["item"][0]["benefit"][0]
        for entry in eligibility["insurance"]
        if "item" in entry
    }
    assert benefits["basic"]["allowedMoney"] == {"value": Decimal("150000.00"), "currency": "CNY"}
    assert benefits["basic"]["usedMoney"]["value"] * 100 == stored["basic"]
    assert benefits["outpatient_pool"]["usedMoney"]["value"] == 0


def test_a_payment_batch_reads_as_payment_reconciliation(client, world, session) -> None:
    from equicover.payments.service import draft_batch

    clerk_a = login_as(client, "clerk", provider="PA")
    answer = fhir(
        post(client, "/fhir/Claim/$submit", claim_body(world.person_ids[0], world.provider_a, "PAY-1"), clerk_a),
        "ClaimResponse",
        201,
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
    reconciliation = fhir(
        client.get(f"/fhir/PaymentReconciliation/{batch.id}", headers=login_as(client, "fund_manager")),
        "PaymentReconciliation",
    )
    details = reconciliation["detail"]
    assert [detail["request"]["reference"] for detail in details] == [f"Claim/{answer['id']}"]
    assert reconciliation["paymentAmount"] == {"value": Decimal(batch.net_amount), "currency": "VND"}
    assert sum(detail["amount"]["value"] for detail in details) == Decimal(batch.net_amount)
    fhir(client.get(f"/fhir/PaymentReconciliation/{batch.id}", headers=clerk_a), "PaymentReconciliation")
    outcome(
        client.get(f"/fhir/PaymentReconciliation/{batch.id}", headers=login_as(client, "clerk", provider="PB")), 403
    )
    outcome(client.get("/fhir/PaymentReconciliation/99999999", headers=clerk_a), 404)


def test_refusals_before_any_fhir_route_are_operation_outcomes_too(session_factory) -> None:
    """Unknown paths, wrong methods and oversized bodies under /fhir are refused before a FHIR
    route runs; a FHIR client still gets an OperationOutcome, not the JSON API's error shape."""
    client = make_client(session_factory=session_factory, max_body_bytes=1_000)
    headers = login_as(client, "admin")
    cases = [
        (client.get("/fhir/no/such/path/here", headers=headers), 404, "not-found"),
        (client.get("/fhir/NoSuchResource", headers=headers), 404, "not-supported"),
        (client.delete("/fhir/metadata", headers=headers), 405, "not-supported"),
        (
            client.post(
                "/fhir/Claim/$submit",
                headers={**headers, "content-type": "application/fhir+json"},
                content=b"{" + b" " * 2_000 + b"}",
            ),
            413,
            "too-long",
        ),
    ]
    for response, status, code in cases:
        assert response.status_code == status
        assert response.headers["content-type"].startswith("application/fhir+json")
        outcome = OperationOutcome.model_validate(response.json())
        assert outcome.issue[0].code == code
    # The JSON API keeps its own shape for the same refusals.
    outside = client.delete("/api/v1/claims", headers=headers)
    assert outside.status_code == 405 and outside.json()["code"] == "method_not_allowed"
