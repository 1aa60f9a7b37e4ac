"""Registering households: the happy path, history, and every refusal leaving nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from equicover.audit.service import history
from equicover.db.session import session_scope
from equicover.errors import Conflict, ValidationFailed
from equicover.registry.models import Person, PersonCategory
from equicover.registry.schemas import CategoryIn, HouseholdIn, PersonIn, PersonUpdate
from equicover.registry.service import (
    categories_at,
    find_person_by_national_id,
    household_members,
    register_household,
    update_person,
)

TODAY = dt.date(2024, 6, 30)
WRITTEN_TABLES = ("households", "persons", "person_categories", "change_log")


def member(**overrides) -> PersonIn:
    fields = {
        "full_name": "Nguyễn Văn An",
        "given_name": "An",
        "family_name": "Nguyễn",
        "name_script": "Latn",
        "sex": "male",
        "birth_date": dt.date(1980, 5, 1),
    }
    fields.update(overrides)
    return PersonIn(**fields)


def household(code: str = "H1", location_code: str = "C11", members: list[PersonIn] | None = None) -> HouseholdIn:
    return HouseholdIn(
        code=code, location_code=location_code, registered_on=dt.date(2020, 1, 1), members=members or [member()]
    )


def test_register_household_with_members_categories_and_history(session, geo) -> None:
    registered = register_household(
        session=session,
        household=household(
            members=[
                member(
                    national_id="001080000001",
                    id_type="cccd",
                    categories=[CategoryIn(category="near_poor", valid_from=dt.date(2024, 1, 1))],
                ),
                member(
                    full_name="محمد العلوي",
                    given_name="محمد",
                    family_name="العلوي",
                    name_script="Arab",
                    sex="female",
                    birth_date=dt.date(2021, 3, 4),
                    location_code="C12",
                ),
            ]
        ),
        today=TODAY,
    )
    people = household_members(session=session, household_id=registered.id)
    assert [p.full_name for p in people] == ["Nguyễn Văn An", "محمد العلوي"]
    assert people[0].location_id == geo["C11"].id  # the household's location by default
    assert people[1].location_id == geo["C12"].id
    # A child born after the household registered is registered from birth.
    assert people[1].registered_on == dt.date(2021, 3, 4)
    assert people[0].registered_on == dt.date(2020, 1, 1)
    assert categories_at(session=session, person_id=people[0].id, on=TODAY) == ["near_poor"]
    assert find_person_by_national_id(session=session, id_type="cccd", national_id="001080000001").id == people[0].id

    assert [row.action for row in history(session=session, entity="households", entity_id=registered.id)] == ["create"]
    person_log = history(session=session, entity="persons", entity_id=people[1].id)
    assert len(person_log) == 1 and person_log[0].after["full_name"] == "محمد العلوي"
    assert person_log[0].after["birth_date"] == "2021-03-04"


def _refused(session_factory, row_counts, payload: HouseholdIn, error_type, record: str, field: str):
    before = row_counts(*WRITTEN_TABLES)
    with pytest.raises(error_type) as caught:
        with session_scope(session_factory) as session:
            register_household(session=session, household=payload, today=TODAY)
    assert caught.value.record == record
    assert caught.value.field == field
    assert row_counts(*WRITTEN_TABLES) == before, "a refused registration must write nothing"
    return caught.value


def test_unknown_location_is_refused_and_nothing_written(session_factory, row_counts, geo, session) -> None:
    session.commit()  # make the tree visible to other sessions of this test
    _refused(
        session_factory,
        row_counts,
        household(location_code="NOWHERE"),
        ValidationFailed,
        "household H1",
        "location_code",
    )
    _refused(
        session_factory,
        row_counts,
        household(members=[member(), member(location_code="NOWHERE")]),
        ValidationFailed,
        "household H1 members[1]",
        "location_code",
    )


def test_birth_date_in_the_future_is_refused_and_nothing_written(session_factory, row_counts, geo, session) -> None:
    session.commit()
    error = _refused(
        session_factory,
        row_counts,
        household(members=[member(), member(birth_date=TODAY + dt.timedelta(days=1))]),
        ValidationFailed,
        "household H1 members[1]",
        "birth_date",
    )
    assert error.status == 422
    # Born today is fine.
    with session_scope(session_factory) as writer:
        register_household(session=writer, household=household(members=[member(birth_date=TODAY)]), today=TODAY)


def test_duplicate_national_id_within_one_id_type_is_refused(session_factory, row_counts, geo, session) -> None:
    session.commit()
    with session_scope(session_factory) as writer:
        register_household(
            session=writer, household=household(members=[member(national_id="AB123", id_type="cni")]), today=TODAY
        )
    error = _refused(
        session_factory,
        row_counts,
        household(code="H2", members=[member(), member(national_id="AB123", id_type="cni")]),
        Conflict,
        "household H2 members[1]",
        "national_id",
    )
    assert error.status == 409
    assert "AB123" not in str(error) and "Nguyễn" not in str(error), "no personal data in messages"
    # Twice in the same new household, too.
    _refused(
        session_factory,
        row_counts,
        household(
            code="H3", members=[member(national_id="ZZ9", id_type="cni"), member(national_id="ZZ9", id_type="cni")]
        ),
        Conflict,
        "household H3 members[1]",
        "national_id",
    )
    # The same number under another ID type is another document: accepted.
    with session_scope(session_factory) as writer:
        register_household(
            session=writer,
            household=household(code="H4", members=[member(national_id="AB123", id_type="passport")]),
            today=TODAY,
        )
    assert row_counts("persons")["persons"] == 2


def test_other_member_refusals(session_factory, row_counts, geo, session) -> None:
    session.commit()
    _refused(
        session_factory,
        row_counts,
        household(members=[member(national_id="X1")]),
        ValidationFailed,
        "household H1 members[0]",
        "id_type",
    )
    _refused(
        session_factory,
        row_counts,
        household(members=[member(categories=[CategoryIn(category="royalty", valid_from=dt.date(2024, 1, 1))])]),
        ValidationFailed,
        "household H1 members[0] categories[0]",
        "category",
    )
    _refused(
        session_factory,
        row_counts,
        household(
            members=[
                member(
                    categories=[
                        CategoryIn(category="elderly", valid_from=dt.date(2024, 1, 1), valid_to=dt.date(2023, 1, 1))
                    ]
                )
            ]
        ),
        ValidationFailed,
        "household H1 members[0] categories[0]",
        "valid_to",
    )
    _refused(
        session_factory,
        row_counts,
        household(members=[member(registered_on=dt.date(1970, 1, 1))]),
        ValidationFailed,
        "household H1 members[0]",
        "registered_on",
    )
    with session_scope(session_factory) as writer:
        register_household(session=writer, household=household(), today=TODAY)
    _refused(session_factory, row_counts, household(), Conflict, "household H1", "code")


def test_update_person_logs_before_and_after_of_changed_fields_only(session, geo) -> None:
    registered = register_household(session=session, household=household(members=[member(phone="0900")]), today=TODAY)
    person = household_members(session=session, household_id=registered.id)[0]
    update_person(
        session=session,
        person_id=person.id,
        changes=PersonUpdate(phone="0911", location_code="N21", sex="male"),
        actor="clerk-7",
        today=TODAY,
    )
    log = history(session=session, entity="persons", entity_id=person.id)
    assert [row.action for row in log] == ["create", "update"]
    assert log[1].actor == "clerk-7"
    assert log[1].before == {"phone": "0900", "location_id": geo["C11"].id}
    assert log[1].after == {"phone": "0911", "location_id": geo["N21"].id}


def test_update_person_refusals_write_nothing(session_factory, row_counts, geo, session) -> None:
    registered = register_household(
        session=session, household=household(members=[member(), member(national_id="N1", id_type="cni")]), today=TODAY
    )
    session.commit()
    first, second = household_members(session=session, household_id=registered.id)
    before = row_counts("change_log")
    cases = [
        (PersonUpdate(birth_date=TODAY + dt.timedelta(days=3)), ValidationFailed, "birth_date"),
        (PersonUpdate(death_date=dt.date(1979, 1, 1)), ValidationFailed, "death_date"),
        (PersonUpdate(location_code="NOWHERE"), ValidationFailed, "location_code"),
        (PersonUpdate(national_id="N1", id_type="cni"), Conflict, "national_id"),
    ]
    for changes, error_type, field in cases:
        with pytest.raises(error_type) as caught:
            with session_scope(session_factory) as writer:
                update_person(session=writer, person_id=first.id, changes=changes, today=TODAY)
        assert (caught.value.record, caught.value.field) == (f"person {first.id}", field)
    assert row_counts("change_log") == before
    with session_factory() as reader:
        stored = reader.get(Person, first.id)
        assert stored.national_id is None and stored.death_date is None and stored.location_id == geo["C11"].id


def test_categories_of_new_members_overlapping_each_other_are_refused(
    session_factory, row_counts, geo, session
) -> None:
    session.commit()
    overlapping = [
        CategoryIn(category="near_poor", valid_from=dt.date(2024, 1, 1), valid_to=dt.date(2024, 6, 30)),
        CategoryIn(category="near_poor", valid_from=dt.date(2024, 6, 30)),
    ]
    _refused(
        session_factory,
        row_counts,
        household(members=[member(categories=overlapping)]),
        Conflict,
        "household H1 members[0]",
        "categories",
    )
    with session_factory() as reader:
        assert reader.scalar(select(PersonCategory.id)) is None
