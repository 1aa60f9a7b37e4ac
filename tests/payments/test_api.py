"""HTTP: payment batches with maker-checker, the verifier queue of an area, indicators."""

from __future__ import annotations

from tests.api_helpers import login_as, make_client
from tests.factories import vn_claims_world


def test_maker_checker_over_http(session_factory, session) -> None:
    vn_claims_world(session)
    session.commit()
    client = make_client(session_factory=session_factory)
    maker = login_as(client, "fund_manager", username="maker")
    checker = login_as(client, "fund_manager", username="checker")
    verifier = login_as(client, "verifier", area="D1")
    body = {"provider_code": "PA", "period_starts": "2024-08-01", "period_ends": "2024-09-30", "currency": "VND"}
    assert client.post("/api/v1/payments/batches", json=body, headers=verifier).status_code == 403
    created = client.post("/api/v1/payments/batches", json=body, headers=maker)
    assert created.status_code == 201, created.text
    batch_id = created.json()["id"]
    refused = client.post(f"/api/v1/payments/batches/{batch_id}/approve", headers=maker)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert client.post(f"/api/v1/payments/batches/{batch_id}/approve", headers=verifier).status_code == 403
    approved = client.post(f"/api/v1/payments/batches/{batch_id}/approve", headers=checker)
    assert approved.status_code == 200 and approved.json()["approved_by"] == "checker"
    fhir = client.get(f"/api/v1/payments/batches/{batch_id}/payment-reconciliation", headers=checker)
    assert fhir.status_code == 200 and fhir.json()["resourceType"] == "PaymentReconciliation"
    assert client.get(f"/api/v1/payments/batches/{batch_id}.pdf", headers=checker).content.startswith(b"%PDF")
    balances = client.get("/api/v1/funds/balances", headers=checker).json()
    assert {row["account"] for row in balances} >= {"cash", "payable"}


def test_verifier_sees_and_decides_reviews_of_its_area(session_factory, session) -> None:
    vn_claims_world(session)
    session.commit()
    client = make_client(session_factory=session_factory)
    planner = login_as(client, "fund_manager")
    d1 = login_as(client, "verifier", area="D1", username="v-d1")
    d2 = login_as(client, "verifier", area="D2", username="v-d2")
    sample = client.post(
        "/api/v1/verification/samples",
        headers=planner,
        json={
            "period_starts": "2024-07-01",
            "period_ends": "2024-12-31",
            "random_count": 20,
            "risk_count": 0,
            "seed": 1,
        },
    )
    assert sample.status_code == 201 and len(sample.json()["claim_ids"]) == 8
    queue_d1 = client.get("/api/v1/verification/queue", headers=d1).json()
    queue_d2 = client.get("/api/v1/verification/queue", headers=d2).json()
    assert {item["provider_code"] for item in queue_d1} == {"PA"} and {item["provider_code"] for item in queue_d2} == {
        "PB"
    }
    review = queue_d1[0]["review_id"]
    assert (
        client.post(
            f"/api/v1/verification/reviews/{review}/decision", headers=d2, json={"decision": "accept"}
        ).status_code
        == 403
    )
    done = client.post(
        f"/api/v1/verification/reviews/{review}/decision", headers=d1, json={"decision": "reject", "reason": "no notes"}
    )
    assert done.status_code == 200 and done.json()["status"] == "rejected"
    indicators = client.get("/api/v1/reports/indicators?starts=2024-07-01&ends=2024-12-31", headers=d1).json()
    assert [row["area_code"] for row in indicators] == ["D1", "ALL"]
