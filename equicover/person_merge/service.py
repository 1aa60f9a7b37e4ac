"""Merging a duplicate person into the surviving record, across every domain.

What hangs off the duplicate moves to the survivor, each domain moving its own rows through its
service: enrolments (and with them their contributions), category holdings, stored claims, the
claims accumulators of the member (amounts added up per policy, layer and year), care records,
referral letters, the grievance cases they brought or that concern them, and the source rows of
imports. The duplicate's live member cards are cancelled and the survivor keeps its card, or is
issued one for a scheme it is enrolled in. The survivor takes the duplicate's national ID and phone when it has
none. The duplicate's row stays, marked with ``merged_into_id``; every move is written to the
change log with the ids moved, so a merge can be audited and, by hand, undone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.cards.service import cards_after_merge
from equicover.care.service import move_care_records
from equicover.claims.service import merge_accumulators, move_claims
from equicover.enrolment.service import move_enrolments
from equicover.errors import ValidationFailed
from equicover.grievances.service import move_cases
from equicover.referrals.service import move_letters
from equicover.registry.merging import absorb_person, choose_survivor, live_persons, lock_live_persons, move_categories
from equicover.registry.quality_models import DuplicatePair


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
    referral_letters: list[int] = field(default_factory=list)
    grievance_cases: list[int] = field(default_factory=list)
    cards_cancelled: list[int] = field(default_factory=list)
    cards_issued: list[int] = field(default_factory=list)


def merge_persons(
    *, session: Session, survivor_id: int, merged_id: int, actor: str = SYSTEM_ACTOR, on: dt.date | None = None
) -> MergeResult:
    """Merge person ``merged_id`` into ``survivor_id`` (see the module doc); ``on`` (default today)
    dates a card issued to the survivor."""
    if survivor_id == merged_id:
        raise ValidationFailed(f"person {merged_id}", "survivor_id", "a person cannot be merged into itself")
    locked = lock_live_persons(session=session, person_ids=(survivor_id, merged_id))
    survivor, merged = locked[survivor_id], locked[merged_id]
    result = MergeResult(survivor_id=survivor_id, merged_id=merged_id)
    result.enrolments, result.contributions = move_enrolments(
        session=session, from_person_id=merged_id, to_person_id=survivor_id
    )
    result.categories = move_categories(session=session, from_person_id=merged_id, to_person_id=survivor_id)
    result.claims = move_claims(session=session, from_person_id=merged_id, to_person_id=survivor_id)
    result.accumulators = merge_accumulators(
        session=session, from_member_id=str(merged_id), to_member_id=str(survivor_id)
    )
    result.care_records = move_care_records(session=session, from_person_id=merged_id, to_person_id=survivor_id)
    result.referral_letters = move_letters(session=session, from_person_id=merged_id, to_person_id=survivor_id)
    result.grievance_cases = move_cases(session=session, from_person_id=merged_id, to_person_id=survivor_id)
    # After the enrolments: a card for the survivor needs its cover.
    cards = cards_after_merge(
        session=session, from_person_id=merged_id, to_person_id=survivor_id, on=on or dt.date.today(), actor=actor
    )
    result.cards_cancelled, result.cards_issued = cards.cancelled, cards.issued

    before = {"national_id": survivor.national_id, "id_type": survivor.id_type, "phone": survivor.phone}
    taken = absorb_person(session=session, survivor=survivor, merged=merged, actor=actor)
    moved = {
        "enrolment_ids": result.enrolments,
        "category_ids": result.categories,
        "claim_ids": result.claims,
        "accumulator_rows": result.accumulators,
        "referral_letter_ids": result.referral_letters,
        "grievance_case_ids": result.grievance_cases,
        "cancelled_card_ids": result.cards_cancelled,
        "issued_card_ids": result.cards_issued,
    }
    id_moved = {"id_type": taken.get("id_type"), "national_id_moved": True} if "national_id" in taken else {}
    record_change(
        session=session, actor=actor, entity="persons", entity_id=merged_id, action="merge",
        before={"merged_into_id": None, **id_moved},
        after={"merged_into_id": survivor_id, **moved},
    )  # fmt: skip
    record_change(
        session=session, actor=actor, entity="persons", entity_id=survivor_id, action="absorb",
        before={name: before[name] for name in taken if name in before} or None,
        after={"absorbed_person_id": merged_id, **{name: taken[name] for name in taken if name in ("id_type", "phone")},
               **({"national_id": taken["national_id"]} if "national_id" in taken else {}), **moved},
    )  # fmt: skip
    return result


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
        people = live_persons(session=session, person_ids=members)
        if len(people) < 2:
            continue
        survivor = choose_survivor(people)
        for person in sorted(people, key=lambda item: item.id):
            if person.id != survivor.id:
                results.append(
                    merge_persons(session=session, survivor_id=survivor.id, merged_id=person.id, actor=actor)
                )
    return results
