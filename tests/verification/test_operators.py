"""Verification of HEF operators: their hospital post-identifications and the benefits they paid
are drawn, found justified or not, recovered from the operator and counted in its scorecard.

The world (``tests.riel_world``): a registered-poor member's 6-day stay at referral hospital RH
(district D1), 150,000 riel paid by the HEF to the hospital and 39,000 riel of allowances (food
30,000, transport 9,000) to the member. The operator OP-D1 runs district D1; OP-D2 runs D2.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from equicover.claims.models import ClaimPayment
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.ledger import service as ledger
from equicover.verification import operators
from equicover.verification.models import OperatorRecovery
from tests.riel_world import BILL
from tests.verification.operator_world import ENDS, STARTS, draw, operator_world


@pytest.fixture
def world(session):
    return operator_world(session)


def test_an_operator_sample_draws_its_post_identifications_and_benefits_paid(session, world) -> None:
    drawn = draw(session)
    acts = sorted((review.act, review.at_stake) for review in drawn)
    # The stay: the bill plus both allowances; each allowance payment on its own.
    assert acts == [("benefit", 9_000), ("benefit", 30_000), ("hospital_case", BILL + 39_000)]
    # Nothing of district D2, and nothing is drawn twice.
    assert draw(session, code="OP-D2") == []
    assert draw(session, seed=8) == []


def test_the_same_seed_draws_the_same_acts(session, world) -> None:
    picks = []
    for _ in range(2):
        savepoint = session.begin_nested()
        picks.append([review.claim_payment_id for review in draw(session, cases=0, benefits=1, seed=3)])
        savepoint.rollback()
    assert picks[0] == picks[1]
    assert len(picks[0]) == 1


def test_a_sample_is_refused_for_an_unknown_operator_or_nothing_asked(session, world) -> None:
    with pytest.raises(NotFound):
        draw(session, code="NOBODY")
    with pytest.raises(ValidationFailed, match="at least one act"):
        draw(session, cases=0, benefits=0)


def test_a_benefit_not_justified_is_recovered_from_the_operator_and_booked(session, world) -> None:
    transport = next(review for review in draw(session) if review.at_stake == 9_000)
    operators.decide_operator_review(
        session=session,
        review_id=transport.id,
        finding="not_justified",
        reason="no trip: the patient lives next to the hospital",
        on=dt.date(2015, 4, 2),
    )
    assert (transport.status, transport.disallowed) == ("not_justified", 9_000)
    assert operators.outstanding_operator_recoveries(session=session, organisation_code="OP-D1") == {
        session.scalar(select(ClaimPayment.payer).where(ClaimPayment.id == transport.claim_payment_id)): 9_000
    }
    fund = next(iter(operators.outstanding_operator_recoveries(session=session, organisation_code="OP-D1")))
    accounts = {(b.account): b.balance for b in ledger.balances(session=session, fund_code=fund)}
    assert accounts["administration"] == 9_000
    assert ledger.trial_balance(session=session)[0] == ledger.trial_balance(session=session)[1]


def test_a_stay_partly_disallowed_is_shared_among_what_the_funds_paid(session, world) -> None:
    case = next(review for review in draw(session) if review.act == "hospital_case")
    operators.decide_operator_review(
        session=session, review_id=case.id, finding="not_justified", reason="household not poor", amount=18_900
    )
    recoveries = session.scalars(select(OperatorRecovery).where(OperatorRecovery.review_id == case.id)).all()
    assert sum(r.amount for r in recoveries) == 18_900
    # The HEF layer paid 150,000 of 189,000: 15,000 of the 18,900 is taken from it.
    assert {r.fund_code: r.amount for r in recoveries}["hef"] == 15_000


def test_findings_are_refused_when_they_do_not_hold(session, world) -> None:
    drawn = draw(session)
    review = drawn[0]
    with pytest.raises(ValidationFailed, match="reason"):
        operators.decide_operator_review(session=session, review_id=review.id, finding="not_justified")
    with pytest.raises(ValidationFailed, match="exceed"):
        operators.decide_operator_review(
            session=session, review_id=review.id, finding="not_justified", reason="x", amount=review.at_stake + 1
        )
    with pytest.raises(ValidationFailed, match="finding"):
        operators.decide_operator_review(session=session, review_id=review.id, finding="maybe")
    operators.decide_operator_review(session=session, review_id=review.id, finding="justified")
    with pytest.raises(Conflict, match="already decided"):
        operators.decide_operator_review(session=session, review_id=review.id, finding="justified")


def test_the_operator_scorecard_counts_acts_findings_and_deductions(session, world) -> None:
    drawn = draw(session)
    for review in drawn:
        if review.at_stake == 30_000:  # the food allowance: the caretaker stayed 4 days, not 6
            operators.decide_operator_review(
                session=session, review_id=review.id, finding="not_justified", reason="caretaker absent", amount=10_000
            )
        else:
            operators.decide_operator_review(session=session, review_id=review.id, finding="justified")
    cards = {card.organisation_code: card for card in operators.operator_scorecards(
        session=session, period_starts=STARTS, period_ends=ENDS
    )}  # fmt: skip
    card = cards["OP-D1"]
    assert (card.hospital_cases, card.benefits, card.benefits_paid) == (1, 2, 39_000)
    assert (card.reviewed, card.not_justified, card.disallowed, card.outstanding) == (3, 1, 10_000, 10_000)
    assert card.not_justified_rate == pytest.approx(1 / 3)
    assert (cards["OP-D2"].hospital_cases, cards["OP-D2"].reviewed) == (0, 0)
    deducted = operators.deduct_operator_recoveries(
        session=session, organisation_code="OP-D1", payment_reference="fee Q2"
    )
    assert sum(deducted.values()) == 10_000
    (after,) = [
        c
        for c in operators.operator_scorecards(session=session, period_starts=STARTS, period_ends=ENDS)
        if c.organisation_code == "OP-D1"
    ]
    assert after.outstanding == 0


def test_operator_verification_over_http(session, session_factory, world) -> None:
    from tests.api_helpers import login_as, make_client

    session.commit()
    client = make_client(session_factory=session_factory)
    manager = login_as(client, "fund_manager")
    body = {"organisation_code": "OP-D1", "period_starts": "2015-03-01", "period_ends": "2015-03-31",
            "cases": 1, "benefits": 2, "seed": 5}  # fmt: skip
    drawn = client.post("/api/v1/verification/operator-samples", json=body, headers=manager)
    assert drawn.status_code == 201, drawn.text
    assert sorted(review["at_stake"] for review in drawn.json()) == [9_000, 30_000, BILL + 39_000]
    unknown = client.post(
        "/api/v1/verification/operator-samples", json={**body, "organisation_code": "NOBODY"}, headers=manager
    )
    assert unknown.status_code == 404
    # A verifier of district D2 does not see the reviews of D1's facilities; one of D1 does.
    outside = login_as(client, "verifier", area="D2")
    inside = login_as(client, "verifier", area="D1")
    assert client.get("/api/v1/verification/operator-queue", headers=outside).json() == []
    queue = client.get("/api/v1/verification/operator-queue", headers=inside).json()
    assert [item["at_stake"] for item in queue] == [BILL + 39_000, 30_000, 9_000]
    food = queue[1]["review_id"]
    refused = client.post(
        f"/api/v1/verification/operator-reviews/{food}/finding", json={"finding": "not_justified"}, headers=inside
    )
    assert refused.status_code == 422
    assert "reason" in refused.text
    hidden = client.post(
        f"/api/v1/verification/operator-reviews/{food}/finding", json={"finding": "justified"}, headers=outside
    )
    assert hidden.status_code == 404
    found = client.post(
        f"/api/v1/verification/operator-reviews/{food}/finding",
        json={"finding": "not_justified", "reason": "caretaker absent two days", "amount": 10_000},
        headers=inside,
    )
    assert found.status_code == 200, found.text
    assert (found.json()["status"], found.json()["disallowed"]) == ("not_justified", 10_000)
    cards = client.get(
        "/api/v1/verification/operator-scorecards",
        params={"period_starts": "2015-03-01", "period_ends": "2015-03-31"},
        headers=manager,
    ).json()
    (card,) = [card for card in cards if card["organisation_code"] == "OP-D1"]
    assert (card["reviewed"], card["not_justified"], card["outstanding"]) == (1, 1, 10_000)
