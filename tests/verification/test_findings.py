"""Verification, one behaviour per test: what a sample draws, what each finding records and
recovers, what a finding refuses, and what a scorecard counts.

The records: the VN-SHI scheme year, the district hospitals PA (district D1) and PB (district D2)
under contract, members living in commune C11 (district D1). A member without a category is paid
80% of a bill from 351,000 on; a registered-poor member 100%.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.ledger import service as ledger
from equicover.verification import service as verification
from equicover.verification.models import ClaimReview, Recovery
from tests import factories as make
from tests.factories import SchemeYear

STARTS, ENDS = dt.date(2024, 8, 1), dt.date(2024, 8, 31)


@pytest.fixture
def year(session) -> SchemeYear:
    make.locations(session)
    scheme = make.scheme_year(session)
    for code, district in (("PA", "D1"), ("PB", "D2")):
        make.provider(session, code=code, location_code=district)
        make.contract(session, provider_code=code)
    return scheme


def _sample(session, *, random_count: int = 50, risk_count: int = 0, seed: int = 1):
    return verification.draw_sample(
        session=session,
        period_starts=STARTS,
        period_ends=ENDS,
        random_count=random_count,
        risk_count=risk_count,
        seed=seed,
    )


def _reviews(session) -> dict[str, int]:
    """Review id by claim id, of every open review."""
    return {item.claim_id: item.review_id for item in verification.verifier_queue(session=session)}


def test_a_sample_draws_only_paid_claims_served_in_its_period(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    make.provider(session, code="PC", level="commune", location_code="C11")  # no contract: pays nothing
    make.claim(session, claim_id="IN", person_id=member.id, service_date=dt.date(2024, 8, 10), total=600_000)
    make.claim(session, claim_id="ZERO", person_id=member.id, provider_code="PC", service_date=dt.date(2024, 8, 11))
    make.claim(session, claim_id="JULY", person_id=member.id, service_date=dt.date(2024, 7, 31), total=600_000)
    make.claim(session, claim_id="SEPT", person_id=member.id, service_date=dt.date(2024, 9, 1), total=600_000)
    sample = _sample(session)
    assert verification.sampled_claim_ids(session=session, sample_id=sample.id) == ["IN"]
    assert (sample.random_count, sample.risk_count) == (1, 0)


def test_a_claim_under_review_is_not_drawn_again(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    make.claim(session, claim_id="ONCE", person_id=member.id, service_date=dt.date(2024, 8, 10), total=600_000)
    first = _sample(session)
    second = _sample(session, seed=2)
    assert verification.sampled_claim_ids(session=session, sample_id=first.id) == ["ONCE"]
    assert verification.sampled_claim_ids(session=session, sample_id=second.id) == []
    assert (second.random_count, second.risk_count) == (0, 0)


@pytest.mark.parametrize(
    ("random_count", "risk_count"), [(0, 0), (-1, 3), (3, -1)], ids=["nothing", "negative-random", "negative-risk"]
)
def test_a_sample_must_ask_for_at_least_one_claim_and_no_negative_count(
    session, year, random_count: int, risk_count: int
) -> None:
    with pytest.raises(ValidationFailed, match="at least one claim"):
        _sample(session, random_count=random_count, risk_count=risk_count)


def test_a_sample_period_must_not_end_before_it_starts(session, year) -> None:
    with pytest.raises(ValidationFailed, match="is before period_starts"):
        verification.draw_sample(
            session=session, period_starts=ENDS, period_ends=STARTS, random_count=1, risk_count=0, seed=1
        )


def test_the_queue_shows_each_verifier_only_the_reviews_of_their_districts(session, year) -> None:
    from equicover.registry.models import Location

    member = make.enrolled_person(session, scheme=year)
    make.claim(session, claim_id="AT-PA", person_id=member.id, service_date=dt.date(2024, 8, 10), total=600_000)
    make.claim(
        session,
        claim_id="AT-PB",
        person_id=member.id,
        provider_code="PB",
        service_date=dt.date(2024, 8, 12),
        total=700_000,
    )
    _sample(session)
    district = dict(session.execute(select(Location.code, Location.id).where(Location.level == "district")).all())
    in_d1 = verification.verifier_queue(session=session, district_ids=[district["D1"]])
    in_d2 = verification.verifier_queue(session=session, district_ids=[district["D2"]])
    assert [(item.claim_id, item.provider_code, item.paid) for item in in_d1] == [("AT-PA", "PA", 480_000)]
    assert [(item.claim_id, item.provider_code, item.paid) for item in in_d2] == [("AT-PB", "PB", 560_000)]


def test_accepting_a_claim_confirms_it_and_recovers_nothing(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    make.claim(session, claim_id="OK", person_id=member.id, service_date=dt.date(2024, 8, 10), total=600_000)
    _sample(session)
    review = verification.decide(session=session, review_id=_reviews(session)["OK"], decision="accept", actor="v1")
    assert (review.status, review.disallowed, review.reason, review.decided_by) == ("confirmed", 0, None, "v1")
    assert session.scalars(select(Recovery)).all() == []
    assert verification.verifier_queue(session=session) == []


def test_a_query_keeps_the_review_open_and_the_claim_held(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    stored = make.claim(session, claim_id="ASK", person_id=member.id, service_date=dt.date(2024, 8, 10), total=600_000)
    _sample(session)
    review = verification.decide(
        session=session, review_id=_reviews(session)["ASK"], decision="query", reason="  send the notes  "
    )
    assert (review.status, review.reason, review.disallowed) == ("queried", "send the notes", 0)
    assert [item.status for item in verification.verifier_queue(session=session)] == ["queried"]
    assert verification.verifier_queue(session=session, include_queried=False) == []
    assert verification.open_review_claims(session=session, provider_id=stored.provider_id) == {stored.id}


def test_rejecting_a_claim_recovers_everything_the_fund_paid(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    stored = make.claim(session, claim_id="NO", person_id=member.id, service_date=dt.date(2024, 8, 10), total=1_000_000)
    ledger.post_claim_settlements(session=session, up_to=ENDS, currency="VND", minor_digits=0)
    _sample(session)
    review = verification.decide(
        session=session, review_id=_reviews(session)["NO"], decision="reject", reason="phantom visit", on=ENDS
    )
    assert (review.status, review.disallowed) == ("rejected", 800_000)  # 80% of 1,000,000
    assert [(r.fund_code, r.amount, r.recorded_on) for r in session.scalars(select(Recovery))] == [
        ("shi", 800_000, ENDS)
    ]
    # The fund owed PA 800,000 for the claim; after the recovery it owes nothing.
    assert ledger.provider_payable(session=session, provider_id=stored.provider_id) == 0
    assert {b.account: b.balance for b in ledger.balances(session=session, fund_code="shi")}["provider_payments"] == 0


def test_a_disallowance_recovers_the_amount_disallowed(session, year) -> None:
    poor = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    stored = make.claim(session, claim_id="PART", person_id=poor.id, service_date=dt.date(2024, 8, 10), total=900_000)
    ledger.post_claim_settlements(session=session, up_to=ENDS, currency="VND", minor_digits=0)
    _sample(session)
    review = verification.decide(
        session=session, review_id=_reviews(session)["PART"], decision="disallow", amount=150_000, reason="one drug"
    )
    assert (review.status, review.disallowed) == ("partly_disallowed", 150_000)
    assert ledger.provider_payable(session=session, provider_id=stored.provider_id) == 900_000 - 150_000


@pytest.mark.parametrize(
    ("amount", "message"),
    [(900_000, "must be below what the payers paid"), (0, "a positive amount"), (None, "a positive amount")],
    ids=["all-of-it", "zero", "missing"],
)
def test_a_disallowance_takes_a_positive_amount_below_what_was_paid(session, year, amount, message) -> None:
    poor = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    make.claim(session, claim_id="PART", person_id=poor.id, service_date=dt.date(2024, 8, 10), total=900_000)
    _sample(session)
    review_id = _reviews(session)["PART"]
    with pytest.raises(ValidationFailed, match=message):
        verification.decide(session=session, review_id=review_id, decision="disallow", amount=amount, reason="x")
    assert session.get(ClaimReview, review_id).status == "pending"


@pytest.mark.parametrize("decision", ["query", "disallow", "reject"])
def test_every_finding_but_acceptance_needs_a_reason(session, year, decision: str) -> None:
    member = make.enrolled_person(session, scheme=year)
    make.claim(session, claim_id="WHY", person_id=member.id, service_date=dt.date(2024, 8, 10), total=600_000)
    _sample(session)
    with pytest.raises(ValidationFailed, match="required for this decision"):
        verification.decide(session=session, review_id=_reviews(session)["WHY"], decision=decision, reason="   ")


def test_only_a_disallowance_takes_an_amount(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    make.claim(session, claim_id="AMT", person_id=member.id, service_date=dt.date(2024, 8, 10), total=600_000)
    _sample(session)
    with pytest.raises(ValidationFailed, match="only a disallowance takes an amount"):
        verification.decide(session=session, review_id=_reviews(session)["AMT"], decision="accept", amount=10)


def test_a_decided_review_cannot_be_decided_again(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    make.claim(session, claim_id="DONE", person_id=member.id, service_date=dt.date(2024, 8, 10), total=600_000)
    _sample(session)
    review_id = _reviews(session)["DONE"]
    verification.decide(session=session, review_id=review_id, decision="reject", reason="phantom")
    with pytest.raises(Conflict, match=r"already decided \(rejected\)"):
        verification.decide(session=session, review_id=review_id, decision="accept")
    assert sum(recovery.amount for recovery in session.scalars(select(Recovery))) == 480_000  # once, not twice


def test_an_unknown_decision_or_review_is_refused(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    make.claim(session, claim_id="ODD", person_id=member.id, service_date=dt.date(2024, 8, 10), total=600_000)
    _sample(session)
    with pytest.raises(ValidationFailed, match="one of accept, query, disallow, reject"):
        verification.decide(session=session, review_id=_reviews(session)["ODD"], decision="forgive", reason="x")
    with pytest.raises(NotFound, match="unknown review"):
        verification.decide(session=session, review_id=987_654, decision="accept")


@pytest.mark.parametrize(
    ("amount", "paid", "shares"),
    [
        (1_000, [("basic", 700), ("critical_illness", 300)], [("basic", 700), ("critical_illness", 300)]),
        # 100 over three equal payers: 33 each, the one unit left goes to the first.
        (100, [("a", 100), ("b", 100), ("c", 100)], [("a", 34), ("b", 33), ("c", 33)]),
        # 10 over 2:1: 6.67 and 3.33; the unit left goes to the larger remainder (0.67).
        (10, [("basic", 200), ("assistance", 100)], [("basic", 7), ("assistance", 3)]),
        # A payer whose share rounds to nothing gets no recovery line.
        (1, [("basic", 900), ("assistance", 100)], [("basic", 1)]),
    ],
)
def test_a_recovery_is_shared_among_funds_in_proportion_to_what_each_paid(amount, paid, shares) -> None:
    assert verification.split_recovery(amount, paid) == shares
    assert sum(share for _, share in verification.split_recovery(amount, paid)) == amount


def test_more_than_was_paid_cannot_be_recovered() -> None:
    with pytest.raises(ValueError, match="cannot recover more than was paid"):
        verification.split_recovery(301, [("basic", 200), ("assistance", 100)])


def test_a_scorecard_counts_decided_reviews_and_what_they_recovered(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    for number, day in enumerate((5, 6, 7, 8)):
        make.claim(
            session, claim_id=f"V{number}", person_id=member.id, service_date=dt.date(2024, 8, day), total=500_000
        )
    _sample(session)
    reviews = _reviews(session)
    verification.decide(session=session, review_id=reviews["V0"], decision="accept")
    verification.decide(session=session, review_id=reviews["V1"], decision="reject", reason="phantom")
    verification.decide(session=session, review_id=reviews["V2"], decision="disallow", amount=100_000, reason="x")
    verification.decide(session=session, review_id=reviews["V3"], decision="query", reason="notes?")
    (card,) = verification.provider_scorecards(session=session, period_starts=STARTS, period_ends=ENDS)
    assert (card.provider_code, card.claims, card.billed, card.paid) == ("PA", 4, 2_000_000, 4 * 400_000)
    # The query is still open: three findings, one rejection, one partial disallowance.
    assert (card.reviewed, card.rejected, card.partly_disallowed, card.recovered) == (3, 1, 1, 400_000 + 100_000)
    assert card.rejection_rate == 1 / 3 and card.disallowance_rate == 2 / 3


def test_a_scorecard_compares_cost_per_inpatient_case_with_providers_of_the_same_level(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    stays = [("PA", 2, 3_000_000), ("PA", 4, 5_000_000), ("PB", 6, 12_000_000)]
    for number, (provider, days, total) in enumerate(stays):
        make.claim(
            session,
            claim_id=f"IP{number}",
            person_id=member.id,
            provider_code=provider,
            service_date=dt.date(2024, 8, 10 + number),
            care_type="inpatient",
            diagnosis="J18.9",
            days=days,
            total=total,
        )
    cards = {
        card.provider_code: card
        for card in verification.provider_scorecards(session=session, period_starts=STARTS, period_ends=ENDS)
    }
    pa, pb = cards["PA"], cards["PB"]
    assert (pa.inpatient_cases, pa.average_length_of_stay, pa.cost_per_case) == (2, 3.0, 4_000_000.0)
    assert (pb.inpatient_cases, pb.average_length_of_stay, pb.cost_per_case) == (1, 6.0, 12_000_000.0)
    # Both are district hospitals: the peer figure is the mean of their costs per case.
    assert pa.peer_cost_per_case == pb.peer_cost_per_case == (4_000_000 + 12_000_000) / 2
    assert pa.cost_against_peers == 0.5 and pb.cost_against_peers == 1.5
    assert pa.rejection_rate is None  # nothing reviewed
