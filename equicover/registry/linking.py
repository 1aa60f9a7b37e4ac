"""Linking registry persons to a national ID register file (VNeID-like CSV).

A person whose national ID is in the register is linked exactly, unless the register's birth
date or sex disagrees with the person's (then it is a *conflict*, for a registrar to look at).
A person without a usable ID is linked probabilistically with the registry's trained Splink
model, run as ``link_only`` between the registry and the register: the best register row above
the threshold wins, unless another row comes close (ambiguous) or the register row is already
taken (both are conflicts). Everything else is *unlinked*. The report lists every person and
register row by id and line number only, never by name or ID.

The register file is CSV with a header; default columns ``national_id``, ``full_name``,
``birth_date`` (ISO), ``sex`` and optionally ``location_code``; other names via ``columns``.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.errors import ValidationFailed
from equicover.exports import safe_csv_writer
from equicover.registry.dedupe import find_duplicates, latest_model, prepare_frame, refresh_name_forms, registry_frame
from equicover.registry.models import SEXES, Location, Person
from equicover.registry.normalise import ascii_digits
from equicover.registry.quality_models import PersonIdLink

REGISTER_FIELDS = ("national_id", "full_name", "birth_date", "sex", "location_code")
# Ids of register rows in the Splink frame are offset so they never collide with person ids.
_REGISTER_ID_OFFSET = 10**12
DEFAULT_LINK_THRESHOLD = 0.9
# A second candidate within this much of the best makes a probabilistic link ambiguous.
AMBIGUITY_MARGIN = 0.05


@dataclass(frozen=True)
class RegisterRow:
    line: int
    national_id: str
    full_name: str
    birth_date: dt.date | None
    sex: str | None
    location_code: str | None


@dataclass
class LinkOutcome:
    person_id: int | None
    register_line: int | None
    status: str  # linked_exact, linked_probabilistic, already_linked, unlinked, conflict, register_row_unusable
    reason: str = ""
    probability: float | None = None


@dataclass
class LinkSummary:
    outcomes: list[LinkOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)


def read_register(path: Path, columns: dict[str, str] | None = None) -> tuple[list[RegisterRow], list[LinkOutcome]]:
    """Register rows, and an outcome for each unusable row (no ID, bad date)."""
    names = {name: name for name in REGISTER_FIELDS} | (columns or {})
    if not path.exists():
        raise ValidationFailed(f"file {path.name}", "file", "not found")
    rows: list[RegisterRow] = []
    bad: list[LinkOutcome] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = set(reader.fieldnames or [])
        missing = [names[name] for name in ("national_id", "full_name", "birth_date") if names[name] not in header]
        if missing:
            raise ValidationFailed(f"file {path.name}", "header", f"missing column(s) {missing}")
        seen: dict[str, int] = {}
        for raw in reader:
            line = reader.line_num
            national_id = "".join(ascii_digits(raw.get(names["national_id"]) or "").split())
            if not national_id:
                bad.append(LinkOutcome(None, line, "register_row_unusable", "national_id: missing"))
                continue
            if national_id in seen:
                bad.append(
                    LinkOutcome(None, line, "register_row_unusable", f"national_id: repeats line {seen[national_id]}")
                )
                continue
            seen[national_id] = line
            try:
                birth = (
                    dt.date.fromisoformat((raw.get(names["birth_date"]) or "").strip())
                    if raw.get(names["birth_date"])
                    else None
                )
            except ValueError:
                bad.append(LinkOutcome(None, line, "register_row_unusable", "birth_date: not an ISO date"))
                continue
            sex = (raw.get(names["sex"]) or "").strip().casefold() or None
            rows.append(
                RegisterRow(
                    line=line,
                    national_id=national_id,
                    full_name=(raw.get(names["full_name"]) or "").strip(),
                    birth_date=birth,
                    sex=sex if sex in SEXES else None,
                    location_code=(raw.get(names["location_code"]) or "").strip() or None,
                )
            )
    return rows, bad


def link_ids(
    *,
    session: Session,
    rows: list[RegisterRow],
    register: str = "vneid",
    id_type: str = "vneid",
    threshold: float = DEFAULT_LINK_THRESHOLD,
    actor: str = SYSTEM_ACTOR,
    progress: Callable[[str], None] | None = None,
) -> LinkSummary:
    """Link live persons to ``rows`` of the register (see the module doc); writes ``person_id_links``."""
    summary = LinkSummary()
    already = set(session.scalars(select(PersonIdLink.person_id).where(PersonIdLink.register == register)))
    taken = dict(
        session.execute(
            select(PersonIdLink.register_id, PersonIdLink.person_id).where(PersonIdLink.register == register)
        ).all()
    )
    by_id = {row.national_id: row for row in rows}
    now = dt.datetime.now(dt.UTC)
    links: list[PersonIdLink] = []

    def link(person_id: int, row: RegisterRow, method: str, probability: float) -> None:
        links.append(
            PersonIdLink(
                person_id=person_id,
                register=register,
                register_id=row.national_id,
                method=method,
                match_probability=probability,
                linked_at=now,
                actor=actor,
            )  # fmt: skip
        )
        taken[row.national_id] = person_id

    people = session.execute(
        select(Person.id, Person.national_id, Person.id_type, Person.birth_date, Person.sex).where(
            Person.merged_into_id.is_(None)
        )
    ).all()
    unresolved: list[int] = []
    for person_id, national_id, person_id_type, birth_date, sex in people:
        if person_id in already:
            summary.outcomes.append(LinkOutcome(person_id, None, "already_linked"))
            continue
        row = by_id.get(national_id) if national_id is not None and person_id_type == id_type else None
        if row is None:
            unresolved.append(person_id)
            continue
        if row.national_id in taken:
            summary.outcomes.append(
                LinkOutcome(
                    person_id, row.line, "conflict", f"register row already linked to person {taken[row.national_id]}"
                )
            )
        elif row.birth_date is not None and row.birth_date != birth_date:
            summary.outcomes.append(
                LinkOutcome(person_id, row.line, "conflict", "same national ID, different birth_date")
            )
        elif row.sex is not None and sex != "unknown" and row.sex != sex:
            summary.outcomes.append(LinkOutcome(person_id, row.line, "conflict", "same national ID, different sex"))
        else:
            link(person_id, row, "exact", 1.0)
            summary.outcomes.append(LinkOutcome(person_id, row.line, "linked_exact", probability=1.0))

    free_rows = [row for row in rows if row.national_id not in taken]
    if unresolved and free_rows:
        for outcome in _probabilistic(session, unresolved, free_rows, threshold, progress):
            if outcome.status == "linked_probabilistic":
                row = next(r for r in free_rows if r.line == outcome.register_line)
                if row.national_id in taken:
                    reason = f"register row already linked to person {taken[row.national_id]}"
                    outcome = LinkOutcome(outcome.person_id, row.line, "conflict", reason, outcome.probability)
                elif outcome.person_id is not None:  # always: a probabilistic link names its person
                    link(outcome.person_id, row, "probabilistic", float(outcome.probability or 0))
            summary.outcomes.append(outcome)
    else:
        summary.outcomes.extend(LinkOutcome(person_id, None, "unlinked", "no register row") for person_id in unresolved)

    session.add_all(links)
    session.flush()
    record_change(
        session=session, actor=actor, entity="person_id_links", entity_id=None, action="bulk_load",
        after={"register": register, "exact": summary.count("linked_exact"),
               "probabilistic": summary.count("linked_probabilistic"), "conflict": summary.count("conflict"),
               "unlinked": summary.count("unlinked")},
    )  # fmt: skip
    return summary


def _probabilistic(
    session: Session,
    person_ids: list[int],
    rows: list[RegisterRow],
    threshold: float,
    progress: Callable[[str], None] | None,
) -> list[LinkOutcome]:
    refresh_name_forms(session=session)
    people = registry_frame(session=session)
    wanted = set(person_ids)
    people = people[people["unique_id"].isin(wanted)]
    locations = dict(session.execute(select(Location.code, Location.id)).all())
    register = prepare_frame(
        ids=[_REGISTER_ID_OFFSET + row.line for row in rows],
        full_names=[row.full_name for row in rows],
        birth_dates=[row.birth_date.isoformat() if row.birth_date else None for row in rows],
        sexes=[row.sex or "unknown" for row in rows],
        household_ids=[None] * len(rows),
        areas=[locations.get(row.location_code) if row.location_code else None for row in rows],
        national_ids=[row.national_id for row in rows],
    )
    # The person's own (unmatched) ID is kept: a typo in it is evidence for the right row.
    combined = pd.concat([people, register], ignore_index=True)
    model = latest_model(session=session)
    # Scored as one deduplication: pairs of two persons or two register rows are ignored.
    result = find_duplicates(
        combined, threshold=min(threshold, 0.5), cluster_threshold=1.0, model=model, progress=progress
    )
    pairs = result.pairs
    cross = pairs[(pairs["unique_id_l"] < _REGISTER_ID_OFFSET) & (pairs["unique_id_r"] >= _REGISTER_ID_OFFSET)]
    outcomes: list[LinkOutcome] = []
    best: dict[int, list[tuple[float, int]]] = {}
    for person_id, register_id, probability in zip(
        cross["unique_id_l"], cross["unique_id_r"], cross["match_probability"]
    ):
        best.setdefault(int(person_id), []).append((float(probability), int(register_id) - _REGISTER_ID_OFFSET))
    # Each register row goes to at most one person: the most probable claimant.
    claimants: dict[int, list[tuple[float, int]]] = {}
    for person_id, candidates in best.items():
        candidates.sort(reverse=True)
        top_probability, top_line = candidates[0]
        if top_probability >= threshold:
            claimants.setdefault(top_line, []).append((top_probability, person_id))
    for person_id in sorted(person_ids):
        candidates = best.get(person_id, [])
        if not candidates or candidates[0][0] < threshold:
            outcomes.append(LinkOutcome(person_id, None, "unlinked", "no register row above the threshold",
                                        candidates[0][0] if candidates else None))  # fmt: skip
            continue
        top_probability, top_line = candidates[0]
        if len(candidates) > 1 and candidates[1][0] >= top_probability - AMBIGUITY_MARGIN:
            outcomes.append(
                LinkOutcome(
                    person_id, top_line, "conflict", f"ambiguous: also line {candidates[1][1]}", top_probability
                )
            )
            continue
        rivals = sorted(claimants[top_line], reverse=True)
        if len(rivals) > 1 and rivals[0][1] != person_id:
            outcomes.append(
                LinkOutcome(
                    person_id,
                    top_line,
                    "conflict",
                    f"register row claimed by person {rivals[0][1]} too",
                    top_probability,
                )
            )
            continue
        if len(rivals) > 1 and rivals[1][0] >= top_probability - AMBIGUITY_MARGIN:
            outcomes.append(
                LinkOutcome(
                    person_id,
                    top_line,
                    "conflict",
                    f"register row claimed by person {rivals[1][1]} too",
                    top_probability,
                )
            )
            continue
        outcomes.append(LinkOutcome(person_id, top_line, "linked_probabilistic", probability=top_probability))
    return outcomes


def write_link_report(path: Path, summary: LinkSummary) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = safe_csv_writer(handle)
        writer.writerow(("person_id", "register_line", "status", "reason", "match_probability"))
        for outcome in summary.outcomes:
            if outcome.status == "already_linked":
                continue
            writer.writerow(
                (
                    outcome.person_id or "",
                    outcome.register_line or "",
                    outcome.status,
                    outcome.reason,
                    "" if outcome.probability is None else f"{outcome.probability:.4f}",
                )  # fmt: skip
            )


__all__ = ["LinkOutcome", "LinkSummary", "RegisterRow", "link_ids", "read_register", "write_link_report"]
