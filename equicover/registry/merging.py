"""The registry's part of merging a duplicate person into the surviving record.

:mod:`equicover.person_merge` runs a whole merge and asks each domain to move its own rows; this
module moves the registry's: category holdings and import sources, the national ID and phone the
survivor lacks, the duplicate's ``merged_into_id`` and the status of the pair that was merged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from equicover.errors import NotFound, ValidationFailed
from equicover.registry.models import Person, PersonCategory
from equicover.registry.quality_models import DuplicatePair, PersonSource


def lock_live_persons(*, session: Session, person_ids: tuple[int, int]) -> dict[int, Person]:
    """Both persons, locked in id order (so two merges of the same people cannot deadlock);
    NotFound or ValidationFailed if either does not exist or was merged already."""
    locked = {}
    for person_id in sorted(person_ids):
        person = session.scalars(select(Person).where(Person.id == person_id).with_for_update()).first()
        if person is None:
            raise NotFound(f"person {person_id}", "person_id", "unknown person")
        if person.merged_into_id is not None:
            raise ValidationFailed(
                f"person {person_id}", "person_id", f"already merged into person {person.merged_into_id}"
            )
        locked[person_id] = person
    return locked


def move_categories(*, session: Session, from_person_id: int, to_person_id: int) -> list[int]:
    """Give the duplicate's category holdings to the survivor; the ids moved."""
    moved = list(
        session.scalars(
            select(PersonCategory.id).where(PersonCategory.person_id == from_person_id).order_by(PersonCategory.id)
        )
    )
    if moved:
        session.execute(update(PersonCategory).where(PersonCategory.id.in_(moved)).values(person_id=to_person_id))
    return moved


def absorb_person(*, session: Session, survivor: Person, merged: Person, actor: str) -> dict[str, Any]:
    """Mark ``merged`` as merged into ``survivor``: its import sources move, the survivor takes the
    national ID and phone it lacks, and the pair's review is closed. Returns what the survivor took."""
    session.execute(update(PersonSource).where(PersonSource.person_id == merged.id).values(person_id=survivor.id))
    taken: dict[str, Any] = {}
    if survivor.national_id is None and merged.national_id is not None:
        # The unique (id_type, national_id) holds at every flush: free the ID first.
        taken = {"national_id": merged.national_id, "id_type": merged.id_type}
        merged.national_id = merged.id_type = None
        session.flush()
        survivor.national_id, survivor.id_type = taken["national_id"], taken["id_type"]
    if survivor.phone is None and merged.phone is not None:
        taken["phone"] = survivor.phone = merged.phone
    merged.merged_into_id = survivor.id
    session.flush()
    low, high = min(survivor.id, merged.id), max(survivor.id, merged.id)
    session.execute(
        update(DuplicatePair)
        .where(
            (DuplicatePair.person_id_l == low) & (DuplicatePair.person_id_r == high),
            DuplicatePair.status.in_(("pending", "auto", "confirmed")),
        )
        .values(status="merged", decided_by=actor, decided_at=dt.datetime.now(dt.UTC))
    )
    return taken


def live_persons(*, session: Session, person_ids: list[int]) -> list[Person]:
    """The persons among ``person_ids`` that were not merged away."""
    return list(session.scalars(select(Person).where(Person.id.in_(person_ids), Person.merged_into_id.is_(None))))


def choose_survivor(people: list[Person]) -> Person:
    """The record to keep in a cluster: one with a national ID, then the earliest registered,
    then the smallest id."""
    return min(people, key=lambda person: (person.national_id is None, person.registered_on, person.id))
