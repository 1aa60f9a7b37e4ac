"""The coverage gaps and the search by name, each run as indexed queries, give exactly what the plain
queries they replace gave: the same persons, in the same order, with the same count."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import case, exists, func, or_, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from equicover.admin.service import create_user
from equicover.auth.models import User
from equicover.db.like import LIKE_ESCAPE, contains_pattern, prefix_pattern
from equicover.enrolment.models import Enrolment
from equicover.registry import service as registry
from equicover.registry.models import Household, Person, PersonCategory
from equicover.registry.normalise import romanise
from equicover.registry.quality_models import PersonNameForms
from equicover.registry.schemas import CategoryIn
from equicover.registry.scoping import persons_filter, registry_area
from equicover.registry.service import holds_on
from equicover.reports import dashboard_coverage, dashboard_totals
from equicover.web import queries
from tests import factories as make
from tests.factories import YEAR_ENDS, YEAR_STARTS, vn_world

IN_THE_YEAR = dt.date(2024, 10, 1)


def _user(session: Session, role: str, area: str | None, provider: str | None = None) -> User:
    return create_user(
        session=session,
        username=f"{role}-{area or 'all'}",
        password="a long test password 1",
        role=role,
        area_code=area,
        provider_code=provider,
    )


@pytest.fixture
def world(session: Session) -> Any:
    """:func:`vn_world` and households of several members in D1 and D2: holders of one category or
    two, of a category that ended or begins later, enrolled or not, dead, born or registered after
    the day; names in several scripts, some beginning alike."""
    built = vn_world(session)
    poor = ["registered_poor"]
    ended = [CategoryIn(category="near_poor", valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2024, 8, 31))]
    later = [CategoryIn(category="registered_poor", valid_from=dt.date(2025, 1, 1))]
    both = ["registered_poor", "elderly"]
    households: list[tuple[str, str, list[tuple[str, list[Any]]]]] = [
        ("Z1", "C11", [("杨飞", poor), ("杨伟", both), ("欧阳杨", ["elderly"]), ("Nguyễn Văn Yang", ended)]),
        ("A7", "C12", [("Yang Li", poor), ("yang li", later), ("Lê Thị Yến", poor), ("Ahmed Yanga", both)]),
        ("M3", "N21", [("杨飞", poor), ("Yanis 100%_x", poor), ("王芳", ["student"])]),
        ("B2", "C11", [("Trần Yang", ["elderly"]), ("Zhang Wei", poor), ("张伟", poor)]),
    ]
    people: list[Person] = []
    for code, place, members in households:
        _, made = make.household(
            session,
            code=code,
            location_code=place,
            members=[
                make.person_in(full_name=name, birth_date=dt.date(1950 + number, 3, 1), categories=held)
                for number, (name, held) in enumerate(members)
            ],
        )
        people += made
    for index in (1, 6, 9):  # three of them enrolled
        make.enrolment(session, person_id=people[index].id, scheme_id=built.scheme_id, period_id=built.period_id)
    people[4].death_date = dt.date(2024, 9, 1)  # died before the day
    people[12].birth_date = dt.date(2024, 12, 1)  # born after it
    people[13].registered_on = dt.date(2025, 2, 1)  # registered after it
    session.flush()
    return built


def _old_gaps(session: Session, user: Any, on: dt.date, category: str | None, limit: int, offset: int) -> Any:
    """The coverage gaps as the page first read them: a count, and a page in household order."""
    holding = exists().where(PersonCategory.person_id == Person.id, *holds_on(on))
    if category:
        holding = exists().where(
            PersonCategory.person_id == Person.id, PersonCategory.category == category, *holds_on(on)
        )
    enrolled = exists().where(
        Enrolment.person_id == Person.id, Enrolment.status == "active", Enrolment.starts <= on, Enrolment.ends >= on
    )
    conditions = [
        persons_filter(user),
        Person.birth_date <= on,
        Person.registered_on <= on,
        or_(Person.death_date.is_(None), Person.death_date > on),
        Person.merged_into_id.is_(None),
        holding,
        ~enrolled,
    ]
    total = session.scalar(select(func.count()).select_from(Person).where(*conditions)) or 0
    ids = session.scalars(
        select(Person.id)
        .join(Household, Household.id == Person.household_id)
        .where(*conditions)
        .order_by(Household.code, Person.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(ids), total


GAP_DAYS = (IN_THE_YEAR, YEAR_STARTS, dt.date(2025, 3, 1), YEAR_ENDS + dt.timedelta(days=1))


@pytest.mark.parametrize("kept", [False, True], ids=["counted", "kept"])
def test_the_gaps_are_those_of_the_plain_query(session: Session, world: Any, kept: bool) -> None:
    """Counted from the persons on a date not kept, read from the kept coverage on a kept date:
    the same persons, in the same order, with the same count, whoever asks."""
    users = [_user(session, "registrar", "D1"), _user(session, "registrar", "D2"), _user(session, "admin", None)]
    if kept:
        dashboard_totals.keep_coverage(session=session, days=GAP_DAYS)
    assert dashboard_coverage.built_dates(session=session) == (sorted(GAP_DAYS) if kept else [])
    compared = 0
    for user in users:
        for on in GAP_DAYS:
            for category in (None, "registered_poor", "elderly", "near_poor", "student", "no_such_category"):
                _, everyone = _old_gaps(session, user, on, category, 1000, 0)
                for limit, offset in ((50, 0), (2, 0), (2, 2), (3, 3), (2, 100)):
                    rows, total = queries.coverage_gaps(
                        session=session, user=user, on=on, category=category, limit=limit, offset=offset
                    )
                    assert ([row.person.id for row in rows], total) == _old_gaps(
                        session, user, on, category, limit, offset
                    ), (user.username, on, category, limit, offset)
                    compared += bool(rows)
                    assert total == everyone
    assert compared > 50  # the world has gaps to show, not only empty pages


def test_a_gap_row_shows_the_person_and_the_categories_held_on_the_day(session: Session, world: Any) -> None:
    admin = _user(session, "admin", None)
    rows, total = queries.coverage_gaps(session=session, user=admin, on=IN_THE_YEAR, category="elderly")
    assert total == 3  # 杨伟 holds it too, but is enrolled
    assert [(row.person.full_name, row.person.household_code, sorted(row.categories)) for row in rows] == [
        ("Ahmed Yanga", "A7", ["elderly", "registered_poor"]),
        ("Trần Yang", "B2", ["elderly"]),
        ("欧阳杨", "Z1", ["elderly"]),
    ]


def test_a_registrar_sees_a_change_among_the_kept_gaps_at_once(session: Session, world: Any) -> None:
    """The gaps of a kept date are read after the registry changes a registrar just made are
    folded in: an enrolment closes a gap, a new category opens one, on the next page."""
    registrar = _user(session, "registrar", "D1")
    dashboard_totals.keep_coverage(session=session, days=[IN_THE_YEAR])
    before, total = queries.coverage_gaps(session=session, user=registrar, on=IN_THE_YEAR)
    closed = before[0].person.id
    make.enrolment(session, person_id=closed, scheme_id=world.scheme_id, period_id=world.period_id)
    opened = world.person_ids[2]  # in D1, holding no category
    assert opened not in {row.person.id for row in before}
    registry.set_category(session=session, person_id=opened, category="elderly", valid_from=dt.date(2024, 1, 1))
    session.flush()
    assert dashboard_totals.registry_changes_waiting(session=session)
    after, total_after = queries.coverage_gaps(session=session, user=registrar, on=IN_THE_YEAR, limit=1000)
    assert not dashboard_totals.registry_changes_waiting(session=session)
    ids = [row.person.id for row in after]
    assert closed not in ids and opened in ids
    assert (ids, total_after) == _old_gaps(session, registrar, IN_THE_YEAR, None, 1000, 0)


def test_the_kept_gaps_are_read_from_the_listing_index_in_order(session: Session, world: Any) -> None:
    """On PostgreSQL a page of gaps and their count each read one range of the listing index,
    with no sort, however many gaps the province has."""
    if session.get_bind().dialect.name != "postgresql":
        return  # the plan asked about is PostgreSQL's; SQLite reads the same rows (the test above)
    registrar = _user(session, "registrar", "D1")
    # a sort is taken only when nothing else gives the order: with the few rows of a test the
    # planner would sort them all rather than read the index in order
    session.execute(sql("SET LOCAL enable_seqscan = off"))
    session.execute(sql("SET LOCAL enable_bitmapscan = off"))
    session.execute(sql("SET LOCAL enable_sort = off"))
    for category, area in ((None, None), ("registered_poor", registry_area(registrar))):
        for statement in dashboard_coverage._gap_queries(
            on=IN_THE_YEAR, category=category, area=area, limit=50, offset=100
        ):
            compiled = statement.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
            plan = "\n".join(row[0] for row in session.execute(sql(f"EXPLAIN {compiled}")))
            assert "using ix_dashboard_coverage_gaps_listing on dashboard_coverage_gaps" in plan, plan
            assert not any(line.strip().startswith(("->  Sort ", "Sort ")) for line in plan.splitlines()), plan


def _old_by_name(session: Session, user: Any, text: str, limit: int) -> list[int]:
    """The search by name as the window first ran it: one query, every condition ORed, ranked."""
    romanised = romanise(text)
    compact = romanised.replace(" ", "")
    starts = func.lower(Person.full_name).like(func.lower(prefix_pattern(text)), escape=LIKE_ESCAPE)
    contains = func.lower(Person.full_name).like(func.lower(contains_pattern(text)), escape=LIKE_ESCAPE)
    conditions = [starts, contains]
    ranks: list[tuple[Any, int]] = [(starts, 0)]
    if romanised:
        forms = PersonNameForms.romanised
        romanised_starts = forms.like(prefix_pattern(romanised), escape=LIKE_ESCAPE)
        together = func.replace(forms, " ", "").like(prefix_pattern(compact), escape=LIKE_ESCAPE)
        later_part = forms.like(contains_pattern(" " + romanised), escape=LIKE_ESCAPE)
        conditions += [romanised_starts, together, later_part]
        ranks += [(romanised_starts, 1), (together, 2), (later_part, 3)]
    query = (
        select(Person.id)
        .join(Household, Household.id == Person.household_id)
        .outerjoin(PersonNameForms, PersonNameForms.person_id == Person.id)
        .where(persons_filter(user), or_(*conditions))
        # names beginning with the text in lower-case byte order (their pattern index's), the others by name
        .order_by(
            case(*ranks, else_=4), case((starts, func.lower(Person.full_name)), else_=Person.full_name), Person.id
        )
        .limit(limit)
    )
    return list(session.scalars(query))


TYPED = (
    "杨",
    "杨飞",
    "Yang",
    "yang li",
    "yangli",
    "YANG",
    "yáng fēi",
    "ya",
    "y",
    "li",
    "an",
    "Yanis 100%",
    "%",
    "_",
    "Zhang",
    "张",
    "zhangwei",
    "wei",
    "Lê",
    "nobody",
)


@pytest.mark.parametrize("limit", [50, 3, 1])
def test_the_names_found_are_those_of_the_plain_query(session: Session, world: Any, limit: int) -> None:
    session.delete(session.get(PersonNameForms, world.other_person_id))  # a person without name forms
    session.flush()
    clerk = _user(session, "clerk", None, provider="PA")
    registrar = _user(session, "registrar", "D1")
    for user in (clerk, registrar):
        base = queries._person_select().where(persons_filter(user))
        for text in TYPED:
            found = [row.id for row in queries._by_name(session, base, text, limit)]
            assert found == _old_by_name(session, user, text, limit), (user.username, text, limit)
    assert queries.search_persons(session=session, user=clerk, text="Member Four")[0].id == world.other_person_id
