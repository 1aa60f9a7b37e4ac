"""The dashboard's coverage figures kept current: the only door to the ``dashboard_coverage_*``
tables.

Coverage on a date is ``enrolment.service.coverage``: the persons alive, registered and not merged
on the date (eligible), by district and by category held, and those of them an active enrolment
covers (enrolled). Computing it reads every person (seconds at a province's size), so the figures
are built once per date and then moved person by person: each change-log row the totals' fold
reads (``reports.dashboard_totals.fold``, which already knows which rows are new, holes included)
names the persons it may have changed (a person, the holder of a category, the enrolled person of
an enrolment, the members of a household); each of them is taken out of the groups as the tables
last counted them and added back as the registry and the enrolments say now. A person counted
again is counted once: the figures depend only on what is stored, never on how often a person is
looked at. A change that names no person (a bulk load of enrolments, an import, a new location)
rebuilds the dates, in the fold, not on a page.

The coverage gaps of a kept date (the eligible persons holding a category whom no active enrolment
covers) are kept with it, moved by the same recount: the registrar's list of gaps is then a range
of an index in household order (:func:`gap_page`), where counting them from the persons reads every
person and every enrolment of the province. A date no page has read for ``KEEP_UNREAD`` is
forgotten (:func:`unread_dates`), so that the dates kept, and what every fold moves, stay few.

:func:`coverage_rows` gives the figures as ``enrolment.service.coverage`` does (the same rows,
without the contribution amounts, which the dashboard does not show); the tests prove them equal.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    not_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from equicover.enrolment.models import Enrolment
from equicover.enrolment.schemas import CoverageRow

# The conditions coverage() itself counts with: one definition of eligible and enrolled on a date.
from equicover.enrolment.service import alive_and_registered_on, enrolment_active_on
from equicover.registry.models import Category, Household, Location, Person, PersonCategory
from equicover.registry.service import holds_on
from equicover.reports.models import (
    DashboardCoverageDate,
    DashboardCoverageGap,
    DashboardCoverageGroup,
    DashboardCoverageHolding,
    DashboardCoveragePerson,
)

ABOVE_DISTRICTS = "-"  # the group of persons located above a district, as enrolment.service names it
PERSONS_PER_STATEMENT = 5_000
# Change-log entities whose rows name the persons they change, and how to find them.
PERSON_ENTITIES = ("persons", "person_categories", "enrolments", "households")
# Entities whose changes may move any number of persons without naming them: the dates are rebuilt.
REBUILD_ENTITIES = ("import_runs", "locations")

ANY_CATEGORY = "*"  # the gaps row of a person whatever category they hold (no category code is "*")
KEEP_UNREAD = dt.timedelta(days=3)  # a kept date no page reads for this long is forgotten
READ_STAMP_EVERY = dt.timedelta(hours=1)  # a page stamps a date's reading at most this often
KEPT_TABLES = (DashboardCoverageGroup, DashboardCoverageGap, DashboardCoverageHolding, DashboardCoveragePerson)

GroupKey = tuple[dt.date, str, str]  # on_date, grouping, group_key


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), PERSONS_PER_STATEMENT):
        yield ordered[start : start + PERSONS_PER_STATEMENT]


def _people(on: dt.date, persons: Sequence[ColumnElement[bool]]) -> Any:
    """The eligible persons on ``on`` (among those ``persons`` selects): id, district, enrolled."""
    home = Location.__table__.alias("home")
    enrolled = exists().where(Enrolment.person_id == Person.id, *enrolment_active_on(on))
    return (
        select(literal(on).label("on_date"), Person.id, home.c.district_id, enrolled.label("enrolled"))
        .select_from(Person)
        .join(home, home.c.id == Person.location_id)
        .where(*alive_and_registered_on(on), *persons)
    )


def _holdings(on: dt.date, persons: Sequence[ColumnElement[bool]]) -> Any:
    """The categories the eligible persons on ``on`` hold that day (among those ``persons`` selects)."""
    return (
        select(literal(on).label("on_date"), PersonCategory.person_id, PersonCategory.category)
        .join(Person, Person.id == PersonCategory.person_id)
        .where(*holds_on(on), *alive_and_registered_on(on), *persons)
        .distinct()
    )


def _gaps(on: dt.date, persons: Sequence[ColumnElement[bool]], *, any_category: bool) -> Any:
    """The gaps among the kept persons of ``on`` (among those ``persons`` selects), from the kept
    facts and holdings: a row per category held, or (``any_category``) one per person."""
    facts, held = DashboardCoveragePerson, DashboardCoverageHolding
    category = literal(ANY_CATEGORY) if any_category else held.category
    gaps = (
        select(
            literal(on).label("on_date"), held.person_id, category.label("category"), Household.code, Person.location_id
        )
        .join(facts, (facts.on_date == held.on_date) & (facts.person_id == held.person_id))
        .join(Person, Person.id == held.person_id)
        .join(Household, Household.id == Person.household_id)
        .where(held.on_date == on, not_(facts.enrolled), *persons)
    )
    return gaps.distinct() if any_category else gaps


def _keep_gaps(session: Session, on: dt.date, persons: Sequence[ColumnElement[bool]]) -> None:
    columns = ["on_date", "person_id", "category", "household_code", "location_id"]
    for any_category in (False, True):
        session.execute(
            insert(DashboardCoverageGap.__table__).from_select(columns, _gaps(on, persons, any_category=any_category))
        )


def _count(
    session: Session, on: dt.date, persons: Sequence[ColumnElement[bool]], sign: int, into: dict[GroupKey, list[int]]
) -> None:
    """Add (sign 1) or take out (-1) the persons the tables hold for ``on`` to the group deltas."""
    facts = DashboardCoveragePerson
    district_key = func.coalesce(cast(facts.district_id, String), ABOVE_DISTRICTS)
    enrolled = func.sum(case((facts.enrolled, 1), else_=0))
    for key, eligible, covered in session.execute(
        select(district_key, func.count(), enrolled).where(facts.on_date == on, *persons).group_by(district_key)
    ):
        entry = into[(on, "district", str(key))]
        entry[0] += sign * int(eligible)
        entry[1] += sign * int(covered or 0)
    held = DashboardCoverageHolding
    for category, eligible, covered in session.execute(
        select(held.category, func.count(), enrolled)
        .join(facts, (facts.on_date == held.on_date) & (facts.person_id == held.person_id))
        .where(held.on_date == on, *persons)
        .group_by(held.category)
    ):
        entry = into[(on, "category", str(category))]
        entry[0] += sign * int(eligible)
        entry[1] += sign * int(covered or 0)


def _store(session: Session, deltas: dict[GroupKey, list[int]]) -> None:
    rows = [
        {"on_date": on, "grouping": grouping, "group_key": key, "eligible": values[0], "enrolled": values[1]}
        for (on, grouping, key), values in deltas.items()
        if values[0] or values[1]
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = DashboardCoverageGroup.__table__
    statement = upsert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[column.name for column in table.primary_key.columns],
        set_={name: table.c[name] + statement.excluded[name] for name in ("eligible", "enrolled")},
    )
    session.execute(statement, rows)


def build(*, session: Session, on: dt.date, now: dt.datetime | None = None) -> None:
    """Count the coverage on ``on`` from every person (what is stored for the date is replaced).

    Called with the totals' fold row locked (:func:`equicover.reports.dashboard_totals.coverage`),
    so that no fold moves the date while it is built: a change the build does not see is above the
    fold's marks and moves the date at the next fold. A date counted again keeps when a page last
    read it; a new one counts as read now."""
    now = now or dt.datetime.now(dt.UTC)
    read_at = session.scalar(select(DashboardCoverageDate.read_at).where(DashboardCoverageDate.on_date == on))
    forget(session=session, on=on)
    facts = DashboardCoveragePerson.__table__
    held = DashboardCoverageHolding.__table__
    session.execute(insert(facts).from_select(["on_date", "person_id", "district_id", "enrolled"], _people(on, ())))
    session.execute(insert(held).from_select(["on_date", "person_id", "category"], _holdings(on, ())))
    _keep_gaps(session, on, ())
    deltas: dict[GroupKey, list[int]] = defaultdict(lambda: [0, 0])
    _count(session, on, (), 1, deltas)
    _store(session, deltas)
    session.add(DashboardCoverageDate(on_date=on, built_at=now, read_at=read_at or now))
    session.flush()


def forget(*, session: Session, on: dt.date) -> None:
    """Keep ``on`` no more (with the totals' fold row locked, as for :func:`build`)."""
    for model in (*KEPT_TABLES, DashboardCoverageDate):
        session.execute(delete(model).where(model.on_date == on))


def unread_dates(*, session: Session, now: dt.datetime) -> list[dt.date]:
    """The kept dates no page has read for ``KEEP_UNREAD``."""
    return list(
        session.scalars(select(DashboardCoverageDate.on_date).where(DashboardCoverageDate.read_at < now - KEEP_UNREAD))
    )


def mark_read(*, session: Session, on: dt.date, now: dt.datetime) -> None:
    """Stamp that a page read ``on`` (a write at most every ``READ_STAMP_EVERY``, not on every view)."""
    session.execute(
        update(DashboardCoverageDate)
        .where(DashboardCoverageDate.on_date == on, DashboardCoverageDate.read_at < now - READ_STAMP_EVERY)
        .values(read_at=now)
    )


def stale_date(*, session: Session, built_before: dt.datetime) -> dt.date | None:
    """The kept date built longest ago, if before ``built_before``."""
    return session.scalar(
        select(DashboardCoverageDate.on_date)
        .where(DashboardCoverageDate.built_at < built_before)
        .order_by(DashboardCoverageDate.built_at)
        .limit(1)
    )


def built_dates(*, session: Session) -> list[dt.date]:
    return list(session.scalars(select(DashboardCoverageDate.on_date).order_by(DashboardCoverageDate.on_date)))


def recount_persons(*, session: Session, person_ids: Iterable[int]) -> int:
    """Count these persons again on every kept date: out as the tables hold them, in as the
    registry and the enrolments say now. Returns how many persons were looked at."""
    dates = built_dates(session=session)
    ids = sorted(set(person_ids))
    if not dates or not ids:
        return len(ids)
    facts, held = DashboardCoveragePerson, DashboardCoverageHolding
    deltas: dict[GroupKey, list[int]] = defaultdict(lambda: [0, 0])
    for chunk in _chunks(ids):
        for on in dates:
            _count(session, on, (facts.person_id.in_(chunk),), -1, deltas)
            for model in (DashboardCoverageGap, held, facts):
                session.execute(delete(model).where(model.on_date == on, model.person_id.in_(chunk)))
            chosen = (Person.id.in_(chunk),)
            session.execute(
                insert(facts.__table__).from_select(
                    ["on_date", "person_id", "district_id", "enrolled"], _people(on, chosen)
                )
            )
            session.execute(
                insert(held.__table__).from_select(["on_date", "person_id", "category"], _holdings(on, chosen))
            )
            _keep_gaps(session, on, (held.person_id.in_(chunk),))
            _count(session, on, (facts.person_id.in_(chunk),), 1, deltas)
    _store(session, deltas)
    return len(ids)


def persons_changed(*, session: Session, changes: Iterable[tuple[str, int | None, str]]) -> tuple[set[int], bool]:
    """The persons that change-log rows ``(entity, entity_id, action)`` may have changed, and
    whether one of them moves persons it does not name (the kept dates must then be rebuilt)."""
    by_entity: dict[str, set[int]] = defaultdict(set)
    rebuild = False
    for entity, entity_id, action in changes:
        if entity in REBUILD_ENTITIES or (entity in PERSON_ENTITIES and (entity_id is None or action == "bulk_load")):
            rebuild = True
        elif entity in PERSON_ENTITIES and entity_id is not None:
            by_entity[entity].add(int(entity_id))
    persons = set(by_entity["persons"])
    lookups: tuple[tuple[str, Any, Any], ...] = (
        ("person_categories", PersonCategory.person_id, PersonCategory.id),
        ("enrolments", Enrolment.person_id, Enrolment.id),
        ("households", Person.id, Person.household_id),
    )
    for entity, wanted, key in lookups:
        for chunk in _chunks(by_entity[entity]):
            persons.update(int(found) for found in session.scalars(select(wanted).where(key.in_(chunk))))
    return persons, rebuild


def apply_changes(*, session: Session, changes: Iterable[tuple[str, int | None, str]]) -> int:
    """Move the kept dates by change-log rows ``(entity, entity_id, action)`` the fold just read."""
    persons, rebuild = persons_changed(session=session, changes=changes)
    if rebuild:
        for on in built_dates(session=session):
            build(session=session, on=on)
        return len(persons)
    return recount_persons(session=session, person_ids=persons)


def coverage_rows(*, session: Session, on: dt.date, by: str) -> list[CoverageRow]:
    """The kept figures of ``on`` grouped ``by`` "district" or "category", as
    ``enrolment.service.coverage`` gives them (without amounts), ordered by group code."""
    groups = DashboardCoverageGroup
    counts = {
        key: (int(eligible), int(enrolled))
        for key, eligible, enrolled in session.execute(
            select(groups.group_key, groups.eligible, groups.enrolled).where(
                groups.on_date == on, groups.grouping == by, groups.eligible > 0
            )
        )
    }
    if by == "category":
        names: dict[str, str] = {
            str(code): str(label) for code, label in session.execute(select(Category.code, Category.label)).all()
        }
        rows = [
            CoverageRow(group_code=key, group_name=names.get(key, key), eligible=e, enrolled=n, amounts={})
            for key, (e, n) in counts.items()
        ]
    else:
        ids = [int(key) for key in counts if key != ABOVE_DISTRICTS]
        places = {
            str(place_id): (code, name)
            for place_id, code, name in session.execute(
                select(Location.id, Location.code, Location.name).where(Location.id.in_(ids))
            )
        }
        rows = []
        for key, (e, n) in counts.items():
            code, name = places.get(key, (ABOVE_DISTRICTS, "(above this level)"))
            rows.append(CoverageRow(group_code=code, group_name=name, eligible=e, enrolled=n, amounts={}))
    return sorted(rows, key=lambda row: row.group_code)


def gap_page(
    *, session: Session, on: dt.date, category: str | None, area: Select[Any] | None, limit: int, offset: int
) -> tuple[list[int], int]:
    """The kept gaps of ``on`` (of ``category``, or of any), of the persons located in ``area``
    (locations' ids; None: everywhere): a page of person ids in household order, and how many
    there are."""
    counted, page = _gap_queries(on=on, category=category, area=area, limit=limit, offset=offset)
    return [int(person_id) for person_id in session.scalars(page)], int(session.scalar(counted) or 0)


def _gap_queries(
    *, on: dt.date, category: str | None, area: Select[Any] | None, limit: int, offset: int
) -> tuple[Select[Any], Select[Any]]:
    """The count and the page of :func:`gap_page`: each a range of the listing index."""
    gaps = DashboardCoverageGap
    listed = [gaps.on_date == on, gaps.category == (category or ANY_CATEGORY)]
    if area is not None:
        listed.append(gaps.location_id.in_(area))
    counted = select(func.count()).select_from(gaps).where(*listed)
    page = (
        select(gaps.person_id).where(*listed).order_by(gaps.household_code, gaps.person_id).limit(limit).offset(offset)
    )
    return counted, page
