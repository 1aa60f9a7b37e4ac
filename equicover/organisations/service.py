"""The only door to programme organisations and their areas; coverage by organisation and area.

Keyword-only functions on the caller's session; they never commit. An area is a location: the
persons of an area are those living in it or below it (a district's communes).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.enrolment.models import Enrolment
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.organisations.models import ORGANISATION_ROLES, OrganisationArea, ProgrammeOrganisation
from equicover.registry.models import Location, Person


def _check_role(record: str, role: str) -> None:
    if role not in ORGANISATION_ROLES:
        raise ValidationFailed(record, "role", f"must be one of {', '.join(ORGANISATION_ROLES)}")


def ensure_organisation(
    *, session: Session, code: str, name: str, role: str, actor: str = SYSTEM_ACTOR
) -> ProgrammeOrganisation:
    """The organisation of ``code`` (created if new); an existing one of another role is refused."""
    record = f"organisation {code}"
    _check_role(record, role)
    if not code.strip() or not name.strip():
        raise ValidationFailed(record, "code" if not code.strip() else "name", "must not be empty")
    existing = session.scalar(select(ProgrammeOrganisation).where(ProgrammeOrganisation.code == code))
    if existing is not None:
        if existing.role != role:
            raise Conflict(record, "role", f"the organisation is a {existing.role}")
        return existing
    organisation = ProgrammeOrganisation(code=code, name=name, role=role)
    session.add(organisation)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="programme_organisation",
        entity_id=organisation.id,
        action="create",
        after={"code": code, "role": role},
    )
    return organisation


def assign_areas(
    *,
    session: Session,
    organisation_code: str,
    location_ids: Sequence[int],
    assigned_on: dt.date,
    actor: str = SYSTEM_ACTOR,
) -> int:
    """Make the organisation answer for the locations; a location already assigned to another
    organisation of the same role is refused. Returns the areas added."""
    organisation = session.scalar(select(ProgrammeOrganisation).where(ProgrammeOrganisation.code == organisation_code))
    record = f"organisation {organisation_code}"
    if organisation is None:
        raise NotFound(record, "code", "no such organisation")
    wanted = sorted(set(location_ids))
    if not wanted:
        return 0
    known = set(session.scalars(select(Location.id).where(Location.id.in_(wanted))))
    if missing := [location for location in wanted if location not in known]:
        raise NotFound(record, "location_ids", f"no location {missing[0]}")
    taken = session.execute(
        select(OrganisationArea.location_id, OrganisationArea.organisation_id).where(
            OrganisationArea.location_id.in_(wanted), OrganisationArea.role == organisation.role
        )
    ).all()
    ours = {location for location, owner in taken if owner == organisation.id}
    if others := [location for location, owner in taken if owner != organisation.id]:
        raise Conflict(record, "location_ids", f"location {others[0]} has another {organisation.role}")
    rows = [
        OrganisationArea(
            organisation_id=organisation.id, location_id=location, role=organisation.role, assigned_on=assigned_on
        )
        for location in wanted
        if location not in ours
    ]
    session.add_all(rows)
    session.flush()
    if rows:
        record_change(
            session=session,
            actor=actor,
            entity="programme_organisation",
            entity_id=organisation.id,
            action="assign_areas",
            after={"areas": len(rows)},
        )
    return len(rows)


@dataclass(frozen=True)
class AreaCoverage:
    """Persons living in an area (or in the areas of an organisation) on a date, and those enrolled."""

    code: str
    name: str
    organisation: str  # the organisation's code
    areas: int
    population: int
    enrolled: int

    @property
    def rate(self) -> float | None:
        return self.enrolled / self.population if self.population else None


def coverage(*, session: Session, on: dt.date, role: str, by: str = "organisation") -> list[AreaCoverage]:
    """Population and enrolled persons on ``on`` of each organisation of ``role`` (``by`` =
    "organisation") or of each of their areas (``by`` = "area"), ordered by code. Population:
    persons registered on or before ``on`` and alive on it; enrolled: with an enrolment in any
    scheme covering ``on``."""
    _check_role("coverage", role)
    if by not in ("organisation", "area"):
        raise ValidationFailed("coverage", "by", "must be organisation or area")
    area = (
        select(OrganisationArea.location_id, OrganisationArea.organisation_id)
        .where(OrganisationArea.role == role)
        .subquery()
    )
    alive = and_(Person.registered_on <= on, or_(Person.death_date.is_(None), Person.death_date > on))
    enrolled = (
        select(Enrolment.person_id).where(Enrolment.starts <= on, Enrolment.ends >= on, Enrolment.status == "active")
    ).scalar_subquery()
    # A person belongs to the area of their location or of its district.
    person_area = (
        select(Person.id.label("person_id"), area.c.location_id, area.c.organisation_id)
        .join(Location, Location.id == Person.location_id)
        .join(area, or_(area.c.location_id == Location.id, area.c.location_id == Location.district_id))
        .where(alive)
        .subquery()
    )
    key = person_area.c.organisation_id if by == "organisation" else person_area.c.location_id
    counts = {
        row_key: (int(population), int(covered or 0))
        for row_key, population, covered in session.execute(
            select(
                key,
                func.count(func.distinct(person_area.c.person_id)),
                func.count(func.distinct(person_area.c.person_id)).filter(person_area.c.person_id.in_(enrolled)),
            ).group_by(key)
        ).all()
    }
    organisations = {
        organisation.id: organisation
        for organisation in session.scalars(select(ProgrammeOrganisation).where(ProgrammeOrganisation.role == role))
    }
    areas_of = dict(
        session.execute(
            select(OrganisationArea.organisation_id, func.count())
            .where(OrganisationArea.role == role)
            .group_by(OrganisationArea.organisation_id)
        ).all()
    )
    if by == "organisation":
        rows = [
            AreaCoverage(
                organisation.code,
                organisation.name,
                organisation.code,
                int(areas_of.get(organisation.id, 0)),
                *counts.get(organisation.id, (0, 0)),
            )
            for organisation in organisations.values()
        ]
    else:
        rows = [
            AreaCoverage(code, name, organisations[owner].code, 1, *counts.get(location, (0, 0)))
            for location, code, name, owner in session.execute(
                select(Location.id, Location.code, Location.name, OrganisationArea.organisation_id)
                .join(OrganisationArea, OrganisationArea.location_id == Location.id)
                .where(OrganisationArea.role == role)
            ).all()
        ]
    return sorted(rows, key=lambda row: row.code)


def get_organisation(*, session: Session, code: str, role: str | None = None) -> ProgrammeOrganisation:
    """The organisation of ``code`` (of ``role`` when given); unknown or of another role: refused."""
    organisation = session.scalar(select(ProgrammeOrganisation).where(ProgrammeOrganisation.code == code))
    record = f"organisation {code}"
    if organisation is None:
        raise NotFound(record, "code", "no such organisation")
    if role is not None and organisation.role != role:
        raise Conflict(record, "role", f"the organisation is a {organisation.role}, not a {role}")
    return organisation


def list_organisations(*, session: Session, role: str) -> list[ProgrammeOrganisation]:
    _check_role("organisations", role)
    return list(
        session.scalars(
            select(ProgrammeOrganisation).where(ProgrammeOrganisation.role == role).order_by(ProgrammeOrganisation.code)
        )
    )


def area_ids(*, session: Session, organisation_id: int) -> list[int]:
    """The locations the organisation answers for (a place lies in an area when it is one of
    them or when its district is)."""
    return sorted(
        session.scalars(select(OrganisationArea.location_id).where(OrganisationArea.organisation_id == organisation_id))
    )


# --------------------------------------------------------------------------------------------
# The enrolment drive (Iran, seed 002: the uninsured of deprived neighbourhoods enrolled quickly,
# 9,000 persons in one neighbourhood where 75% were uninsured).

DRIVE_STEPS = ("month", "week")
MAX_DRIVE_POINTS = 400  # ~8 years of weeks: each point is one coverage count


@dataclass(frozen=True)
class DrivePoint:
    """One area (or organisation) in one step of the drive: persons whose first enrolment
    started in the step, and coverage on the step's last day."""

    code: str
    name: str
    organisation: str
    starts: dt.date
    ends: dt.date
    newly_enrolled: int
    population: int
    enrolled: int

    @property
    def rate(self) -> float | None:
        return self.enrolled / self.population if self.population else None


def drive_steps(starts: dt.date, ends: dt.date, step: str) -> list[tuple[dt.date, dt.date]]:
    """The calendar months (or Monday-to-Sunday weeks) of [starts, ends], the first and last cut to it."""
    if step not in DRIVE_STEPS:
        raise ValidationFailed("enrolment drive", "by", f"one of {', '.join(DRIVE_STEPS)}")
    if ends < starts:
        raise ValidationFailed("enrolment drive", "to", "is before from")
    steps = []
    day = starts
    while day <= ends:
        if step == "month":
            following = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        else:
            following = day + dt.timedelta(days=7 - day.weekday())
        last = min(following - dt.timedelta(days=1), ends)
        steps.append((day, last))
        day = last + dt.timedelta(days=1)
        if len(steps) > MAX_DRIVE_POINTS:
            raise ValidationFailed("enrolment drive", "from", f"more than {MAX_DRIVE_POINTS} steps: shorten the period")
    return steps


def enrolment_drive(
    *,
    session: Session,
    starts: dt.date,
    ends: dt.date,
    step: str = "month",
    role: str = "responsible_organisation",
    by: str = "area",
) -> list[DrivePoint]:
    """The drive over [starts, ends] per area (``by`` = "area") or organisation of ``role``, step
    by step: persons of the area whose first active enrolment (in any scheme) started in the step,
    and coverage (:func:`coverage`) on the step's last day. Ordered by code, then date."""
    _check_role("enrolment drive", role)
    if by not in ("organisation", "area"):
        raise ValidationFailed("enrolment drive", "by", "must be organisation or area")
    steps = drive_steps(starts, ends, step)
    area = (
        select(OrganisationArea.location_id, OrganisationArea.organisation_id)
        .where(OrganisationArea.role == role)
        .subquery()
    )
    first = (
        select(Enrolment.person_id, func.min(Enrolment.starts).label("first_day"))
        .where(Enrolment.status == "active")
        .group_by(Enrolment.person_id)
        .subquery()
    )
    key = area.c.organisation_id if by == "organisation" else area.c.location_id
    firsts = session.execute(
        select(key, first.c.first_day, func.count(func.distinct(first.c.person_id)))
        .select_from(first)
        .join(Person, Person.id == first.c.person_id)
        .join(Location, Location.id == Person.location_id)
        .join(area, or_(area.c.location_id == Location.id, area.c.location_id == Location.district_id))
        .where(first.c.first_day >= starts, first.c.first_day <= ends)
        .group_by(key, first.c.first_day)
    ).all()
    new: dict[tuple[int, int], int] = {}
    step_starts = [step_start for step_start, _ in steps]
    for row_key, day, count in firsts:
        index = bisect.bisect_right(step_starts, day) - 1
        new[(row_key, index)] = new.get((row_key, index), 0) + int(count)
    ids = _row_ids(session, role, by)
    points = []
    for index, (step_start, step_end) in enumerate(steps):
        for row in coverage(session=session, on=step_end, role=role, by=by):
            points.append(
                DrivePoint(
                    row.code,
                    row.name,
                    row.organisation,
                    step_start,
                    step_end,
                    new.get((ids[row.code], index), 0),
                    row.population,
                    row.enrolled,
                )
            )
    return sorted(points, key=lambda point: (point.code, point.starts))


def _row_ids(session: Session, role: str, by: str) -> dict[str, int]:
    """The id behind each row code of :func:`coverage` (organisation id, or location id)."""
    if by == "organisation":
        return dict(
            session.execute(
                select(ProgrammeOrganisation.code, ProgrammeOrganisation.id).where(ProgrammeOrganisation.role == role)
            ).all()
        )
    return dict(
        session.execute(
            select(Location.code, Location.id)
            .join(OrganisationArea, OrganisationArea.location_id == Location.id)
            .where(OrganisationArea.role == role)
        ).all()
    )
