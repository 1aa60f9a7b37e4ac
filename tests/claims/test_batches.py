"""Claims settled together (``submit_claims``, the service's batches) on both databases.

The rule: a batch leaves exactly what submitting its claims one by one, in the same order,
would have left: the same answers (settlements, refusals, repeats of a claim_id), the same
payments, accumulators and deltas. Hypothesis draws the batches: several members, claims on
both sides of a benefit-year boundary (the co-payment cap restarts on 1 January), claim_ids
repeated inside the batch, providers in and out of the member's district or without a
contract, care types the policy refuses, unknown persons.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from equicover.audit.models import ChangeLog
from equicover.claims import service
from equicover.claims.deltas import ClaimAccumulatorDelta
from equicover.claims.models import Claim, ClaimPayment, StoredAccumulator
from equicover.claims.schemas import ClaimIn
from equicover.claims.settle_and_store import ClaimSubmission
from equicover.errors import EquicoverError, Forbidden, ValidationFailed
from tests.factories import World, vn_world

FIRST_DAY = dt.date(2024, 12, 20)  # the batches straddle 1 January, when the co-payment cap restarts
UNKNOWN_PERSON = 2**31 - 1


def _answers(session, results: list[Any]) -> list[tuple[Any, ...]]:
    answers = []
    for result in results:
        if isinstance(result, EquicoverError):
            answers.append(("refused", type(result).__name__, result.field))
            continue
        row, created = result
        payments = getattr(row, "settled_payments", None)
        if payments is None:
            payments = service.payments_of(session=session, claim_pk=row.id)
        paid = sorted((p.kind, p.item_id, p.payer, p.amount) for p in payments)
        answers.append(
            (
                row.claim_id, row.person_id, created, row.allowed, row.provider_writeoff, row.member_oop,
                row.zero_reason, row.trail, row.in_area, row.categories, paid,
            )
        )  # fmt: skip
    return answers


def _stored(session) -> dict[str, Any]:
    claims = sorted(
        (c.claim_id, c.person_id, c.allowed, c.member_oop, c.zero_reason)
        for c in session.scalars(select(Claim).execution_options(populate_existing=True))
    )
    payments = sorted(
        (claim_id, kind, item, amount)
        for claim_id, kind, item, amount in session.execute(
            select(Claim.claim_id, ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.amount).join(
                Claim, Claim.id == ClaimPayment.claim_pk
            )
        )
    )
    accumulators = {
        (a.member_id, a.layer_id, a.benefit_year): (a.position, a.paid, a.member_share)
        for a in session.scalars(select(StoredAccumulator).execution_options(populate_existing=True))
    }
    deltas = {
        (member, layer, year): (position, paid, share)
        for member, layer, year, position, paid, share in session.execute(
            select(
                ClaimAccumulatorDelta.member_id,
                ClaimAccumulatorDelta.layer_id,
                ClaimAccumulatorDelta.benefit_year,
                func.sum(ClaimAccumulatorDelta.position),
                func.sum(ClaimAccumulatorDelta.paid),
                func.sum(ClaimAccumulatorDelta.member_share),
            ).group_by(
                ClaimAccumulatorDelta.member_id, ClaimAccumulatorDelta.layer_id, ClaimAccumulatorDelta.benefit_year
            )
        )
    }
    logged = session.scalar(
        select(func.count(ChangeLog.id)).where(ChangeLog.entity == "claims", ChangeLog.action == "submit")
    )
    return {"claims": claims, "payments": payments, "accumulators": accumulators, "deltas": deltas, "logged": logged}


def _one_by_one(session, submissions: list[ClaimSubmission]) -> list[Any]:
    results: list[Any] = []
    for submission in submissions:
        try:
            results.append(
                service.submit_claim(
                    session=session,
                    claim=submission.claim,
                    actor=submission.actor,
                    only_provider_id=submission.only_provider_id,
                )
            )
        except EquicoverError as error:
            results.append(error)
    return results


def _outcome(session, submissions: list[ClaimSubmission], *, together: bool) -> tuple[list[Any], dict[str, Any]]:
    """What the submissions answer and leave stored, in a savepoint rolled back afterwards."""
    savepoint = session.begin_nested()
    try:
        if together:
            results = service.submit_claims(session=session, submissions=submissions)
        else:
            results = _one_by_one(session, submissions)
        session.flush()
        return _answers(session, results), _stored(session)
    finally:
        savepoint.rollback()


claim_drafts = st.lists(
    st.tuples(
        st.sampled_from(["poor", "five_years", "other", "not_enrolled", "unknown"]),
        st.integers(0, 7),  # claim_id: few values, so that batches repeat some
        st.integers(1, 25_000_000),  # total, VND (a bill of nothing is refused before any batch)
        st.sampled_from(["PA", "PB", "PC"]),  # PC: no contract
        st.sampled_from(["inpatient", "outpatient", "dental"]),  # dental: not a care type of the policy
        st.integers(0, 25),  # days after FIRST_DAY
    ),
    min_size=1,
    max_size=14,
)


@pytest.fixture
def world(session) -> World:
    # Function-scoped: Hypothesis runs every example of a test against the same world; each
    # example's writes are rolled back in a savepoint (_outcome).
    return vn_world(session)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(drafts=claim_drafts)
def test_a_batch_leaves_what_its_claims_one_by_one_leave(session, world: World, drafts) -> None:
    people = {
        "poor": world.person_ids[0],
        "five_years": world.person_ids[1],
        "not_enrolled": world.person_ids[2],
        "other": world.other_person_id,
        "unknown": UNKNOWN_PERSON,
    }
    submissions = [
        ClaimSubmission(
            ClaimIn(
                claim_id=f"B-{number}",
                person_id=people[who],
                provider_code=provider,
                service_date=FIRST_DAY + dt.timedelta(days=offset),
                care_type=care_type,
                diagnosis="J18.9",
                days=2 if care_type == "inpatient" else 0,
                total=total,
            ),
            actor="window",
        )
        for who, number, total, provider, care_type, offset in drafts
    ]
    together = _outcome(session, submissions, together=True)
    apart = _outcome(session, submissions, together=False)
    assert together[0] == apart[0]
    assert together[1] == apart[1]
    # Each claim's deltas add up to the accumulators: a reversal takes back exactly its share.
    assert together[1]["deltas"] == together[1]["accumulators"]


def test_a_refused_claim_does_not_stop_the_others_of_its_batch(session) -> None:
    world = vn_world(session)
    poor = world.person_ids[0]

    def claim(claim_id: str, **changes: Any) -> ClaimIn:
        fields: dict[str, Any] = dict(
            claim_id=claim_id, person_id=poor, provider_code="PA", service_date=dt.date(2024, 9, 2),
            care_type="inpatient", diagnosis="J18.9", days=3, total=2_000_000,
        )  # fmt: skip
        fields.update(changes)
        return ClaimIn(**fields)

    results = service.submit_claims(
        session=session,
        submissions=[
            ClaimSubmission(claim("OK-1"), "clerk"),
            ClaimSubmission(claim("BAD-1", person_id=UNKNOWN_PERSON), "clerk"),
            ClaimSubmission(claim("BAD-2", care_type="dental"), "clerk"),
            ClaimSubmission(claim("BAD-3", provider_code="PB"), "clerk", only_provider_id=world.provider_a),
            ClaimSubmission(claim("OK-2"), "clerk"),
            ClaimSubmission(claim("OK-1", total=9_999_999), "clerk"),  # the same claim_id again: the first answer
        ],
    )
    assert [type(result).__name__ if isinstance(result, EquicoverError) else result[1] for result in results] == [
        True, "ValidationFailed", "ValidationFailed", "Forbidden", True, False,
    ]  # fmt: skip
    assert isinstance(results[1], ValidationFailed) and results[1].field == "person_id"
    assert isinstance(results[2], ValidationFailed) and results[2].field == "care_type"
    assert isinstance(results[3], Forbidden)
    first, repeat = results[0], results[5]
    assert not isinstance(first, EquicoverError) and not isinstance(repeat, EquicoverError)
    assert repeat[0] is first[0] and repeat[0].total == 2_000_000
    stored = session.scalars(select(Claim.claim_id).order_by(Claim.claim_id)).all()
    assert stored == ["OK-1", "OK-2"]
    # The second claim of the member was settled against the first's accumulators.
    second = results[4]
    assert not isinstance(second, EquicoverError)
    assert service.get_claim(session=session, claim_id="OK-2").member_oop == second[0].member_oop
