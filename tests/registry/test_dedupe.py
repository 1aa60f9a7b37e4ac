"""Deduplication: Splink finds the injected duplicates of a small synthetic registry; the review
queue remembers decisions; merging moves enrolments, contributions, categories and claims."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from equicover.audit.service import history
from equicover.care.models import ChronicCondition, FamilyDoctorContract
from equicover.claims.deltas import ClaimAccumulatorDelta
from equicover.claims.models import Claim, StoredAccumulator
from equicover.claims.service import reverse_claim
from equicover.enrolment.models import Enrolment
from equicover.enrolment.service import coverage
from equicover.errors import ValidationFailed
from equicover.person_merge.service import merge_clusters, merge_persons
from equicover.registry.dedupe import (
    accepted_pairs,
    count_pending,
    decide_pair,
    find_duplicates,
    review_queue,
    run_dedupe,
)
from equicover.registry.models import Person, PersonCategory
from equicover.registry.quality_models import DuplicatePair
from equicover.registry.service import bulk_insert_households, bulk_insert_persons
from equicover.synth.dedupe_pairs import as_splink_frame, pair_scores, synthetic_registry
from tests import factories as make

DAY = dt.date(2024, 3, 1)


@pytest.fixture(scope="module")
def registry():
    return synthetic_registry(1_500, seed=11, pool_size=300)


def test_splink_finds_the_injected_duplicates(registry) -> None:
    # Trained here on the fixture itself (unsupervised), not the packaged default model.
    result = find_duplicates(as_splink_frame(registry), threshold=0.5, cluster_threshold=0.99, train_model=True)
    found = {(int(left), int(right)) for left, right in zip(result.pairs["unique_id_l"], result.pairs["unique_id_r"])}
    precision, recall, f1 = pair_scores(found, registry.true_pairs)
    assert len(registry.true_pairs) == 75
    assert precision >= 0.9 and recall >= 0.85 and f1 >= 0.9, (precision, recall, f1)
    assert result.pairs["match_probability"].between(0.5, 1).all()
    # A cluster is named after its smallest member and only pairs above 0.99 belong to one.
    clustered = result.pairs[result.pairs["cluster_id"].notna()]
    assert (clustered["cluster_id"] <= clustered["unique_id_l"]).all()
    assert (clustered["match_probability"] >= 0.99).all()
    assert result.model["link_type"] == "dedupe_only"


def _load(session, geo, registry, limit: int | None = None) -> dict[int, int]:
    """The synthetic people into the database (ids kept +100000); returns synthetic id -> person id."""
    people = registry.people if limit is None else registry.people.iloc[:limit]
    households = sorted(set(people["household_id"].tolist()))
    offset = 100_000
    bulk_insert_households(
        session=session,
        rows={
            "id": [offset + h for h in households],
            "code": [f"SH{h}" for h in households],
            "location_id": [geo["C11"].id] * len(households),
            "registered_on": [dt.date(2020, 1, 1)] * len(households),
        },
    )
    # The registry holds a national ID once: a duplicate that repeats it is loaded without it.
    seen: set[str] = set()
    national = []
    for value in people["national_id"].tolist():
        national.append(value if isinstance(value, str) and value not in seen else None)
        seen.add(value)
    bulk_insert_persons(
        session=session,
        rows={
            "id": [offset + i for i in people["id"].tolist()],
            "household_id": [offset + h for h in people["household_id"].tolist()],
            "full_name": people["full_name"].tolist(),
            "sex": people["sex"].tolist(),
            "birth_date": [str(value)[:10] for value in people["birth_date"].to_numpy()],
            "location_id": [geo["C11"].id if a % 2 else geo["C12"].id for a in people["area"].tolist()],
            "national_id": [n if isinstance(n, str) else None for n in national],
            "id_type": ["vneid" if isinstance(n, str) else None for n in national],
        },
    )
    return {i: offset + i for i in people["id"].tolist()}


def test_run_review_and_merge_remember_decisions(session, geo, registry) -> None:
    ids = _load(session, geo, registry)
    first = run_dedupe(session=session, review_threshold=0.3, auto_threshold=0.99)
    assert first.persons == 1_500 and first.pairs_found == first.pairs_queued + first.pairs_auto
    true_pairs = {(ids[left], ids[right]) for left, right in registry.true_pairs}
    stored = {(p.person_id_l, p.person_id_r) for p in session.scalars(select(DuplicatePair))}
    assert len(stored & true_pairs) >= 0.85 * len(true_pairs)

    queue = review_queue(session=session, limit=1_000)
    assert queue and all(p.status == "pending" for p in queue)
    assert [p.match_probability for p in queue] == sorted((p.match_probability for p in queue), reverse=True)
    confirmed, rejected = queue[0], queue[-1]
    decide_pair(session=session, pair_id=confirmed.id, decision="confirmed", actor="registrar1")
    decide_pair(session=session, pair_id=rejected.id, decision="rejected", actor="registrar1")
    auto = session.scalars(select(DuplicatePair).where(DuplicatePair.status == "auto")).first()
    decide_pair(session=session, pair_id=auto.id, decision="rejected", actor="registrar1")
    pending_before = count_pending(session=session)

    second = run_dedupe(session=session, review_threshold=0.3, auto_threshold=0.99)
    assert second.pairs_already_decided == 3
    statuses = {p.id: p.status for p in session.scalars(select(DuplicatePair))}
    assert (statuses[confirmed.id], statuses[rejected.id], statuses[auto.id]) == ("confirmed", "rejected", "rejected")
    assert {p.id for p in review_queue(session=session, limit=10_000)}.isdisjoint({confirmed.id, rejected.id, auto.id})
    assert count_pending(session=session) == pending_before
    # No duplicate rows for a pair, however many runs.
    assert session.scalar(select(func.count()).select_from(DuplicatePair)) == len(statuses)

    to_merge = accepted_pairs(session=session)
    assert confirmed.id in {p.id for p in to_merge} and auto.id not in {p.id for p in to_merge}
    results = merge_clusters(session=session, pairs=to_merge, actor="registrar1")
    assert results
    merged_ids = {r.merged_id for r in results}
    for result in results:
        merged = session.get(Person, result.merged_id)
        assert merged.merged_into_id == result.survivor_id
        assert session.get(Person, result.survivor_id).merged_into_id is None
    # Merged persons leave the queue and the next run's input.
    assert not {p.person_id_l for p in review_queue(session=session, limit=10_000)} & merged_ids
    third = run_dedupe(session=session, review_threshold=0.3, auto_threshold=0.99)
    assert third.persons == 1_500 - len(merged_ids)
    with pytest.raises(ValidationFailed):
        decide_pair(session=session, pair_id=confirmed.id, decision="maybe")


def test_merge_moves_enrolments_contributions_categories_and_claims(session, geo) -> None:
    from equicover.care.service import note_condition, sign_family_doctor

    survivor = make.person(session, household_code="M1", full_name="Nguyễn Thị Lan", birth_date=dt.date(1980, 1, 2))
    duplicate = make.person(
        session,
        household_code="M2",
        full_name="Nguyen Thi Lan",
        birth_date=dt.date(1980, 1, 2),
        national_id="001180000009",
        id_type="vneid",
        phone="0900000001",
        categories=["near_poor"],
        categories_from=dt.date(2024, 1, 1),
    )
    scheme = make.scheme(session, code="SHI", name="Social health insurance", currency="VND")
    period = make.period(session, scheme_id=scheme.id, starts=dt.date(2024, 1, 1), ends=dt.date(2024, 12, 31))
    enrolment = make.enrolment(
        session,
        person_id=duplicate.id,
        scheme_id=scheme.id,
        period_id=period.id,
        starts=period.starts,
        ends=period.ends,
    )
    make.contribution(
        session,
        person_id=duplicate.id,
        scheme_id=scheme.id,
        amount_minor=1_000,
        status="due",
        period_starts=period.starts,
        period_ends=period.ends,
    )
    provider = make.provider(session, code="P1", name="Commune health station", level="commune", location_code="C11")
    # A claim stored as the bulk loader stores one (no policy version is needed for the merge).
    claim = Claim(
        claim_id="C-1", person_id=duplicate.id, provider_id=provider.id, service_date=DAY, provider_level="commune",
        designated=True, in_area=True, referred=False, care_type="outpatient", diagnosis="J06", days=0,
        total=100_000, eligible=100_000, categories="", status="settled", allowed=100_000, provider_writeoff=0,
        member_oop=20_000, trail="", submitted_at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC), submitted_by="clerk",
    )  # fmt: skip
    session.add(claim)
    # Care ledger: the same condition noted the same day on both records, another only on the duplicate.
    for person, diagnosis in ((survivor.id, "E11"), (duplicate.id, "E11"), (duplicate.id, "I10")):
        note_condition(session=session, person_id=person, diagnosis=diagnosis, noted_on=DAY)
    sign_family_doctor(
        session=session, person_id=duplicate.id, provider_code="P1", starts=DAY, ends=dt.date(2024, 12, 31)
    )
    # What earlier claims of each record used of a yearly ceiling.
    for member, position in ((survivor.id, 50_000), (duplicate.id, 80_000)):
        session.add(
            StoredAccumulator(
                policy_id="vn-shi", member_id=str(member), layer_id="ceiling", benefit_year=2024,
                position=position, paid=position, member_share=0,
            )
        )  # fmt: skip
    # What the duplicate's claim added to its ceiling, for a reversal to take back out.
    session.add(
        ClaimAccumulatorDelta(
            claim_pk=claim.id, policy_id="vn-shi", member_id=str(duplicate.id), layer_id="ceiling",
            benefit_year=2024, position=30_000, paid=30_000, member_share=0,
        )
    )  # fmt: skip
    session.flush()

    def covered_in_d1() -> tuple[int, int]:
        row = next(r for r in coverage(session=session, on=DAY, by="district") if r.group_code == "D1")
        return row.eligible, row.enrolled

    assert covered_in_d1() == (2, 1)  # before: two records, the duplicate enrolled

    result = merge_persons(session=session, survivor_id=survivor.id, merged_id=duplicate.id, actor="registrar1")

    # After: one person, enrolled; the merged record is neither eligible nor a coverage gap.
    assert covered_in_d1() == (1, 1)

    assert session.scalar(select(Enrolment.person_id).where(Enrolment.id == enrolment.id)) == survivor.id
    assert result.enrolments == [enrolment.id] and result.contributions == 1
    near_poor = select(PersonCategory.person_id).where(
        PersonCategory.category == "near_poor", PersonCategory.person_id.in_([survivor.id, duplicate.id])
    )
    assert session.scalar(near_poor) == survivor.id
    assert session.scalar(select(Claim.person_id).where(Claim.claim_id == "C-1")) == survivor.id
    conditions = set(session.execute(select(ChronicCondition.person_id, ChronicCondition.diagnosis)))
    assert conditions == {(survivor.id, "E11"), (survivor.id, "I10"), (duplicate.id, "E11")}
    assert session.scalar(select(FamilyDoctorContract.person_id)) == survivor.id
    assert result.care_records == 2
    assert session.get(StoredAccumulator, ("vn-shi", str(survivor.id), "ceiling", 2024)).position == 130_000
    assert session.get(StoredAccumulator, ("vn-shi", str(duplicate.id), "ceiling", 2024)).position == 0
    session.refresh(survivor)
    session.refresh(duplicate)
    # The duplicate is marked, not deleted; the survivor takes its national ID and phone.
    assert duplicate.merged_into_id == survivor.id and duplicate.national_id is None
    assert (survivor.national_id, survivor.id_type, survivor.phone) == ("001180000009", "vneid", "0900000001")
    log = history(session=session, entity="persons", entity_id=duplicate.id)
    assert (
        log[-1].action == "merge"
        and log[-1].after["enrolment_ids"] == [enrolment.id]
        and log[-1].after["claim_ids"] == [claim.id]
    )
    assert history(session=session, entity="persons", entity_id=survivor.id)[-1].action == "absorb"

    # Reversing the moved claim takes what it used out of the survivor's ceiling, where it now counts.
    reverse_claim(session=session, claim_id="C-1", provider_id=provider.id, reason="billed twice", actor="clerk1")
    assert session.get(StoredAccumulator, ("vn-shi", str(survivor.id), "ceiling", 2024)).position == 100_000
    assert session.get(StoredAccumulator, ("vn-shi", str(duplicate.id), "ceiling", 2024)).position == 0

    with pytest.raises(ValidationFailed):
        merge_persons(session=session, survivor_id=survivor.id, merged_id=duplicate.id)
    with pytest.raises(ValidationFailed):
        merge_persons(session=session, survivor_id=survivor.id, merged_id=survivor.id)
