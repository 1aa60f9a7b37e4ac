"""The dashboard's coverage kept current equals the full recomputation
(``enrolment.service.coverage``) after any sequence of registry and enrolment changes, on both
databases; the first view after a change reads the kept figures, not the persons."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from equicover.admin.service import create_user
from equicover.auth.models import User
from equicover.enrolment import service as enrolment
from equicover.enrolment.models import Enrolment
from equicover.person_merge.service import merge_persons
from equicover.registry import service as registry
from equicover.registry.models import Person, PersonCategory
from equicover.registry.schemas import PersonUpdate
from equicover.reports import dashboard_coverage, dashboard_totals
from equicover.reports.models import DashboardCoverageDate, DashboardCoveragePerson
from equicover.web import queries
from tests import factories as make
from tests.factories import vn_world

ON = dt.date(2025, 6, 30)  # inside vn_world's period (2024-07-01 .. 2025-06-30)


def _full(session: Session) -> tuple[Any, Any]:
    def rows(by: str) -> list[tuple[str, str, int, int]]:
        found = enrolment.coverage(session=session, on=ON, by=by)
        return [(r.group_code, r.group_name, r.eligible, r.enrolled) for r in found]

    return rows("district"), rows("category")


def _kept(session: Session) -> tuple[Any, Any]:
    by_district, by_category = dashboard_totals.coverage(session=session, on=ON)
    return (
        [(r.group_code, r.group_name, r.eligible, r.enrolled) for r in by_district],
        [(r.group_code, r.group_name, r.eligible, r.enrolled) for r in by_category],
    )


def _gaps(session: Session, *, kept: bool) -> list[tuple[list[int], int]]:
    """The coverage gaps on ON, of any category and of each, in household order: as kept with
    the date, or counted from the persons."""
    admin = session.scalar(select(User).where(User.username == "gaps-admin")) or create_user(
        session=session, username="gaps-admin", password="a long test password 1", role="admin"
    )
    found = []
    for category in (None, "registered_poor", "five_year_continuous"):
        if kept:
            page = dashboard_totals.coverage_gaps(
                session=session, on=ON, category=category, area=None, limit=1000, offset=0
            )
            assert page is not None
            found.append(page)
        else:
            rows, total = queries.counted_gaps(
                session=session, user=admin, on=ON, category=category, limit=1000, offset=0
            )
            found.append(([row.id for row in rows], total))
    return found


@pytest.fixture
def world(session: Session):
    built = vn_world(session)
    session.flush()
    return built


def test_the_first_count_equals_the_full_recomputation(session: Session, world) -> None:
    assert _kept(session) == _full(session)
    assert dashboard_coverage.built_dates(session=session) == [ON]


def test_a_change_moves_the_kept_figures_without_reading_every_person(session: Session, world) -> None:
    before = _kept(session)
    child = world.person_ids[2]  # not enrolled
    enrolment.enrol(
        session=session, person_id=child, scheme_id=world.scheme_id, period_id=world.period_id,
        starts=dt.date(2024, 7, 1), ends=dt.date(2025, 6, 30),
    )  # fmt: skip
    session.flush()
    statements: list[str] = []
    listen = lambda _c, _cur, statement, *_rest: statements.append(statement)  # noqa: E731
    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        after = _kept(session)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    d1 = next(row for row in after[0] if row[0] == "D1")
    assert d1[3] == next(row for row in before[0] if row[0] == "D1")[3] + 1
    assert after == _full(session)
    # The persons are read by id (the one the enrolment names), never all of them.
    reads_of_persons = [s for s in statements if "FROM persons" in s]
    assert reads_of_persons and all("persons.id IN" in s or "IN (" in s for s in reads_of_persons)


def test_a_bulk_load_rebuilds_the_kept_date(session: Session, world) -> None:
    _kept(session)
    count = session.scalar(select(func.count()).select_from(DashboardCoveragePerson))
    enrolment.bulk_insert_enrolments(
        session=session,
        rows=[
            {
                "person_id": world.person_ids[2], "scheme_id": world.scheme_id, "period_id": world.period_id,
                "starts": dt.date(2024, 7, 1), "ends": dt.date(2025, 6, 30), "status": "active",
            }
        ],
    )  # fmt: skip
    session.flush()
    assert _kept(session) == _full(session)
    assert session.scalar(select(func.count()).select_from(DashboardCoveragePerson)) == count


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["enrol", "cancel", "category", "end_category", "die", "move", "newborn", "merge", "household"]
        ),
        st.integers(min_value=0, max_value=50),
    ),
    min_size=1,
    max_size=6,
)


def _apply(session: Session, world, operation: str, pick: int, counter: list[int]) -> None:
    persons = list(session.scalars(select(Person.id).where(Person.merged_into_id.is_(None)).order_by(Person.id)))
    person = persons[pick % len(persons)]
    other = persons[(pick + 1) % len(persons)]
    counter[0] += 1
    if operation == "enrol":
        taken = session.scalar(
            select(func.count()).where(
                Enrolment.person_id == person, Enrolment.scheme_id == world.scheme_id, Enrolment.status != "cancelled"
            )
        )
        if taken:
            return
        enrolment.enrol(
            session=session, person_id=person, scheme_id=world.scheme_id, period_id=world.period_id,
            starts=dt.date(2024, 7, 1) + dt.timedelta(days=pick * 7), ends=dt.date(2025, 6, 30),
        )  # fmt: skip
    elif operation == "cancel":
        found = session.scalar(select(Enrolment.id).where(Enrolment.person_id == person, Enrolment.status == "active"))
        if found is not None:
            enrolment.set_enrolment_status(session=session, enrolment_id=found, status="cancelled")
    elif operation == "category":
        held = session.scalar(
            select(func.count()).where(PersonCategory.person_id == person, PersonCategory.category == "registered_poor")
        )
        if not held:
            registry.set_category(
                session=session, person_id=person, category="registered_poor",
                valid_from=ON - dt.timedelta(days=pick * 20),
            )  # fmt: skip
    elif operation == "end_category":
        open_one = session.scalar(
            select(PersonCategory.category).where(PersonCategory.person_id == person, PersonCategory.valid_to.is_(None))
        )
        if open_one is not None:
            registry.end_category(
                session=session, person_id=person, category=open_one, valid_to=ON - dt.timedelta(days=pick % 3)
            )
    elif operation == "die":
        registry.update_person(
            session=session, person_id=person, changes=PersonUpdate(death_date=ON - dt.timedelta(days=pick % 2)),
            today=dt.date(2026, 1, 1),
        )  # fmt: skip
    elif operation == "move":
        registry.update_person(
            session=session, person_id=person, changes=PersonUpdate(location_code=("C12", "N21", "D1")[pick % 3]),
            today=dt.date(2026, 1, 1),
        )  # fmt: skip
    elif operation in ("newborn", "household"):
        make.household(
            session,
            code=f"HX{counter[0]}-{pick}",
            location_code=("C11", "N21")[pick % 2],
            registered_on=ON - dt.timedelta(days=pick - 25),
            members=[make.person_in(birth_date=ON - dt.timedelta(days=pick), categories=["registered_poor"])],
        )
    elif operation == "merge" and person != other:
        merge_persons(session=session, survivor_id=person, merged_id=other, on=ON)
    session.flush()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(operations=OPERATIONS)
def test_after_any_changes_the_kept_figures_equal_the_full_recomputation(session: Session, world, operations) -> None:
    _kept(session)  # the date is kept from here on
    counter = [0]
    for operation, pick in operations:
        try:
            with session.begin_nested():
                _apply(session, world, operation, pick, counter)
        except Exception as error:  # a refusal of the services (an overlap, a merge not allowed) changes nothing
            if type(error).__module__ != "equicover.errors":
                raise
        assert _kept(session) == _full(session), (operation, pick)
        assert _gaps(session, kept=True) == _gaps(session, kept=False), (operation, pick)


def test_a_write_around_the_change_log_is_counted_by_the_periodic_recount(session: Session, world) -> None:
    _kept(session)
    # A repair by hand: no change-log row says the person died.
    session.execute(update(Person).where(Person.id == world.person_ids[0]).values(death_date=dt.date(2025, 1, 1)))
    session.flush()
    assert _kept(session) != _full(session)
    assert dashboard_totals.recount_stale_coverage(session=session) is None  # built just now: not yet
    later = dt.datetime.now(dt.UTC) + dashboard_totals.COVERAGE_RECOUNT_AGE + dt.timedelta(minutes=1)
    assert dashboard_totals.recount_stale_coverage(session=session, now=later) == ON
    assert _kept(session) == _full(session)


def test_a_busy_database_counts_the_first_view_without_keeping_it(session: Session, world, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    def busy(_session: Session) -> None:
        raise OperationalError("SELECT ... FOR UPDATE", {}, Exception("lock timeout"))

    monkeypatch.setattr(dashboard_totals, "_lock_fold", busy)
    by_district, by_category = dashboard_totals.coverage(session=session, on=ON)
    full = enrolment.coverage(session=session, on=ON, by="district")
    assert [(r.group_code, r.eligible, r.enrolled) for r in by_district] == [
        (r.group_code, r.eligible, r.enrolled) for r in full
    ]
    assert by_category and dashboard_coverage.built_dates(session=session) == []


def test_a_date_no_page_reads_is_forgotten_but_the_days_the_pages_open_on(session: Session, world) -> None:
    """Every fold moves every kept date: a date no page has read for KEEP_UNREAD is dropped (its
    persons, holdings, gaps and groups with it), the days the pages open on never."""
    other = ON - dt.timedelta(days=30)
    dashboard_totals.keep_coverage(session=session, days=[ON, other])
    assert dashboard_coverage.built_dates(session=session) == [other, ON]
    later = dt.datetime.now(dt.UTC) + dashboard_coverage.KEEP_UNREAD + dt.timedelta(minutes=1)
    assert dashboard_totals.forget_unread_coverage(session=session, keep=[ON]) == []  # read just now
    # a page reads the other date: it stays as long again; a recount does not count as a reading
    dashboard_coverage.mark_read(
        session=session, on=other, now=dt.datetime.now(dt.UTC) + dashboard_coverage.READ_STAMP_EVERY * 2
    )
    read_at = {on: _read_at(session, on) for on in (ON, other)}
    assert {dashboard_totals.recount_stale_coverage(session=session, now=later) for _ in range(2)} == {ON, other}
    assert {on: _read_at(session, on) for on in (ON, other)} == read_at
    assert dashboard_totals.forget_unread_coverage(session=session, keep=[ON], now=later) == []
    much_later = later + dashboard_coverage.KEEP_UNREAD
    assert dashboard_totals.forget_unread_coverage(session=session, keep=[ON], now=much_later) == [other]
    assert dashboard_coverage.built_dates(session=session) == [ON]
    assert session.scalar(select(func.count()).where(DashboardCoveragePerson.on_date == other)) == 0
    assert _kept(session) == _full(session)


def _read_at(session: Session, on: dt.date) -> dt.datetime | None:
    return session.scalar(select(DashboardCoverageDate.read_at).where(DashboardCoverageDate.on_date == on))
