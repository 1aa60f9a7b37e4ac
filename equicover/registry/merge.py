"""Merging a duplicate person into the surviving record.

What hangs off the duplicate moves to the survivor: enrolments (and with them their
contributions, which hang off the enrolment), category holdings, stored claims, the claims
accumulators of the member (amounts added up per policy, layer and year), and the source rows of
imports. The survivor takes the duplicate's national ID and phone when it has none. The
duplicate's row stays, marked with ``merged_into_id``; every move is written to the change log
with the ids moved, so a merge can be audited and, by hand, undone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from equicover.care.service import move_care_records
from equicover.claims.models import Claim, StoredAccumulator
from equicover.enrolment.models import Contribution, Enrolment
from equicover.errors import NotFound, ValidationFailed
from equicover.registry.models import Person, PersonCategory
from equicover.registry.quality_models import DuplicatePair, PersonSource
from equicover.registry.service import SYSTEM_ACTOR, record_change


@dataclass
class MergeResult:
    survivor_id: int
    merged_id: int
    enrolments: list[int] = field(default_factory=list)
    contributions: int = 0
    categories: list[int] = field(default_factory=list)
    claims: list[int] = field(default_factory=list)
    accumulators: int = 0
    care_records: int = 0  # chronic conditions, family-doctor contracts, health checks


def _live_person(session: Session, person_id: int, role: str) -> Person:
    person = session.scalars(select(Person).where(Person.id == person_id).with_for_update()).first()
    if person is None:
        raise NotFound(f"person {person_id}", role, "unknown person")
    if person.merged_into_id is not None:
        raise ValidationFailed(f"person {person_id}", role, f"already merged into person {person.merged_into_id}")
    return person


def merge_persons(*, session: Session, survivor_id: int, merged_id: int, actor: str = SYSTEM_ACTOR) -> MergeResult:
    """Merge person ``merged_id`` into ``survivor_id`` (see the module doc)."""
    if survivor_id == merged_id:
        raise ValidationFailed(f"person {merged_id}", "survivor_id", "a person cannot be merged into itself")
    # Lock in id order so two merges touching the same people cannot deadlock.
    first, second = sorted((survivor_id, merged_id))
    locked = {first: _live_person(session, first, "person_id"), second: _live_person(session, second, "person_id")}
    survivor, merged = locked[survivor_id], locked[merged_id]
    result = MergeResult(survivor_id=survivor_id, merged_id=merged_id)

    result.enrolments = list(session.scalars(select(Enrolment.id).where(Enrolment.person_id == merged_id).order_by(Enrolment.id)))
    if result.enrolments:
        session.execute(update(Enrolment).where(Enrolment.id.in_(result.enrolments)).values(person_id=survivor_id))
        result.contributions = len(
            session.scalars(select(Contribution.id).where(Contribution.enrolment_id.in_(result.enrolments))).all()
        )
    result.categories = list(
        session.scalars(select(PersonCategory.id).where(PersonCategory.person_id == merged_id).order_by(PersonCategory.id))
    )
    if result.categories:
        session.execute(update(PersonCategory).where(PersonCategory.id.in_(result.categories)).values(person_id=survivor_id))
    result.claims = list(session.scalars(select(Claim.id).where(Claim.person_id == merged_id).order_by(Claim.id)))
    if result.claims:
        session.execute(update(Claim).where(Claim.id.in_(result.claims)).values(person_id=survivor_id))
    result.accumulators = _merge_accumulators(session, str(survivor_id), str(merged_id))
    result.care_records = move_care_records(session=session, from_person_id=merged_id, to_person_id=survivor_id)
    session.execute(update(PersonSource).where(PersonSource.person_id == merged_id).values(person_id=survivor_id))

    before = {"national_id": survivor.national_id, "id_type": survivor.id_type, "phone": survivor.phone}
    taken: dict[str, object] = {}
    if survivor.national_id is None and merged.national_id is not None:
        # The unique (id_type, national_id) holds at every flush: free the ID first.
        taken = {"national_id": merged.national_id, "id_type": merged.id_type}
        merged.national_id = merged.id_type = None
        session.flush()
        survivor.national_id, survivor.id_type = taken["national_id"], taken["id_type"]  # type: ignore[assignment]
    if survivor.phone is None and merged.phone is not None:
        taken["phone"] = survivor.phone = merged.phone
    merged.merged_into_id = survivor_id
    session.flush()
    session.execute(
        update(DuplicatePair)
        .where(
            ((DuplicatePair.person_id_l == min(survivor_id, merged_id)) & (DuplicatePair.person_id_r == max(survivor_id, merged_id))),
            DuplicatePair.status.in_(("pending", "auto", "confirmed")),
        )
        .values(status="merged", decided_by=actor, decided_at=dt.datetime.now(dt.timezone.utc))
    )
    moved = {
        "enrolment_ids": result.enrolments,
        "category_ids": result.categories,
        "claim_ids": result.claims,
        "accumulator_rows": result.accumulators,
    }
    record_change(
        session=session, actor=actor, entity="persons", entity_id=merged_id, action="merge",
        before={"merged_into_id": None, **({"id_type": taken.get("id_type"), "national_id_moved": True} if "national_id" in taken else {})},
        after={"merged_into_id": survivor_id, **moved},
    )  # fmt: skip
    record_change(
        session=session, actor=actor, entity="persons", entity_id=survivor_id, action="absorb",
        before={name: before[name] for name in taken if name in before} or None,
        after={"absorbed_person_id": merged_id, **{name: taken[name] for name in taken if name in ("id_type", "phone")},
               **({"national_id": taken["national_id"]} if "national_id" in taken else {}), **moved},
    )  # fmt: skip
    return result


def _merge_accumulators(session: Session, survivor: str, merged: str) -> int:
    """Add the duplicate's accumulated amounts into the survivor's (same policy, layer, year),
    so that ceilings and deductibles count what both records used."""
    rows = list(session.scalars(select(StoredAccumulator).where(StoredAccumulator.member_id == merged)))
    for row in rows:
        target = session.get(StoredAccumulator, (row.policy_id, survivor, row.layer_id, row.benefit_year))
        if target is None:
            session.add(
                StoredAccumulator(
                    policy_id=row.policy_id, member_id=survivor, layer_id=row.layer_id, benefit_year=row.benefit_year,
                    position=row.position, paid=row.paid, member_share=row.member_share,
                )  # fmt: skip
            )
        else:
            target.position += row.position
            target.paid += row.paid
            target.member_share += row.member_share
        # The duplicate's own rows are zeroed, not deleted: its history stays readable.
        row.position = row.paid = row.member_share = 0
    session.flush()
    return len(rows)


def choose_survivor(people: list[Person]) -> Person:
    """The record to keep in a cluster: one with a national ID, then the earliest registered,
    then the smallest id."""
    return min(people, key=lambda person: (person.national_id is None, person.registered_on, person.id))


def merge_clusters(*, session: Session, pairs: list[DuplicatePair], actor: str = SYSTEM_ACTOR) -> list[MergeResult]:
    """Merge each connected group of ``pairs`` into its survivor (see :func:`choose_survivor`)."""
    parent: dict[int, int] = {}

    def find(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pair in pairs:
        left, right = find(pair.person_id_l), find(pair.person_id_r)
        if left != right:
            parent[max(left, right)] = min(left, right)
    groups: dict[int, list[int]] = {}
    for node in list(parent):
        groups.setdefault(find(node), []).append(node)
    results = []
    for members in groups.values():
        people = list(session.scalars(select(Person).where(Person.id.in_(members), Person.merged_into_id.is_(None))))
        if len(people) < 2:
            continue
        survivor = choose_survivor(people)
        for person in sorted(people, key=lambda item: item.id):
            if person.id != survivor.id:
                results.append(merge_persons(session=session, survivor_id=survivor.id, merged_id=person.id, actor=actor))
    return results
