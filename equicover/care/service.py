"""The poor patients' care ledger and family doctors: the only door to chronic conditions,
family-doctor contracts and health checks. Keyword-only, never commits.

Treatment status is derived on a date, never stored, so the ledger is "dynamically managed":

- a need is a chronic condition not resolved on the date, or a health check with the outcome
  ``needs_treatment`` (its finding, if coded, is the need's diagnosis);
- a need is **treated** when the condition was resolved on or before the date; **in treatment**
  when the person has a claim for it (same 3-character ICD-10 category; any claim for a need
  without a code) on or after the need was noted and within ``IN_TREATMENT_DAYS`` before the date;
  otherwise it **needs treatment**;
- a person's status is the worst of their needs (needs treatment > in treatment > treated); a
  person without needs has the status ``no_need``.

Who is in the ledger: persons holding ``registered_poor`` on the date.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import CursorResult, Update, func, select, update
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.care.models import CHECK_OUTCOMES, ChronicCondition, FamilyDoctorContract, HealthCheck
from equicover.claims.models import Claim
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.providers.models import Provider
from equicover.registry.models import Location, Person, PersonCategory
from equicover.registry.service import holds_on

POOR = "registered_poor"
IN_TREATMENT_DAYS = 90
STATUSES = ("treated", "in_treatment", "needs_treatment")
_RANK = {"no_need": 0, "treated": 1, "in_treatment": 2, "needs_treatment": 3}


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id}", "person_id", "unknown person")
    return person


def _provider_id(session: Session, code: str | None, record: str) -> int | None:
    if code is None:
        return None
    provider_id = session.scalar(select(Provider.id).where(Provider.code == code))
    if provider_id is None:
        raise ValidationFailed(record, "provider_code", "unknown provider")
    return provider_id


def note_condition(
    *,
    session: Session,
    person_id: int,
    diagnosis: str,
    noted_on: dt.date,
    source: str = "manual",
    actor: str = SYSTEM_ACTOR,
) -> ChronicCondition:
    _person(session, person_id)
    code = diagnosis.strip().upper()
    record = f"person {person_id} condition"
    if not code or len(code) > 16:
        raise ValidationFailed(record, "diagnosis", "an ICD-10 code is required")
    if (
        session.scalar(
            select(ChronicCondition.id).where(
                ChronicCondition.person_id == person_id,
                ChronicCondition.diagnosis == code,
                ChronicCondition.resolved_on.is_(None),
            )
        )
        is not None
    ):
        raise Conflict(record, "diagnosis", "this condition is already open for the person")
    row = ChronicCondition(person_id=person_id, diagnosis=code, noted_on=noted_on, source=source)
    session.add(row)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="chronic_conditions",
        entity_id=row.id,
        action="create",
        after={"person_id": person_id, "noted_on": noted_on},
    )
    return row


def resolve_condition(
    *, session: Session, condition_id: int, resolved_on: dt.date, actor: str = SYSTEM_ACTOR
) -> ChronicCondition:
    row = session.get(ChronicCondition, condition_id)
    record = f"condition {condition_id}"
    if row is None:
        raise NotFound(record, "condition_id", "unknown condition")
    if row.resolved_on is not None:
        raise Conflict(record, "resolved_on", "already resolved")
    if resolved_on < row.noted_on:
        raise ValidationFailed(record, "resolved_on", "is before the condition was noted")
    row.resolved_on = resolved_on
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="chronic_conditions",
        entity_id=row.id,
        action="end",
        before={"resolved_on": None},
        after={"resolved_on": resolved_on},
    )
    return row


def sign_family_doctor(
    *,
    session: Session,
    person_id: int,
    provider_code: str,
    starts: dt.date,
    ends: dt.date,
    team_code: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> FamilyDoctorContract:
    record = f"person {person_id} family doctor"
    _person(session, person_id)
    provider_id = _provider_id(session, provider_code, record)
    if ends < starts:
        raise ValidationFailed(record, "ends", "is before starts")
    clash = session.scalar(
        select(FamilyDoctorContract.id).where(
            FamilyDoctorContract.person_id == person_id,
            FamilyDoctorContract.starts <= ends,
            FamilyDoctorContract.ends >= starts,
        )
    )
    if clash is not None:
        raise Conflict(record, "starts", f"overlaps family-doctor contract {clash}")
    row = FamilyDoctorContract(
        person_id=person_id, provider_id=provider_id, team_code=team_code, starts=starts, ends=ends
    )
    session.add(row)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="family_doctor_contracts",
        entity_id=row.id,
        action="create",
        after={"person_id": person_id, "provider_id": provider_id, "starts": starts, "ends": ends},
    )
    return row


def record_health_check(
    *,
    session: Session,
    person_id: int,
    checked_on: dt.date,
    outcome: str,
    finding: str | None = None,
    provider_code: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> HealthCheck:
    record = f"person {person_id} health check"
    _person(session, person_id)
    if outcome not in CHECK_OUTCOMES:
        raise ValidationFailed(record, "outcome", f"one of {', '.join(CHECK_OUTCOMES)}")
    row = HealthCheck(
        person_id=person_id,
        provider_id=_provider_id(session, provider_code, record),
        checked_on=checked_on,
        outcome=outcome,
        finding=finding.strip().upper() if finding else None,
    )
    session.add(row)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="health_checks",
        entity_id=row.id,
        action="create",
        after={"person_id": person_id, "outcome": outcome},
    )
    return row


def conditions_from_claims(*, session: Session, starts: dt.date, ends: dt.date, actor: str = SYSTEM_ACTOR) -> int:
    """Note the chronic conditions of registered-poor persons seen in chronic out-patient claims
    of the period (first claim date), when not already open. Returns conditions added."""
    poor = select(PersonCategory.person_id).where(PersonCategory.category == POOR, *holds_on(ends))
    seen = session.execute(
        select(Claim.person_id, Claim.diagnosis, func.min(Claim.service_date))
        .where(
            Claim.care_type == "chronic_outpatient",
            Claim.status == "settled",
            Claim.service_date >= starts,
            Claim.service_date <= ends,
            Claim.person_id.in_(poor),
        )
        .group_by(Claim.person_id, Claim.diagnosis)
    ).all()
    open_ = set(
        session.execute(
            select(ChronicCondition.person_id, ChronicCondition.diagnosis).where(ChronicCondition.resolved_on.is_(None))
        ).all()
    )
    added = [
        ChronicCondition(person_id=p, diagnosis=d, noted_on=first, source="claims")
        for p, d, first in seen
        if (p, d) not in open_
    ]
    session.add_all(added)
    session.flush()
    if added:
        record_change(
            session=session,
            actor=actor,
            entity="chronic_conditions",
            entity_id=None,
            action="bulk_load",
            after={"rows": len(added)},
        )
    return len(added)


@dataclass
class Need:
    diagnosis: str | None
    noted_on: dt.date
    source: str
    status: str = "needs_treatment"
    last_claim: dt.date | None = None


@dataclass
class CareEntry:
    person_id: int
    district_id: int | None
    family_doctor_provider_id: int | None
    last_health_check: dt.date | None
    admissions: int
    needs: list[Need] = field(default_factory=list)

    @property
    def status(self) -> str:
        return max((need.status for need in self.needs), key=_RANK.__getitem__, default="no_need")


def move_care_records(*, session: Session, from_person_id: int, to_person_id: int) -> int:
    """Give a person's care records to another (a registry merge of duplicates); returns how many moved.

    A chronic condition the survivor already has, noted on the same day, stays on the merged
    record (the survivor's row says the same), so the unique (person, diagnosis, noted_on) holds.
    Never commits; the merge records the change.
    """
    survivor_has = {
        (diagnosis, noted_on)
        for diagnosis, noted_on in session.execute(
            select(ChronicCondition.diagnosis, ChronicCondition.noted_on).where(
                ChronicCondition.person_id == to_person_id
            )
        )
    }
    movable = [
        condition_id
        for condition_id, diagnosis, noted_on in session.execute(
            select(ChronicCondition.id, ChronicCondition.diagnosis, ChronicCondition.noted_on).where(
                ChronicCondition.person_id == from_person_id
            )
        )
        if (diagnosis, noted_on) not in survivor_has
    ]
    moved = 0
    if movable:
        moved += _rows_updated(
            session, update(ChronicCondition).where(ChronicCondition.id.in_(movable)).values(person_id=to_person_id)
        )
    for table in (FamilyDoctorContract, HealthCheck):
        moved += _rows_updated(
            session, update(table).where(table.person_id == from_person_id).values(person_id=to_person_id)
        )
    return moved


def _rows_updated(session: Session, statement: Update) -> int:
    result = session.execute(statement)
    if not isinstance(result, CursorResult):  # an UPDATE always answers with a cursor result
        raise TypeError(f"an UPDATE gave a {type(result).__name__}")
    return result.rowcount


def care_ledger(*, session: Session, on: dt.date, district_ids: list[int] | None = None) -> list[CareEntry]:
    """The ledger on ``on``: one entry per registered-poor person (by id), with needs and status.
    Admissions: in-patient claims in the 365 days up to ``on``."""
    poor_query = (
        select(Person.id, Location.district_id)
        .join(Location, Location.id == Person.location_id)
        .where(Person.id.in_(select(PersonCategory.person_id).where(PersonCategory.category == POOR, *holds_on(on))))
    )
    if district_ids is not None:
        poor_query = poor_query.where(Location.district_id.in_(district_ids))
    entries: dict[int, CareEntry] = {}
    for person_id, district_id in session.execute(poor_query).all():
        entries[person_id] = CareEntry(person_id, district_id, None, None, 0)
    if not entries:
        return []
    poor_ids = select(PersonCategory.person_id).where(PersonCategory.category == POOR, *holds_on(on))
    for person_id, provider_id in session.execute(
        select(FamilyDoctorContract.person_id, FamilyDoctorContract.provider_id).where(
            FamilyDoctorContract.person_id.in_(poor_ids),
            FamilyDoctorContract.starts <= on,
            FamilyDoctorContract.ends >= on,
        )
    ).all():
        if person_id in entries:
            entries[person_id].family_doctor_provider_id = provider_id
    for person_id, diagnosis, noted_on, resolved_on, source in session.execute(
        select(
            ChronicCondition.person_id,
            ChronicCondition.diagnosis,
            ChronicCondition.noted_on,
            ChronicCondition.resolved_on,
            ChronicCondition.source,
        ).where(ChronicCondition.person_id.in_(poor_ids), ChronicCondition.noted_on <= on)
    ).all():
        if person_id in entries:
            # A condition resolved after ``on`` was still open on ``on``: a back-dated ledger shows it as a need.
            resolved = resolved_on is not None and resolved_on <= on
            entries[person_id].needs.append(
                Need(diagnosis, noted_on, source, "treated" if resolved else "needs_treatment")
            )
    for person_id, checked_on, outcome, finding in session.execute(
        select(HealthCheck.person_id, HealthCheck.checked_on, HealthCheck.outcome, HealthCheck.finding)
        .where(HealthCheck.person_id.in_(poor_ids), HealthCheck.checked_on <= on)
        .order_by(HealthCheck.checked_on)
    ).all():
        if person_id not in entries:
            continue
        entries[person_id].last_health_check = checked_on
        already = any(
            need.diagnosis and finding and need.diagnosis[:3] == finding[:3] for need in entries[person_id].needs
        )
        if outcome == "needs_treatment" and not already:
            entries[person_id].needs.append(Need(finding, checked_on, "health_check"))
    claims: dict[int, list[tuple[dt.date, str, str]]] = defaultdict(list)
    for person_id, served, diagnosis, care_type in session.execute(
        select(Claim.person_id, Claim.service_date, Claim.diagnosis, Claim.care_type).where(
            Claim.person_id.in_(poor_ids),
            Claim.status == "settled",
            Claim.service_date <= on,
            Claim.service_date > on - dt.timedelta(days=365),
        )
    ).all():
        claims[person_id].append((served, diagnosis, care_type))
    window = on - dt.timedelta(days=IN_TREATMENT_DAYS)
    for person_id, entry in entries.items():
        mine = claims.get(person_id, [])
        entry.admissions = sum(1 for _, _, care in mine if care == "inpatient")
        for need in entry.needs:
            if need.status == "treated":
                continue
            matching = [
                served
                for served, diagnosis, _ in mine
                if served >= need.noted_on and (need.diagnosis is None or diagnosis[:3] == need.diagnosis[:3])
            ]
            need.last_claim = max(matching, default=None)
            need.status = (
                "in_treatment" if need.last_claim is not None and need.last_claim >= window else "needs_treatment"
            )
    return sorted(entries.values(), key=lambda entry: entry.person_id)


def untreated(*, session: Session, on: dt.date, district_ids: list[int] | None = None) -> list[CareEntry]:
    """Registered-poor persons with a need and no treatment for it (the list to act on)."""
    return [
        entry
        for entry in care_ledger(session=session, on=on, district_ids=district_ids)
        if entry.status == "needs_treatment"
    ]


def status_summary(*, session: Session, on: dt.date) -> dict[str, int]:
    entries = care_ledger(session=session, on=on)
    summary = {
        "registered_poor": len(entries),
        "with_family_doctor": sum(1 for entry in entries if entry.family_doctor_provider_id is not None),
        "with_health_check": sum(1 for entry in entries if entry.last_health_check is not None),
    }
    for status in ("no_need", *STATUSES):
        summary[status] = sum(1 for entry in entries if entry.status == status)
    return summary


def sign_family_doctors_for_poor(
    *, session: Session, starts: dt.date, ends: dt.date, provider_level: str = "township", actor: str = SYSTEM_ACTOR
) -> int:
    """Give every registered-poor person (holding the category on ``starts``) without a contract
    in the period one with the ``provider_level`` facility of their own commune (Ya'an: family
    doctors for all the registered poor). Returns contracts signed; persons whose commune has no
    such facility are left out (see ``status_summary``)."""
    if ends < starts:
        raise ValidationFailed("family doctor contracts", "ends", "is before starts")
    facility = dict(
        session.execute(
            select(Provider.location_id, func.min(Provider.id))
            .where(Provider.level == provider_level)
            .group_by(Provider.location_id)
        ).all()
    )
    covered = select(FamilyDoctorContract.person_id).where(
        FamilyDoctorContract.starts <= ends, FamilyDoctorContract.ends >= starts
    )
    rows = session.execute(
        select(Person.id, Person.location_id).where(
            Person.id.in_(select(PersonCategory.person_id).where(PersonCategory.category == POOR, *holds_on(starts))),
            Person.id.not_in(covered),
        )
    ).all()
    added = [
        FamilyDoctorContract(person_id=person_id, provider_id=facility[location_id], starts=starts, ends=ends)
        for person_id, location_id in rows
        if location_id in facility
    ]
    session.add_all(added)
    session.flush()
    if added:
        record_change(
            session=session,
            actor=actor,
            entity="family_doctor_contracts",
            entity_id=None,
            action="bulk_load",
            after={"rows": len(added)},
        )
    return len(added)
