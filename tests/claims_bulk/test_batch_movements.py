"""The batch engine's accumulator movements and seeded accumulators, against the real-time engine.

The bulk loader (``claims.bulk``) writes accumulators and per-claim deltas from the batch
engine's movement columns, and settles a file on top of accumulators already stored (earlier
real-time claims, an earlier load) by seeding the cascade. Here, with random policies and claims
(``tests/settlement/strategies.py``) and random stored accumulators, the batch engine must give
every column the real-time engine gives with an in-memory store holding those accumulators, each
claim's movement must be exactly what the real-time engine changed in its store, and the stored
values plus the movements must be the store's final state.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, note, seed, settings
from hypothesis import strategies as st

from equicover.settlement.batch_engine import settle_records
from equicover.settlement.claims_file import settlement_record
from equicover.settlement.loader import load_policy_text
from equicover.settlement.model import Claim, Policy
from equicover.settlement.realtime_engine import (
    NO_ACCUMULATION,
    Accumulator,
    InMemoryAccumulatorStore,
    RealtimeEngine,
    settlement_order,
)
from tests.settlement.strategies import PolicyCase, policies_with_claims

SEED = int(os.environ.get("EQUICOVER_HYPOTHESIS_SEED") or random.SystemRandom().randrange(2**32))
EXAMPLES = 60 if os.environ.get("EQUICOVER_HYPOTHESIS_PROFILE", "") not in ("thorough", "ci") else 300
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


class RecordingStore(InMemoryAccumulatorStore):
    """An in-memory store that remembers what each claim changed (the real-time service's deltas)."""

    def __init__(self, stored: dict[tuple[str, str, int], Accumulator]) -> None:
        super().__init__()
        self._values.update(stored)
        self.moved: dict[str, Accumulator] = {}

    def put(self, member_id: str, layer_id: str, benefit_year: int, accumulator: Accumulator) -> None:
        before = self.get(member_id, layer_id, benefit_year)
        self.moved[layer_id] = Accumulator(
            accumulator.position - before.position,
            accumulator.paid - before.paid,
            accumulator.member_share - before.member_share,
        )
        super().put(member_id, layer_id, benefit_year, accumulator)


@st.composite
def stored_accumulators(
    draw: Any, policy: Policy, claims: list[Claim], pool: tuple[int, ...]
) -> dict[tuple[str, str, int], Accumulator]:
    """Accumulators some members already hold: values on the policy's amounts (caps, band ends)
    so that seeds land on and past caps, for some of the (member, year) pairs of the claims."""
    pairs = sorted({(c.member_id, policy.benefit_year(c.service_date)) for c in claims})
    amounts = st.one_of(st.sampled_from((0, *pool)), st.integers(0, max(pool, default=1) * 3))
    stored: dict[tuple[str, str, int], Accumulator] = {}
    for member_id, year in pairs:
        if not draw(st.booleans()):
            continue
        for layer in policy.layers:
            if draw(st.integers(0, 3)) == 0:
                continue
            stored[(member_id, layer.id, year)] = Accumulator(draw(amounts), draw(amounts), draw(amounts))
    return stored


@st.composite
def seeded_cases(draw: Any) -> tuple[PolicyCase, list[Claim], dict[tuple[str, str, int], Accumulator]]:
    case, claims = draw(policies_with_claims(max_claims=60))
    policy = load_policy_text(case.text, path="<generated policy>")
    return case, claims, draw(stored_accumulators(policy, claims, case.amount_pool))


def realtime_with_store(
    policy: Policy, claims: list[Claim], stored: dict[tuple[str, str, int], Accumulator]
) -> tuple[list[dict[str, Any]], list[dict[str, Accumulator]], dict[tuple[str, str, int], Accumulator]]:
    store = RecordingStore(stored)
    engine = RealtimeEngine(policy, store)
    records, moved = [], []
    for claim in sorted(claims, key=settlement_order):
        store.moved = {}
        records.append(settlement_record(policy, engine.settle(claim)))
        moved.append(store.moved)
    return records, moved, dict(store._values)


def _check(policy: Policy, claims: list[Claim], stored: dict[tuple[str, str, int], Accumulator] | None) -> None:
    expected, expected_moves, final = realtime_with_store(policy, claims, stored or {})
    batch = settle_records(policy, claims, accumulators=stored, movements=True)
    moves = [record.pop("movements") for record in batch]
    assert batch == expected
    assert moves == expected_moves
    # stored + movements = the store's final state, key by key
    totals: dict[tuple[str, str, int], Accumulator] = defaultdict(lambda: NO_ACCUMULATION)
    totals.update(stored or {})
    by_id = {claim.claim_id: claim for claim in claims}
    for record, moved in zip(batch, moves):
        claim = by_id[record["claim_id"]]
        for layer_id, delta in moved.items():
            key = (claim.member_id, layer_id, policy.benefit_year(claim.service_date))
            old = totals[key]
            totals[key] = Accumulator(
                old.position + delta.position, old.paid + delta.paid, old.member_share + delta.member_share
            )
    assert dict(totals) == final


@seed(SEED)
@SETTINGS
@given(policies_with_claims(max_claims=60))
def test_movements_are_what_the_realtime_engine_writes(drawn: tuple[PolicyCase, list[Claim]]) -> None:
    case, claims = drawn
    note(f"EQUICOVER_HYPOTHESIS_SEED={SEED}")
    _check(load_policy_text(case.text, path="<generated policy>"), claims, None)


@seed(SEED)
@SETTINGS
@given(seeded_cases())
def test_seeded_batch_settles_as_the_realtime_engine_on_stored_accumulators(
    drawn: tuple[PolicyCase, list[Claim], dict[tuple[str, str, int], Accumulator]],
) -> None:
    case, claims, stored = drawn
    note(f"EQUICOVER_HYPOTHESIS_SEED={SEED}")
    _check(load_policy_text(case.text, path="<generated policy>"), claims, stored)
