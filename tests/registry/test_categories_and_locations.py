"""Category validity dates, category history, the location tree and bulk loading."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from equicover.audit.models import ChangeLog
from equicover.audit.service import history
from equicover.db.session import session_scope
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.registry.models import Location, Person
from equicover.registry.schemas import LocationIn
from equicover.registry.service import (
    bulk_insert_households,
    bulk_insert_locations,
    bulk_insert_person_categories,
    bulk_insert_persons,
    categories_at,
    create_location,
    end_category,
    set_category,
)
from tests import factories as make


@pytest.fixture
def person_id(session, geo) -> int:
    """A woman born 1950-02-02, alone in household H1 in C11, holding no category."""
    return make.person(
        session, household_code="H1", location_code="C11", full_name="Lý Thị Mai", birth_date=dt.date(1950, 2, 2)
    ).id


def test_category_validity_dates_are_inclusive_at_both_ends(session, person_id) -> None:
    set_category(
        session=session,
        person_id=person_id,
        category="registered_poor",
        valid_from=dt.date(2023, 1, 1),
        valid_to=dt.date(2023, 12, 31),
    )
    set_category(session=session, person_id=person_id, category="elderly", valid_from=dt.date(2010, 2, 2))
    set_category(session=session, person_id=person_id, category="near_poor", valid_from=dt.date(2024, 1, 1))
    assert categories_at(session=session, person_id=person_id, on=dt.date(2022, 12, 31)) == ["elderly"]
    assert categories_at(session=session, person_id=person_id, on=dt.date(2023, 1, 1)) == ["elderly", "registered_poor"]
    assert categories_at(session=session, person_id=person_id, on=dt.date(2023, 12, 31)) == [
        "elderly",
        "registered_poor",
    ]
    assert categories_at(session=session, person_id=person_id, on=dt.date(2024, 1, 1)) == ["elderly", "near_poor"]
    assert categories_at(session=session, person_id=person_id, on=dt.date(2009, 1, 1)) == []


def test_end_category_closes_the_holding_and_logs_before_and_after(session, person_id) -> None:
    held = set_category(
        session=session,
        person_id=person_id,
        category="near_poor",
        valid_from=dt.date(2024, 1, 1),
        source="census 2023",
        actor="clerk-1",
    )
    end_category(
        session=session, person_id=person_id, category="near_poor", valid_to=dt.date(2024, 3, 31), actor="clerk-2"
    )
    assert categories_at(session=session, person_id=person_id, on=dt.date(2024, 3, 31)) == ["near_poor"]
    assert categories_at(session=session, person_id=person_id, on=dt.date(2024, 4, 1)) == []
    log = history(session=session, entity="person_categories", entity_id=held.id)
    assert [(row.action, row.actor) for row in log] == [("create", "clerk-1"), ("end", "clerk-2")]
    assert log[0].after["valid_from"] == "2024-01-01" and log[0].after["source"] == "census 2023"
    assert log[1].before == {"valid_to": None} and log[1].after == {"valid_to": "2024-03-31"}
    # Once ended, it can be held again from a later date.
    set_category(session=session, person_id=person_id, category="near_poor", valid_from=dt.date(2024, 6, 1))
    assert categories_at(session=session, person_id=person_id, on=dt.date(2024, 6, 1)) == ["near_poor"]


def test_set_category_refusals_write_nothing(session_factory, row_counts, session, person_id) -> None:
    set_category(
        session=session,
        person_id=person_id,
        category="near_poor",
        valid_from=dt.date(2024, 1, 1),
        valid_to=dt.date(2024, 12, 31),
    )
    session.commit()
    before = row_counts("person_categories", "change_log")
    cases = [
        (
            dict(person_id=person_id, category="near_poor", valid_from=dt.date(2024, 12, 31)),
            Conflict,
            f"person {person_id}",
            "valid_from",
        ),
        (
            dict(
                person_id=person_id, category="near_poor", valid_from=dt.date(2023, 1, 1), valid_to=dt.date(2024, 1, 1)
            ),
            Conflict,
            f"person {person_id}",
            "valid_from",
        ),
        (
            dict(person_id=person_id, category="wizard", valid_from=dt.date(2024, 1, 1)),
            ValidationFailed,
            f"person {person_id}",
            "category",
        ),
        (
            dict(person_id=person_id, category="student", valid_from=dt.date(2024, 2, 1), valid_to=dt.date(2024, 1, 1)),
            ValidationFailed,
            f"person {person_id}",
            "valid_to",
        ),
        (
            dict(person_id=999_999, category="student", valid_from=dt.date(2024, 1, 1)),
            NotFound,
            "person 999999",
            "person_id",
        ),
    ]
    for arguments, error_type, record, field in cases:
        with pytest.raises(error_type) as caught:
            with session_scope(session_factory) as writer:
                set_category(session=writer, **arguments)
        assert (caught.value.record, caught.value.field) == (record, field)
    assert row_counts("person_categories", "change_log") == before
    # Adjacent (non-overlapping) periods are fine.
    set_category(session=session, person_id=person_id, category="near_poor", valid_from=dt.date(2025, 1, 1))


def test_location_tree_keeps_ancestors_and_refuses_bad_parents(session, geo) -> None:
    commune = geo["C11"]
    assert (commune.country_id, commune.province_id, commune.district_id) == (geo["VN"].id, geo["LC"].id, geo["D1"].id)
    assert geo["D2"].district_id == geo["D2"].id and geo["D2"].province_id == geo["LC"].id
    assert geo["LC"].district_id is None
    with pytest.raises(ValidationFailed) as caught:
        create_location(session=session, location=LocationIn(code="C99", name="x", level="commune", parent_code="LC"))
    assert (caught.value.record, caught.value.field) == ("location C99", "parent_code")
    with pytest.raises(ValidationFailed):
        create_location(session=session, location=LocationIn(code="C98", name="x", level="commune", parent_code="NOPE"))
    with pytest.raises(Conflict):
        create_location(session=session, location=LocationIn(code="D1", name="x", level="district", parent_code="LC"))


def test_bulk_loaders_write_rows_compute_ancestors_and_honour_constraints(session) -> None:
    written = bulk_insert_locations(
        session=session,
        rows=[
            {"id": 1001, "code": "KH", "name": "Cambodia", "level": "country", "parent_id": None},
            {"id": 1002, "code": "KH-12", "name": "Phnom Penh", "level": "province", "parent_id": 1001},
            {"id": 1003, "code": "KH-1201", "name": "Chamkar Mon", "level": "district", "parent_id": 1002},
            {"id": 1004, "code": "KH-120101", "name": "Tonle Basak", "level": "commune", "parent_id": 1003},
        ],
    )
    assert written == 4
    leaf = session.get(Location, 1004)
    assert (leaf.country_id, leaf.province_id, leaf.district_id) == (1001, 1002, 1003)
    # Columns, not rows; ISO text dates accepted.
    bulk_insert_households(
        session=session,
        rows={
            "id": [5001, 5002],
            "code": ["K1", "K2"],
            "location_id": [1004, 1004],
            "registered_on": ["2023-01-01", "2023-02-01"],
        },
    )
    bulk_insert_persons(
        session=session,
        rows={
            "id": [7001, 7002, 7003],
            "household_id": [5001, 5001, 5002],
            "full_name": ["សុខ ចាន់", "ចាន់ ស្រីមុំ", "Dara"],
            "name_script": ["Khmr", "Khmr", "Latn"],
            "sex": ["male", "female", "unknown"],
            "birth_date": [dt.date(1970, 1, 1), dt.date(1975, 1, 1), dt.date(2000, 1, 1)],
            "national_id": ["K-1", None, "K-2"],
            "id_type": ["khmer_id", None, "khmer_id"],
            "location_id": [1004, 1004, 1004],
        },
    )
    bulk_insert_person_categories(
        session=session, rows=[{"person_id": 7001, "category": "registered_poor", "valid_from": dt.date(2023, 1, 1)}]
    )
    stored = session.get(Person, 7002)
    assert stored.registered_on == dt.date(1975, 1, 1)  # defaults to birth date
    assert stored.full_name == "ចាន់ ស្រីមុំ"
    assert categories_at(session=session, person_id=7001, on=dt.date(2023, 5, 1)) == ["registered_poor"]
    bulk_log = session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "persons", ChangeLog.action == "bulk_load")
    ).all()
    assert [row.after for row in bulk_log] == [{"rows": 3}]
    # After explicit ids, ordinary inserts still get fresh ids (PostgreSQL sequence moved on).
    create_location(
        session=session,
        location=LocationIn(code="KH-120102", name="Boeung Keng Kang", level="commune", parent_code="KH-1201"),
    )
    assert session.scalar(select(Location.id).where(Location.code == "KH-120102")) > 1004


def test_bulk_load_violations_are_validation_errors(session_factory, geo, session) -> None:
    session.commit()
    with pytest.raises(ValidationFailed) as caught:
        with session_scope(session_factory) as writer:
            bulk_insert_households(
                session=writer,
                rows=[{"id": 1, "code": "Q", "location_id": 424242, "registered_on": dt.date(2020, 1, 1)}],
            )
    assert caught.value.record == "households (bulk load)"
    with pytest.raises(ValidationFailed) as caught:
        with session_scope(session_factory) as writer:
            bulk_insert_locations(
                session=writer,
                rows=[{"id": 77, "code": "Z", "name": "z", "level": "commune", "parent_id": geo["LC"].id}],
            )
    assert caught.value.field == "parent_id"
