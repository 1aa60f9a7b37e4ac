"""Verification: reproducible samples, findings, recoveries into the ledger and the next payment."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from equicover.errors import Conflict, ValidationFailed
from equicover.ledger import service as ledger
from equicover.payments import service as payments
from equicover.registry.models import Location
from equicover.verification import service as verification
from equicover.verification.models import Recovery
from tests import factories as make
from tests.factories import vn_claims_world

STARTS, ENDS = dt.date(2024, 7, 1), dt.date(2024, 12, 31)


def _draw(session, seed: int, random_count: int = 3, risk_count: int = 2) -> list[str]:
    nested = session.begin_nested()
    sample = verification.draw_sample(
        session=session,
        period_starts=STARTS,
        period_ends=ENDS,
        random_count=random_count,
        risk_count=risk_count,
        seed=seed,
        actor="planner",
    )
    ids = verification.sampled_claim_ids(session=session, sample_id=sample.id)
    nested.rollback()
    return ids


def test_sampling_is_reproducible_for_a_seed(session) -> None:
    vn_claims_world(session)
    first = _draw(session, seed=7)
    assert first == _draw(session, seed=7)
    assert len(first) == 5 and len(set(first)) == 5
    assert "C-OP0" not in first  # paid nothing (no contract): nothing to verify
    seeds = {tuple(_draw(session, seed=seed)) for seed in range(6)}
    assert len(seeds) > 1  # the seed does change the draw
    everything = _draw(session, seed=1, random_count=20, risk_count=20)
    assert len(everything) == 8  # all eight paid claims, no more, none twice


def test_risk_part_prefers_costly_claims(session) -> None:
    world = vn_claims_world(session)
    # Ten ordinary visits and one at 40 times the price for the same diagnosis and level.
    for i in range(10):
        make.claim(
            session,
            claim_id=f"P-{i}",
            person_id=world.other_person_id,
            provider_code="PB",
            service_date=dt.date(2024, 10, 1 + i),
            total=300_000 + i,
        )
    make.claim(
        session,
        claim_id="P-X",
        person_id=world.other_person_id,
        provider_code="PB",
        service_date=dt.date(2024, 10, 20),
        total=12_000_000,
    )
    hits = sum("P-X" in _draw(session, seed=seed, random_count=0, risk_count=1) for seed in range(20))
    assert hits >= 8  # picked far more often than 1 time in 19 candidates


def test_a_recovery_changes_the_ledger_and_the_provider_payment(session) -> None:
    world = vn_claims_world(session)
    ledger.post_claim_settlements(session=session, up_to=ENDS, currency="VND", minor_digits=0)
    owed_before = ledger.provider_payable(session=session, provider_id=world.provider_a)
    sample = verification.draw_sample(
        session=session, period_starts=STARTS, period_ends=ENDS, random_count=20, risk_count=0, seed=3, actor="planner"
    )
    d1 = session.scalar(select(Location.id).where(Location.code == "D1"))
    queue = verification.verifier_queue(session=session, district_ids=[d1])
    assert {item.provider_code for item in queue} == {"PA"} and len(queue) == 6
    by_claim = {item.claim_id: item for item in queue}
    inpatient = by_claim["A-IP1"]  # payers paid 7,200,000
    with pytest.raises(ValidationFailed, match="reason"):
        verification.decide(session=session, review_id=inpatient.review_id, decision="disallow", amount=1_000)
    with pytest.raises(ValidationFailed, match="below"):
        verification.decide(
            session=session, review_id=inpatient.review_id, decision="disallow", amount=7_200_000, reason="x"
        )
    verification.decide(
        session=session,
        review_id=inpatient.review_id,
        decision="disallow",
        amount=1_500_000,
        reason="two days not justified",
        actor="verifier1",
        on=dt.date(2024, 11, 5),
    )
    verification.decide(
        session=session,
        review_id=by_claim["A-OP1"].review_id,
        decision="reject",
        reason="phantom visit",
        actor="verifier1",
        on=dt.date(2024, 11, 5),
    )
    verification.decide(session=session, review_id=by_claim["A-OP0"].review_id, decision="accept", actor="verifier1")
    verification.decide(
        session=session,
        review_id=by_claim["A-OP2"].review_id,
        decision="query",
        reason="send the notes",
        actor="verifier1",
    )
    with pytest.raises(Conflict):
        verification.decide(
            session=session, review_id=by_claim["A-OP0"].review_id, decision="reject", reason="changed my mind"
        )
    recovered = 1_500_000 + 450_000
    assert sum(r.amount for r in session.scalars(select(Recovery))) == recovered
    assert ledger.provider_payable(session=session, provider_id=world.provider_a) == owed_before - recovered
    shi = {b.account: b for b in ledger.balances(session=session, fund_code="shi")}
    assert shi["provider_payments"].credit == recovered

    # The provider's next batch: accepted and decided claims, minus the recoveries; the queried
    # claim (A-OP2) and the still pending one (A-OP3, A-IP0) wait for their decision.
    for item in queue:
        if item.claim_id in ("A-OP3", "A-IP0"):
            verification.decide(session=session, review_id=item.review_id, decision="accept", actor="verifier1")
    batch = payments.draft_batch(
        session=session, provider_code="PA", period_starts=STARTS, period_ends=ENDS, actor="maker", currency="VND"
    )
    paid_claims = 320_000 + 450_000 + 550_000 + 6_000_000 + 7_200_000  # A-OP2 (400,000) held by the query
    assert batch.claim_count == 5
    assert batch.claims_amount == paid_claims and batch.recoveries_amount == recovered
    assert batch.net_amount == paid_claims - recovered
    assert sample.random_count == 8
    # Once the query is answered, the held claim is paid in the provider's next batch.
    verification.decide(session=session, review_id=by_claim["A-OP2"].review_id, decision="accept", actor="verifier1")
    following = payments.draft_batch(
        session=session,
        provider_code="PA",
        period_starts=dt.date(2025, 1, 1),
        period_ends=dt.date(2025, 1, 31),
        actor="maker",
        currency="VND",
    )
    assert (following.claim_count, following.net_amount, following.recoveries_amount) == (1, 400_000, 0)


def test_scorecards_per_provider(session) -> None:
    vn_claims_world(session)
    verification.draw_sample(
        session=session, period_starts=STARTS, period_ends=ENDS, random_count=20, risk_count=0, seed=3
    )
    queue = {item.claim_id: item for item in verification.verifier_queue(session=session)}
    verification.decide(
        session=session, review_id=queue["A-OP1"].review_id, decision="reject", reason="phantom", on=ENDS
    )
    verification.decide(session=session, review_id=queue["A-OP0"].review_id, decision="accept")
    cards = {
        card.provider_code: card
        for card in verification.provider_scorecards(session=session, period_starts=STARTS, period_ends=ENDS)
    }
    pa, pb = cards["PA"], cards["PB"]
    assert pa.claims == 6 and pa.reviewed == 2 and pa.rejected == 1 and pa.rejection_rate == 0.5
    assert pa.recovered == 450_000
    assert pa.inpatient_cases == 2 and pa.average_length_of_stay == 5.0
    assert pa.cost_per_case == (6_000_000 + 9_000_000) / 2
    assert pb.cost_per_case == 12_000_000
    assert pa.peer_cost_per_case == pb.peer_cost_per_case == (7_500_000 + 12_000_000) / 2
    assert pa.cost_against_peers == pytest.approx(7_500_000 / 9_750_000)
    assert cards["PC"].paid == 0
