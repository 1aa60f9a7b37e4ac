"""Re-settlement after a reversal and year-end reconciliation, against the batch engine.

Random policies (``tests/settlement/strategies.py``) and a random year of bills arriving in any
order (late bills with earlier dates), some reversed on the way, are played through the service
on the real database. Then:

- after each reversal the member's later claims are settled again: what every stored claim pays
  (its payments plus its adjustments, per payer and for the member) is what the batch engine gives
  for the claims still standing, taken in *arrival* order;
- ``reconcile`` brings what every claim pays to the batch engine's settlement of the year in
  *service-date* order; a second run finds nothing; the accumulators are the engine's; the
  ledger balances.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, event, given, note, seed, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.claims import service as claims
from equicover.claims.models import Claim, StoredAccumulator
from equicover.errors import EquicoverError
from equicover.ledger import service as ledger
from equicover.payments import corrections
from equicover.settlement.batch_engine import settle_records
from equicover.settlement.loader import load_policy_text
from equicover.settlement.model import Policy
from equicover.settlement.realtime_engine import NO_ACCUMULATION, Accumulator
from tests import factories as make
from tests.factories import POLICIES
from tests.settlement.strategies import DIAGNOSIS_POOL, PolicyCase, _claim_amounts, policy_cases, service_date_pools

SEED = int(os.environ.get("EQUICOVER_HYPOTHESIS_SEED") or random.SystemRandom().randrange(2**32))
EXAMPLES = 25 if os.environ.get("EQUICOVER_HYPOTHESIS_PROFILE", "") not in ("thorough", "ci") else 100
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
CATEGORIES = ("registered_poor", "near_poor")  # seeded by the migrations
MEMBERS = 2


# A shipped policy whose yearly caps bind on ordinary bills (outpatient pool: 200.00 a year; a
# year-scope critical-illness threshold): random policies alone rarely make caps meet.
CN_YAAN = PolicyCase(
    document={"policy": {"currency": "CNY"}},
    text=(POLICIES / "cn-yaan-2018.toml").read_text(encoding="utf-8"),
    minor_digits=2,
    effective_from=dt.date(2018, 1, 1),
    effective_to=dt.date(2018, 12, 31),
    open_ended=False,
    year_start=(1, 1),
    provider_levels=("township", "county"),
    care_types=("outpatient", "inpatient"),
    group_names=(),
    amount_pool=(8_000, 20_000, 40_000, 600_000, 1_500_000),
)


@st.composite
def years(draw: Any) -> tuple[PolicyCase, list[dict[str, Any]], list[tuple[int, int]]]:
    """A policy, its bills in arrival order, and reversals (after bill k arrived, reverse bill j <= k)."""
    case = draw(st.one_of(policy_cases(), st.just(CN_YAAN)))
    # A few dates (period edges, both sides of a benefit-year start): claims meet in a year and its caps.
    dates = draw(service_date_pools(case))
    bill = st.fixed_dictionaries(
        {
            "member": st.integers(0, MEMBERS - 1),
            "service_date": st.sampled_from(dates),
            "amounts": _claim_amounts(case.amount_pool),
            "level": st.sampled_from(case.provider_levels),
            "care_type": st.sampled_from(case.care_types),
            "diagnosis": st.sampled_from(DIAGNOSIS_POOL),
            "days": st.integers(0, 12),
            "referred": st.booleans(),
        }
    )
    bills = draw(st.lists(bill, min_size=4, max_size=16))
    drawn_at = st.integers(0, len(bills) - 1)
    reversals = draw(st.lists(st.tuples(drawn_at, drawn_at), min_size=1, max_size=6))
    return case, bills, sorted((max(at, which), which) for at, which in reversals)


def _world(session: Session, case: PolicyCase, bills: list[dict[str, Any]]) -> dict[str, Any]:
    """Scheme, policy, one provider per level, members with categories: inside the example's savepoint."""
    make.locations(session)
    currency = case.document["policy"]["currency"]
    scheme = make.scheme(session, code="TEST", currency=currency, minor_digits=case.minor_digits)
    opened = make.period(session, scheme_id=scheme.id, starts=case.effective_from, ends=case.effective_to)
    make.policy_version(session, scheme_code="TEST", source_text=case.text)
    levels = {level: f"P{index}" for index, level in enumerate(case.provider_levels)}
    for level, code in levels.items():
        make.provider(session, code=code, level=level, location_code="D1", designated=len(code) % 2 == 0)
        make.contract(
            session, provider_code=code, scheme_code="TEST", starts=case.effective_from, ends=case.effective_to
        )
    year = make.SchemeYear(scheme.id, "TEST", opened.id, case.effective_from, case.effective_to, 0)
    members = [
        make.enrolled_person(
            session, scheme=year, categories=list(CATEGORIES[: index % 3]), birth_date=dt.date(1950, 1, 1)
        ).id
        for index in range(MEMBERS)
    ]
    return {"levels": levels, "members": members, "currency": currency}


def _play(
    session: Session, case: PolicyCase, bills: list[dict[str, Any]], reversals: list[tuple[int, int]]
) -> list[str | None]:
    """Submit the bills in arrival order, reversing as drawn; the claim ids in arrival order (None: refused)."""
    world = _world(session, case, bills)
    ids: list[str | None] = []
    reversed_ids: set[str] = set()
    pending = list(reversals)
    for position, drawn in enumerate(bills):
        total, eligible = drawn["amounts"]
        claim_id = f"c{position:03d}"
        try:
            make.claim(
                session,
                claim_id=claim_id,
                person_id=world["members"][drawn["member"]],
                provider_code=world["levels"][drawn["level"]],
                service_date=drawn["service_date"],
                care_type=drawn["care_type"],
                diagnosis=drawn["diagnosis"],
                # A visit declares no day, a stay at least one (policies may refuse other bills).
                days=0 if drawn["care_type"] == "outpatient" else max(1, drawn["days"]),
                total=max(1, total),
                eligible=min(eligible, max(1, total)),
                referred=drawn["referred"],
            )
        except EquicoverError:  # a bill the policy refuses (e.g. days a visit may not declare) is not stored
            ids.append(None)
        else:
            ids.append(claim_id)
        while pending and pending[0][0] == position:
            _, which = pending.pop(0)
            target = ids[which]
            if target is not None and target not in reversed_ids:
                corrections.reverse_claim(session=session, claim_id=target, reason="drawn", actor="verifier")
                reversed_ids.add(target)
    return ids


def _standing(session: Session) -> list[Claim]:
    return list(
        session.scalars(
            select(Claim)
            .where(Claim.status == "settled", Claim.zero_reason.is_(None))
            .order_by(Claim.id)
            .execution_options(populate_existing=True)
        )
    )


def _engine_amounts(policy: Policy, records: list[dict[str, Any]]) -> dict[str, dict[tuple[str, str], int]]:
    amounts: dict[str, dict[tuple[str, str], int]] = {}
    for record in records:
        row = {("layer", layer.id): int(record[f"paid_{layer.id}"]) for layer in policy.layers}
        row.update({("allowance", item.id): int(record[f"allowance_{item.id}"]) for item in policy.allowances})
        row[(claims.MEMBER, claims.MEMBER)] = int(record["member_oop"])
        amounts[str(record["claim_id"])] = row
    return amounts


def _stored_amounts(session: Session, rows: list[Claim]) -> dict[str, dict[tuple[str, str], int]]:
    now = claims.current_amounts(session=session, claims=rows)
    return {row.claim_id: {key: amount for key, (_, amount) in now[row.id].items()} for row in rows}


def _engine_in_arrival_order(policy: Policy, rows: list[Claim]) -> dict[str, dict[tuple[str, str], int]]:
    """The batch engine, each claim dated the first day of its benefit year the claims use: same-day
    claims are taken in claim id order, and the claim ids are in arrival order."""
    anchor: dict[int, dt.date] = {}
    for row in rows:
        year = policy.benefit_year(row.service_date)
        anchor[year] = min(anchor.get(year, row.service_date), row.service_date)
    engine_claims = []
    for row in rows:
        claim = claims.engine_claim(row)
        engine_claims.append(
            type(claim)(**{**{f: getattr(claim, f) for f in claim.__dataclass_fields__},
                           "service_date": anchor[policy.benefit_year(row.service_date)]})
        )  # fmt: skip
    return _engine_amounts(policy, settle_records(policy, engine_claims))


@seed(SEED)
@SETTINGS
@given(drawn=years())
def test_later_claims_are_resettled_as_if_the_reversed_claim_never_arrived(session, drawn) -> None:
    case, bills, reversals = drawn
    note(f"EQUICOVER_HYPOTHESIS_SEED={SEED}")
    # Each example in a savepoint rolled back after it; row ids come again, so no object may outlive it.
    session.expunge_all()
    savepoint = session.begin_nested()
    try:
        _play(session, case, bills, reversals)
        policy = load_policy_text(case.text, path="<generated policy>")
        rows = _standing(session)
        causes = {line.cause for row in rows for line in claims.adjustments_of(session=session, claim_pk=row.id)}
        event(f"later claims re-settled with a difference: {'resettlement' in causes}")
        assert _stored_amounts(session, rows) == _engine_in_arrival_order(policy, rows)
        # The accumulators count exactly the claims still standing, as settled now.
        _assert_accumulators_are_the_sum_of_the_standing_claims(session, policy, rows)
        assert ledger.unbalanced_entries(session=session) == []
    finally:
        savepoint.rollback()
        session.expunge_all()


def _assert_accumulators_are_the_sum_of_the_standing_claims(
    session: Session, policy: Policy, rows: list[Claim]
) -> None:
    records = settle_records(policy, [claims.engine_claim(row) for row in rows], movements=True)
    del records  # the movements of service-date order differ from arrival order's: compare with deltas instead
    from equicover.claims.deltas import ClaimAccumulatorDelta

    expected: dict[tuple[str, str, int], Accumulator] = defaultdict(lambda: NO_ACCUMULATION)
    pks = [row.id for row in rows]
    for delta in session.scalars(select(ClaimAccumulatorDelta).where(ClaimAccumulatorDelta.claim_pk.in_(pks))):
        key = (delta.member_id, delta.layer_id, delta.benefit_year)
        old = expected[key]
        expected[key] = Accumulator(
            old.position + delta.position, old.paid + delta.paid, old.member_share + delta.member_share
        )
    stored = {
        (row.member_id, row.layer_id, row.benefit_year): Accumulator(row.position, row.paid, row.member_share)
        for row in session.scalars(select(StoredAccumulator).execution_options(populate_existing=True))
    }
    for key in set(expected) | set(stored):
        assert stored.get(key, NO_ACCUMULATION) == expected.get(key, NO_ACCUMULATION), key


@seed(SEED)
@SETTINGS
@given(drawn=years())
def test_reconciliation_pays_what_the_batch_engine_gives_in_service_date_order_once(session, drawn) -> None:
    case, bills, reversals = drawn
    note(f"EQUICOVER_HYPOTHESIS_SEED={SEED}")
    # Each example in a savepoint rolled back after it; row ids come again, so no object may outlive it.
    session.expunge_all()
    savepoint = session.begin_nested()
    try:
        _play(session, case, bills, reversals)
        policy = load_policy_text(case.text, path="<generated policy>")
        rows = _standing(session)
        benefit_years = sorted({policy.benefit_year(row.service_date) for row in rows})
        adjusted = 0
        for year in benefit_years:
            adjusted += corrections.reconcile_year(
                session=session, scheme_code="TEST", year=year, actor="fund"
            ).run.adjusted_claims
        event(f"reconciliation adjusted claims: {adjusted > 0}")
        rows = _standing(session)
        engine = settle_records(policy, [claims.engine_claim(row) for row in rows], movements=True)
        assert _stored_amounts(session, rows) == _engine_amounts(policy, engine)
        # The accumulators are the engine's: the sum of each member's movements in the year.
        totals: dict[tuple[str, str, int], Accumulator] = defaultdict(lambda: NO_ACCUMULATION)
        by_id = {row.claim_id: row for row in rows}
        for record in engine:
            row = by_id[str(record["claim_id"])]
            for layer_id, delta in record["movements"].items():
                key = (str(row.person_id), layer_id, policy.benefit_year(row.service_date))
                old = totals[key]
                totals[key] = Accumulator(
                    old.position + delta.position, old.paid + delta.paid, old.member_share + delta.member_share
                )
        stored = {
            (row.member_id, row.layer_id, row.benefit_year): Accumulator(row.position, row.paid, row.member_share)
            for row in session.scalars(select(StoredAccumulator).execution_options(populate_existing=True))
        }
        for key in set(totals) | set(stored):
            assert stored.get(key, NO_ACCUMULATION) == totals.get(key, NO_ACCUMULATION), key
        # Idempotent: a second run finds nothing.
        for year in benefit_years:
            again = corrections.reconcile_year(session=session, scheme_code="TEST", year=year, actor="fund")
            assert again.adjustments == [] and again.run.adjusted_claims == 0
        assert ledger.unbalanced_entries(session=session) == []
        debits, credits = ledger.trial_balance(session=session)
        assert debits == credits
    except EquicoverError as error:  # pragma: no cover - a refusal here is a failure, shown with its reason
        raise AssertionError(f"refused: {error.message}") from error
    finally:
        savepoint.rollback()
        session.expunge_all()
