"""Concurrent submissions for the same members against a real PostgreSQL database.

Threads submit many claims of two members at the same moment, each claim twice (idempotency
under a race). Afterwards nothing is paid twice, the yearly co-payment cap holds, and the
payments and accumulators equal the batch engine's (DuckDB) answer on the same claims.

The claims of a member are identical apart from their id, so the order in which the threads
happen to settle them does not change the multiset of results: any difference from the batch
engine is a lost update or a double payment, not an ordering effect.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from equicover.claims import service
from equicover.claims.group_commit import ClaimBatcher
from equicover.claims.models import Claim, ClaimPayment, StoredAccumulator
from equicover.claims.schemas import ClaimIn
from equicover.claims.settle_and_store import ClaimSubmission
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.retry import with_retries
from equicover.db.session import make_session_factory, session_scope
from equicover.errors import EquicoverError
from equicover.settlement import model
from equicover.settlement.batch_engine import settle_records
from equicover.settlement.loader import load_policy
from equicover.settlement.realtime_engine import InMemoryAccumulatorStore, RealtimeEngine, settlement_order
from tests import factories as make
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.factories import POLICIES, vn_world

CLAIMS_PER_MEMBER = 16
THREADS = 8
DAY = dt.date(2024, 10, 7)
TOTAL = 20_000_000  # VND: the 80% member's share of 4,000,000 hits the 14,040,000 yearly cap on the 4th claim


def _seed_two_members_claims(factory, prefix: str) -> tuple[list[ClaimIn], list[int], dict[int, frozenset[str]]]:
    """Seed the world; the CLAIMS_PER_MEMBER identical inpatient claims of each of two members,
    their ids starting with ``prefix``, the members, and their categories on DAY."""
    with session_scope(factory) as session:
        world = vn_world(session)
        members = [world.person_ids[0], world.person_ids[1]]
        categories = {m: frozenset(service.categories_at(session=session, person_id=m, on=DAY)) for m in members}
    claims = [
        make.claim_in(
            claim_id=f"{prefix}{member}-{index:03d}",
            person_id=member,
            service_date=DAY,
            care_type="inpatient",
            diagnosis="K35.8",
            days=4,
            total=TOTAL,
        )
        for member in members
        for index in range(CLAIMS_PER_MEMBER)
    ]
    return claims, members, categories


def _run_at_once(target, argument_lists) -> None:
    threads = [threading.Thread(target=target, args=arguments) for arguments in argument_lists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = _create_postgres_database("concurrency")
    try:
        upgrade(url)
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.mark.postgres
def test_concurrent_submissions_never_overrun_caps_and_match_the_batch_engine(pg_url: str) -> None:
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    try:
        claims, members, categories = _seed_two_members_claims(factory, "M")
        work = claims + claims  # every claim twice
        barrier = threading.Barrier(THREADS)
        errors: list[BaseException] = []
        created = Counter()
        lock = threading.Lock()

        def worker(offset: int) -> None:
            barrier.wait()
            for claim in work[offset::THREADS]:
                try:
                    with session_scope(factory) as session:
                        row, was_created = with_retries(
                            session,
                            lambda session=session, claim=claim: service.submit_claim(
                                session=session, claim=claim, actor="load"
                            ),
                        )
                    with lock:
                        created[claim.claim_id] += int(was_created)
                except BaseException as error:
                    errors.append(error)

        _run_at_once(worker, [(offset,) for offset in range(THREADS)])
        assert errors == []
        assert all(created[claim.claim_id] == 1 for claim in claims)

        _assert_like_the_engine(factory, claims, members, categories)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_same_claim_id_for_two_members_at_once_is_stored_once(pg_url: str) -> None:
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            world = vn_world(session)
        members = [world.person_ids[0], world.person_ids[1]]
        rounds = 12
        results: list[tuple[str, int, bool]] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def submit(claim_id: str, member: int, barrier: threading.Barrier) -> None:
            barrier.wait()
            try:
                with session_scope(factory) as session:
                    row, created = with_retries(
                        session,
                        lambda: service.submit_claim(
                            session=session,
                            claim=make.claim_in(
                                claim_id=claim_id,
                                person_id=member,
                                service_date=DAY,
                                care_type="inpatient",
                                diagnosis="K35.8",
                                days=1,
                                total=1_000_000,
                            ),
                            actor="race",
                        ),
                    )
                    with lock:
                        results.append((claim_id, row.person_id, created))
            except BaseException as error:
                errors.append(error)

        for index in range(rounds):
            barrier = threading.Barrier(2)
            _run_at_once(submit, [(f"RACE-{index}", member, barrier) for member in members])
        assert errors == []
        for index in range(rounds):
            answers = [r for r in results if r[0] == f"RACE-{index}"]
            assert sorted(created for _, _, created in answers) == [False, True]
            assert len({person for _, person, _ in answers}) == 1  # both answers are the stored claim
        with factory() as session:
            assert session.scalar(select(func.count(Claim.id))) == rounds
            # Accumulators moved exactly once per stored claim.
            paid = {
                a.member_id: a.paid
                for a in session.scalars(select(StoredAccumulator).where(StoredAccumulator.layer_id == "shi"))
            }
            stored_paid = session.execute(
                select(Claim.person_id, func.sum(ClaimPayment.amount))
                .join(ClaimPayment, ClaimPayment.claim_pk == Claim.id)
                .where(ClaimPayment.item_id == "shi")
                .group_by(Claim.person_id)
            ).all()
            assert {str(person): int(total) for person, total in stored_paid} == paid
    finally:
        engine.dispose()


def _assert_like_the_engine(
    factory, claims: list[ClaimIn], members: list[int], categories: dict[int, frozenset[str]]
) -> None:
    """Stored claims, payments and accumulators equal the batch engine's and the sequential engine's answers."""
    policy = load_policy(POLICIES / "vn-shi-2024.toml")
    engine_claims = [
        model.Claim(
            claim_id=c.claim_id,
            member_id=str(c.person_id),
            service_date=DAY,
            provider_id="PA",
            provider_level="district",
            designated=True,
            in_area=True,
            referred=False,
            care_type="inpatient",
            diagnosis="K35.8",
            days=4,
            total=TOTAL,
            eligible=TOTAL,
            categories=categories[c.person_id],
        )
        for c in claims
    ]
    batch = settle_records(policy, engine_claims)
    member_of = {c.claim_id: c.person_id for c in claims}
    layer_ids = [layer.id for layer in policy.layers]

    with factory() as session:
        assert session.scalar(select(func.count(Claim.id))) == len(claims)
        stored = {}
        for row in session.scalars(select(Claim)):
            paid = {
                p.item_id: p.amount
                for p in session.scalars(
                    select(ClaimPayment).where(ClaimPayment.claim_pk == row.id, ClaimPayment.kind == "layer")
                )
            }
            stored[row.claim_id] = (row.person_id, tuple(paid[layer] for layer in layer_ids), row.member_oop)
        accumulators = {
            (a.member_id, a.layer_id): (a.position, a.paid, a.member_share)
            for a in session.scalars(select(StoredAccumulator))
        }

    # Per member, the multiset of (payments per layer, member share) equals the batch engine's.
    for member in members:
        ours = Counter((paid, oop) for person, paid, oop in stored.values() if person == member)
        theirs = Counter(
            (tuple(record[f"paid_{layer}"] for layer in layer_ids), record["member_oop"])
            for record in batch
            if member_of[record["claim_id"]] == member
        )
        assert ours == theirs
    # The accumulators equal those of the engine settling the same claims one by one.
    reference = InMemoryAccumulatorStore()
    sequential = RealtimeEngine(policy, reference)
    for claim in sorted(engine_claims, key=settlement_order):
        sequential.settle(claim)
    year = policy.benefit_year(DAY)
    for (member_id, layer_id), values in accumulators.items():
        expected = reference.get(member_id, layer_id, year)
        assert values == (expected.position, expected.paid, expected.member_share)
    # The yearly co-payment cap binds for the five-year member and is never overrun.
    capped = accumulators[(str(members[1]), "copay_cap")]
    assert capped[2] == 14_040_000


@pytest.mark.postgres
def test_two_claim_batchers_settle_concurrent_claims_like_the_engine(pg_url: str) -> None:
    """Two service processes' batchers (one each) fed by many threads at once: batches of several
    claims of the same members, racing each other on the member locks, each claim sent twice."""
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    batchers = [ClaimBatcher(factory, max_batch=8), ClaimBatcher(factory, max_batch=8)]
    try:
        claims, members, categories = _seed_two_members_claims(factory, "B")
        work = claims + claims
        barrier = threading.Barrier(THREADS)
        futures = []
        lock = threading.Lock()

        def feed(offset: int) -> None:
            barrier.wait()
            for index, claim in enumerate(work[offset::THREADS]):
                future = batchers[(offset + index) % 2].submit(ClaimSubmission(claim, "load"))
                with lock:
                    futures.append((claim.claim_id, future))

        _run_at_once(feed, [(offset,) for offset in range(THREADS)])
        created = Counter()
        for claim_id, future in futures:
            result = future.result(timeout=120)
            assert not isinstance(result, EquicoverError), result
            created[claim_id] += int(result[1])
        assert all(created[claim.claim_id] == 1 for claim in claims)
        assert sum(batcher.claims for batcher in batchers) == len(work)
        assert sum(batcher.batches for batcher in batchers) < len(work)  # some batches held several claims
        _assert_like_the_engine(factory, claims, members, categories)
    finally:
        for batcher in batchers:
            batcher.close()
        engine.dispose()
