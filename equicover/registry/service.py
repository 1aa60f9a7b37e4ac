"""Registry services: the only door to the registry tables.

Every function is keyword-only, takes the caller's ``session`` and never commits: the caller
runs one operation inside :func:`equicover.db.session.session_scope`, which commits once or
rolls back everything. Each function validates its whole input before writing anything, so a
refusal leaves nothing behind even before the rollback.

Errors name the record and the field; they never carry names, national IDs or phone numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change, record_changes_bulk
from equicover.auth.models import User
from equicover.db.bulk import DEFAULT_CHUNK_SIZE, CopyOf, Rows, bulk_insert_rows
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.registry.models import (
    LOCATION_LEVELS,
    Category,
    Household,
    Location,
    Person,
    PersonCategory,
)
from equicover.registry.normalise import name_forms
from equicover.registry.quality_models import PersonNameForms
from equicover.registry.schemas import CategoryIn, HouseholdIn, LocationIn, PersonIn, PersonUpdate
from equicover.registry.scoping import persons_filter

# The level a parent must have, for each level.
_PARENT_LEVEL: dict[str, str | None] = {
    "country": None,
    "province": "country",
    "district": "province",
    "commune": "district",
    "neighbourhood": "district",
}


_PERSON_FIELDS = (
    "household_id",
    "given_name",
    "family_name",
    "full_name",
    "name_script",
    "sex",
    "birth_date",
    "national_id",
    "id_type",
    "phone",
    "location_id",
    "registered_on",
    "death_date",
)


def _person_snapshot(person: Person, fields: Iterable[str] = _PERSON_FIELDS) -> dict[str, Any]:
    return {name: getattr(person, name) for name in fields}


def _category_snapshot(row: PersonCategory) -> dict[str, Any]:
    return {
        "person_id": row.person_id,
        "category": row.category,
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
        "source": row.source,
    }


# --------------------------------------------------------------------------------------------
# Locations


def _ancestors(level: str, own_id: int, parent: Location | None) -> dict[str, int | None]:
    ancestors: dict[str, int | None] = {
        "country_id": parent.country_id if parent else None,
        "province_id": parent.province_id if parent else None,
        "district_id": parent.district_id if parent else None,
    }
    if level in ("country", "province", "district"):
        ancestors[f"{level}_id"] = own_id
    return ancestors


def create_location(*, session: Session, location: LocationIn, actor: str = SYSTEM_ACTOR) -> Location:
    """Add one location under its parent (a country has none)."""
    record = f"location {location.code}"
    if session.scalar(select(Location.id).where(Location.code == location.code)) is not None:
        raise Conflict(record, "code", "a location with this code exists")
    expected_parent_level = _PARENT_LEVEL[location.level]
    parent: Location | None = None
    if expected_parent_level is None:
        if location.parent_code is not None:
            raise ValidationFailed(record, "parent_code", "a country has no parent")
    else:
        if location.parent_code is None:
            raise ValidationFailed(record, "parent_code", f"a {location.level} needs a {expected_parent_level} parent")
        parent = session.scalar(select(Location).where(Location.code == location.parent_code))
        if parent is None:
            raise ValidationFailed(record, "parent_code", "unknown location")
        if parent.level != expected_parent_level:
            raise ValidationFailed(
                record,
                "parent_code",
                f"the parent is a {parent.level}, a {location.level} needs a {expected_parent_level}",
            )
    row = Location(
        code=location.code, name=location.name, level=location.level, parent_id=parent.id if parent else None
    )
    session.add(row)
    session.flush()  # the id is needed: a location is its own ancestor at its level
    for name, value in _ancestors(location.level, row.id, parent).items():
        setattr(row, name, value)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="locations",
        entity_id=row.id,
        action="create",
        after={"code": row.code, "level": row.level, "parent_id": row.parent_id},
    )
    return row


def get_location(*, session: Session, code: str) -> Location:
    row = session.scalar(select(Location).where(Location.code == code))
    if row is None:
        raise NotFound(f"location {code}", "code", "unknown location")
    return row


def _location_id_for(session: Session, code: str, record: str, field: str) -> int:
    location_id = session.scalar(select(Location.id).where(Location.code == code))
    if location_id is None:
        raise ValidationFailed(record, field, "unknown location")
    return location_id


# --------------------------------------------------------------------------------------------
# Categories


def create_category(*, session: Session, code: str, label: str) -> Category:
    if session.get(Category, code) is not None:
        raise Conflict(f"category {code}", "code", "this category exists")
    row = Category(code=code, label=label)
    session.add(row)
    session.flush()
    return row


def list_categories(*, session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.code)))


def _check_category_period(record: str, item: CategoryIn | None, valid_from: dt.date, valid_to: dt.date | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed(record, "valid_to", "is before valid_from")


def _overlapping_category(
    session: Session, person_id: int, category: str, valid_from: dt.date, valid_to: dt.date | None
) -> PersonCategory | None:
    # Two inclusive periods overlap when each starts no later than the other ends.
    conditions = [
        PersonCategory.person_id == person_id,
        PersonCategory.category == category,
        or_(PersonCategory.valid_to.is_(None), PersonCategory.valid_to >= valid_from),
    ]
    if valid_to is not None:
        conditions.append(PersonCategory.valid_from <= valid_to)
    return session.scalar(select(PersonCategory).where(*conditions).limit(1))


def set_category(
    *,
    session: Session,
    person_id: int,
    category: str,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    source: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> PersonCategory:
    """Give a person a category for a period (inclusive; ``valid_to=None`` = open-ended).

    Refused: unknown person or category, ``valid_to`` before ``valid_from``, a period overlapping
    one the person already holds in the same category (end that one first).
    """
    record = f"person {person_id}"
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(record, "person_id", "unknown person")
    if session.get(Category, category) is None:
        raise ValidationFailed(record, "category", f"unknown category {category!r}")
    _check_category_period(record, None, valid_from, valid_to)
    clash = _overlapping_category(session, person_id, category, valid_from, valid_to)
    if clash is not None:
        raise Conflict(
            record, "valid_from", f"overlaps {category} held from {clash.valid_from} (person_categories {clash.id})"
        )
    row = PersonCategory(
        person_id=person_id, category=category, valid_from=valid_from, valid_to=valid_to, source=source
    )
    session.add(row)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="person_categories",
        entity_id=row.id,
        action="create",
        after=_category_snapshot(row),
    )
    return row


def end_category(
    *,
    session: Session,
    person_id: int,
    category: str,
    valid_to: dt.date,
    actor: str = SYSTEM_ACTOR,
) -> PersonCategory:
    """Close the person's open-ended (or later-ending) holding of ``category`` on ``valid_to`` (inclusive)."""
    record = f"person {person_id}"
    if session.get(Person, person_id) is None:
        raise NotFound(record, "person_id", "unknown person")
    row = session.scalar(
        select(PersonCategory)
        .where(
            PersonCategory.person_id == person_id,
            PersonCategory.category == category,
            PersonCategory.valid_from <= valid_to,
            or_(PersonCategory.valid_to.is_(None), PersonCategory.valid_to > valid_to),
        )
        .order_by(PersonCategory.valid_from.desc())
        .limit(1)
    )
    if row is None:
        raise NotFound(record, "category", f"no holding of {category} runs past {valid_to}")
    before = _category_snapshot(row)
    row.valid_to = valid_to
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="person_categories",
        entity_id=row.id,
        action="end",
        before={"valid_to": before["valid_to"]},
        after={"valid_to": valid_to},
    )
    return row


def categories_at(*, session: Session, person_id: int, on: dt.date) -> list[str]:
    """The categories the person holds on ``on`` (sorted)."""
    return sorted(
        session.scalars(
            select(PersonCategory.category).where(PersonCategory.person_id == person_id, *holds_on(on)).distinct()
        )
    )


def holds_on(on: dt.date | ColumnElement[dt.date]) -> tuple[ColumnElement[bool], ...]:
    """SQL conditions: a ``person_categories`` row is valid on ``on`` (both ends inclusive); ``on`` is a
    date, or an SQL expression of one (a bound parameter of a prepared statement)."""
    return (
        PersonCategory.valid_from <= on,
        or_(PersonCategory.valid_to.is_(None), PersonCategory.valid_to >= on),
    )


# --------------------------------------------------------------------------------------------
# Households and persons


def register_household(
    *,
    session: Session,
    household: HouseholdIn,
    actor: str = SYSTEM_ACTOR,
    today: dt.date | None = None,
    viewer: User | None = None,
) -> Household:
    """Register a household with its members and their categories, as one operation.

    The whole input is checked first (unknown location, birth date in the future, registration
    before birth, national ID without its type, a national ID already held within its ID type,
    unknown category, bad category period); the first problem found is raised and nothing is
    written. ``today`` is the date "the future" is measured from (default: the system date).
    A national ID already held names its holder only to a ``viewer`` who may see that person.
    """
    today = today or dt.date.today()
    record = f"household {household.code}"
    if session.scalar(select(Household.id).where(Household.code == household.code)) is not None:
        raise Conflict(record, "code", "a household with this code is registered")
    household_location = _location_id_for(session, household.location_code, record, "location_code")
    registered_on = household.registered_on or today
    if registered_on > today:
        raise ValidationFailed(record, "registered_on", "is in the future")

    known_categories = set(session.scalars(select(Category.code)))
    seen_ids: dict[tuple[str, str], int] = {}
    member_locations: list[int] = []
    for index, member in enumerate(household.members):
        member_record = f"{record} members[{index}]"
        member_locations.append(
            _check_member(session, member, member_record, today, registered_on, household_location, viewer)
        )
        if member.national_id is not None:
            key = (member.id_type or "", member.national_id)
            if key in seen_ids:
                raise Conflict(
                    member_record, "national_id", f"same {member.id_type} number as members[{seen_ids[key]}]"
                )
            seen_ids[key] = index
        for position, item in enumerate(member.categories):
            item_record = f"{member_record} categories[{position}]"
            if item.category not in known_categories:
                raise ValidationFailed(item_record, "category", f"unknown category {item.category!r}")
            _check_category_period(item_record, item, item.valid_from, item.valid_to)
        _check_no_self_overlap(member_record, member.categories)

    row = Household(code=household.code, location_id=household_location, registered_on=registered_on)
    session.add(row)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="households",
        entity_id=row.id,
        action="create",
        after={"code": row.code, "location_id": row.location_id, "registered_on": row.registered_on},
    )
    for member, location_id in zip(household.members, member_locations):
        person = Person(
            household_id=row.id,
            given_name=member.given_name,
            family_name=member.family_name,
            full_name=member.full_name,
            name_script=member.name_script,
            sex=member.sex,
            birth_date=member.birth_date,
            national_id=member.national_id,
            id_type=member.id_type,
            phone=member.phone,
            location_id=location_id,
            registered_on=member.registered_on or max(registered_on, member.birth_date),
            death_date=None,
        )
        session.add(person)
        session.flush()
        store_name_forms(session=session, person=person)
        record_change(
            session=session,
            actor=actor,
            entity="persons",
            entity_id=person.id,
            action="create",
            after=_person_snapshot(person),
        )
        for item in member.categories:
            category_row = PersonCategory(
                person_id=person.id,
                category=item.category,
                valid_from=item.valid_from,
                valid_to=item.valid_to,
                source=item.source,
            )
            session.add(category_row)
            session.flush()
            record_change(
                session=session,
                actor=actor,
                entity="person_categories",
                entity_id=category_row.id,
                action="create",
                after=_category_snapshot(category_row),
            )
    return row


def _check_member(
    session: Session,
    member: PersonIn,
    record: str,
    today: dt.date,
    household_registered_on: dt.date,
    household_location: int,
    viewer: User | None = None,
) -> int:
    """Validate one member; return the location id the person will have."""
    if member.birth_date > today:
        raise ValidationFailed(record, "birth_date", "is in the future")
    if member.registered_on is not None:
        if member.registered_on > today:
            raise ValidationFailed(record, "registered_on", "is in the future")
        if member.registered_on < member.birth_date:
            raise ValidationFailed(record, "registered_on", "is before the birth date")
    _check_national_id(session, record, member.national_id, member.id_type, own_person_id=None, viewer=viewer)
    if member.location_code is None:
        return household_location
    return _location_id_for(session, member.location_code, record, "location_code")


def _check_national_id(
    session: Session,
    record: str,
    national_id: str | None,
    id_type: str | None,
    own_person_id: int | None,
    viewer: User | None = None,
) -> None:
    if (national_id is None) != (id_type is None):
        missing = "id_type" if id_type is None else "national_id"
        raise ValidationFailed(record, missing, "national_id and id_type go together")
    if national_id is None:
        return
    holder = session.scalar(select(Person.id).where(Person.id_type == id_type, Person.national_id == national_id))
    if holder is not None and holder != own_person_id:
        # The holder is named only to a caller who may see that person: a registrar of another
        # area must not learn who holds a national ID.
        visible = viewer is not None and session.scalar(
            select(Person.id).where(Person.id == holder, persons_filter(viewer))
        )
        shown = f" (person {holder})" if visible else ""
        raise Conflict(record, "national_id", f"already registered under id type {id_type}{shown}")


def _check_no_self_overlap(record: str, items: list[CategoryIn]) -> None:
    by_category: dict[str, list[CategoryIn]] = {}
    for item in items:
        by_category.setdefault(item.category, []).append(item)
    for category, periods in by_category.items():
        periods = sorted(periods, key=lambda item: item.valid_from)
        for earlier, later in zip(periods, periods[1:]):
            if earlier.valid_to is None or earlier.valid_to >= later.valid_from:
                raise Conflict(record, "categories", f"two periods of {category} overlap")


def store_name_forms(*, session: Session, person: Person) -> PersonNameForms:
    """Keep the person's searchable name forms (folded, romanised, sorted) in step with the name."""
    forms = name_forms(person.full_name)
    row = session.get(PersonNameForms, person.id)
    if row is None:
        row = PersonNameForms(person_id=person.id)
        session.add(row)
    row.folded, row.romanised, row.sorted_key = forms.folded, forms.romanised, forms.key
    session.flush()
    return row


def get_person(*, session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id}", "person_id", "unknown person")
    return person


def get_household(*, session: Session, code: str) -> Household:
    row = session.scalar(select(Household).where(Household.code == code))
    if row is None:
        raise NotFound(f"household {code}", "code", "unknown household")
    return row


def household_members(*, session: Session, household_id: int) -> list[Person]:
    return list(session.scalars(select(Person).where(Person.household_id == household_id).order_by(Person.id)))


def find_person_by_national_id(*, session: Session, id_type: str, national_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.id_type == id_type, Person.national_id == national_id))


def update_person(
    *,
    session: Session,
    person_id: int,
    changes: PersonUpdate,
    actor: str = SYSTEM_ACTOR,
    today: dt.date | None = None,
    viewer: User | None = None,
) -> Person:
    """Change the fields given in ``changes`` and log before/after of exactly those fields."""
    today = today or dt.date.today()
    record = f"person {person_id}"
    person = get_person(session=session, person_id=person_id)
    given = changes.model_dump(exclude_unset=True)
    new_values: dict[str, Any] = {}
    for name, value in given.items():
        if name == "location_code":
            if value is None:
                raise ValidationFailed(record, "location_code", "a person must have a location")
            new_values["location_id"] = _location_id_for(session, value, record, "location_code")
        else:
            if value is None and name in ("full_name", "sex", "birth_date"):
                raise ValidationFailed(record, name, "cannot be removed")
            new_values[name] = value
    birth_date = new_values.get("birth_date", person.birth_date)
    if birth_date > today:
        raise ValidationFailed(record, "birth_date", "is in the future")
    death_date = new_values.get("death_date", person.death_date)
    if death_date is not None:
        if death_date > today:
            raise ValidationFailed(record, "death_date", "is in the future")
        if death_date < birth_date:
            raise ValidationFailed(record, "death_date", "is before the birth date")
    if "national_id" in new_values or "id_type" in new_values:
        _check_national_id(
            session,
            record,
            new_values.get("national_id", person.national_id),
            new_values.get("id_type", person.id_type),
            own_person_id=person.id,
            viewer=viewer,
        )
    changed = {name: value for name, value in new_values.items() if getattr(person, name) != value}
    if not changed:
        return person
    before = _person_snapshot(person, changed)
    for name, value in changed.items():
        setattr(person, name, value)
    session.flush()
    if "full_name" in changed:
        store_name_forms(session=session, person=person)
    record_change(
        session=session,
        actor=actor,
        entity="persons",
        entity_id=person.id,
        action="update",
        before=before,
        after=changed,
    )
    return person


# --------------------------------------------------------------------------------------------
# Bulk loading (synthetic data, migrations from other systems)
#
# These skip the per-record business checks (the caller vouches for the data) but not the
# database's constraints: foreign keys, uniques and checks still hold, and a violation raises
# ValidationFailed naming the table and constraint. Each writes one "bulk_load" row to the
# change log. Rows are dicts or columns; see equicover.db.bulk for the accepted shapes.


def bulk_insert_locations(
    *, session: Session, rows: Rows, actor: str = SYSTEM_ACTOR, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Insert locations. Each row: ``id`` (required), ``code``, ``name``, ``level``, ``parent_id``
    (None for a country). Parents must come before their children in ``rows`` or already be in
    the database; ``country_id`` / ``province_id`` / ``district_id`` are computed here.
    Returns the number of rows written.
    """
    known: dict[int, tuple[str, int | None, int | None, int | None]] = {}

    def prepare(chunk: list[dict[str, Any]]) -> None:
        missing_parents = {row["parent_id"] for row in chunk if row.get("parent_id") is not None} - known.keys()
        missing_parents -= {row["id"] for row in chunk}
        if missing_parents:
            for found in session.execute(
                select(
                    Location.id, Location.level, Location.country_id, Location.province_id, Location.district_id
                ).where(Location.id.in_(missing_parents))
            ):
                known[found.id] = (found.level, found.country_id, found.province_id, found.district_id)
        for row in chunk:
            if "id" not in row:
                raise ValidationFailed("locations (bulk load)", "id", "explicit ids are required for locations")
            level = row["level"]
            if level not in LOCATION_LEVELS:
                raise ValidationFailed(f"location {row['id']}", "level", f"unknown level {level!r}")
            parent_id = row.get("parent_id")
            row["parent_id"] = parent_id
            if parent_id is None:
                ancestors: list[int | None] = [None, None, None]
            else:
                if parent_id not in known:
                    raise ValidationFailed(
                        f"location {row['id']}", "parent_id", "unknown parent (parents must come first)"
                    )
                parent_level, *ancestors = known[parent_id]
                if parent_level != _PARENT_LEVEL[level]:
                    raise ValidationFailed(
                        f"location {row['id']}", "parent_id", f"a {level} cannot sit under a {parent_level}"
                    )
            if level == "country":
                ancestors[0] = row["id"]
            elif level == "province":
                ancestors[1] = row["id"]
            elif level == "district":
                ancestors[2] = row["id"]
            row["country_id"], row["province_id"], row["district_id"] = ancestors
            known[row["id"]] = (level, *ancestors)

    written = bulk_insert_rows(session, Location.__table__, rows, chunk_size=chunk_size, prepare=prepare)
    _log_bulk(session, actor, "locations", written)
    return written


def bulk_insert_households(
    *, session: Session, rows: Rows, actor: str = SYSTEM_ACTOR, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Insert households. Each row: ``id`` (recommended, so persons can point at it), ``code``,
    ``location_id``, ``registered_on`` (date). Returns the number of rows written."""
    written = bulk_insert_rows(session, Household.__table__, rows, chunk_size=chunk_size)
    _log_bulk(session, actor, "households", written)
    return written


_PERSON_OPTIONAL = {
    "given_name": None,
    "family_name": None,
    "name_script": None,
    "national_id": None,
    "id_type": None,
    "phone": None,
    "death_date": None,
}


def bulk_insert_persons(
    *, session: Session, rows: Rows, actor: str = SYSTEM_ACTOR, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Insert persons. Each row: ``id`` (recommended), ``household_id``, ``full_name``, ``sex``
    (female/male/other/unknown), ``birth_date``, ``location_id``; optional ``given_name``,
    ``family_name``, ``name_script``, ``national_id`` + ``id_type`` (both or neither; unique
    together), ``phone``, ``death_date``, ``registered_on`` (default: the birth date).
    Returns the number of rows written."""

    written = bulk_insert_rows(
        session,
        Person.__table__,
        rows,
        chunk_size=chunk_size,
        defaults={**_PERSON_OPTIONAL, "registered_on": CopyOf("birth_date")},
    )
    _log_bulk(session, actor, "persons", written)
    return written


def bulk_insert_person_categories(
    *, session: Session, rows: Rows, actor: str = SYSTEM_ACTOR, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Insert category holdings. Each row: ``person_id``, ``category`` (a code in the
    ``categories`` table), ``valid_from``; optional ``valid_to`` (inclusive, None = open) and
    ``source``. Overlaps are not checked here. Returns the number of rows written."""

    written = bulk_insert_rows(
        session, PersonCategory.__table__, rows, chunk_size=chunk_size, defaults={"valid_to": None, "source": None}
    )
    _log_bulk(session, actor, "person_categories", written)
    return written


# The households' grants of a set-based category decision, loaded in bulk (COPY on PostgreSQL), and
# their members, joined in the database: one statement per step whatever the number of households.
# Both indexed, so that SQLite, which has no statistics on them, plans from them too.
_HOUSEHOLD_GRANTS = Table(
    "household_category_grants",
    MetaData(),
    Column("household_id", Integer, nullable=False, index=True),
    Column("category", String(32), nullable=False),
    Column("valid_to", Date, nullable=False),
    prefixes=["TEMPORARY"],
)
_MEMBER_GRANTS = Table(
    "member_category_grants",
    MetaData(),
    Column("person_id", Integer, nullable=False),
    Column("category", String(32), nullable=False),
    Column("valid_to", Date, nullable=False),
    Index("ix_member_category_grants", "person_id", "category"),
    prefixes=["TEMPORARY"],
)
_ID_CHUNK = 5_000


def grant_household_categories(
    *,
    session: Session,
    household_ids: Sequence[int],
    categories: Sequence[str],
    valid_to: Sequence[dt.date],
    valid_from: dt.date,
    source: str,
    actor: str = SYSTEM_ACTOR,
) -> int:
    """Give every member of each household (not merged, alive on ``valid_from``) a category from
    ``valid_from`` to the grant's ``valid_to``: grant ``i`` is ``categories[i]`` to the members of
    ``household_ids[i]`` until ``valid_to[i]``. Set-based, the same outcome as :func:`set_category`
    per member and category after ending, the day before ``valid_from``, a holding that runs into
    it (a new decision replaces the old one). Refused whole (:class:`Conflict`) when a member holds
    the category from a day within the new period already. Every holding ended and created has its
    change-log row. Returns the number of holdings created."""
    if not len(household_ids) == len(categories) == len(valid_to):
        raise ValueError("household_ids, categories and valid_to differ in length")
    for until in valid_to:
        if until < valid_from:
            raise ValidationFailed("category grants", "valid_to", "is before valid_from")
    if not household_ids:
        return 0
    session.flush()
    connection = session.connection()
    for table in (_HOUSEHOLD_GRANTS, _MEMBER_GRANTS):
        table.drop(connection, checkfirst=True)
        table.create(connection)
    try:
        bulk_insert_rows(
            session,
            _HOUSEHOLD_GRANTS,
            {"household_id": list(household_ids), "category": list(categories), "valid_to": list(valid_to)},
        )
        grant, member = _HOUSEHOLD_GRANTS.c, _MEMBER_GRANTS.c
        connection.execute(
            insert(_MEMBER_GRANTS).from_select(
                ["person_id", "category", "valid_to"],
                select(Person.id, grant.category, grant.valid_to)
                .join(_HOUSEHOLD_GRANTS, grant.household_id == Person.household_id)
                .where(
                    Person.merged_into_id.is_(None),
                    or_(Person.death_date.is_(None), Person.death_date >= valid_from),
                ),
            )
        )
        # The members' holdings of the granted categories, whatever their dates (a few per member):
        # sorted out here, as a date range in the join would lead SQLite to the category's index.
        holding = PersonCategory.__table__.c
        held = connection.execute(
            select(
                holding.id, holding.person_id, holding.category, holding.valid_from, holding.valid_to, member.valid_to
            )
            .join(_MEMBER_GRANTS, (member.person_id == holding.person_id) & (member.category == holding.category))
            .order_by(holding.person_id, holding.category, holding.valid_from)
        ).all()
        ending: list[tuple[int, dt.date | None]] = []
        for row_id, person_id, category, starts, ends, until in held:
            if valid_from <= starts <= until:
                raise Conflict(f"person {person_id}", "category", f"holds {category} from {starts} already")
            if starts < valid_from and (ends is None or ends >= valid_from):
                ending.append((row_id, ends))
        eve = valid_from - dt.timedelta(days=1)
        ended_ids = [row_id for row_id, _ in ending]
        for start in range(0, len(ended_ids), _ID_CHUNK):
            connection.execute(
                update(PersonCategory.__table__)
                .where(holding.id.in_(ended_ids[start : start + _ID_CHUNK]))
                .values(valid_to=eve)
            )
        record_changes_bulk(
            session=session,
            actor=actor,
            entity="person_categories",
            action="end",
            entity_ids=ended_ids,
            befores=[{"valid_to": ends} for _, ends in ending],
            afters=[{"valid_to": eve}] * len(ending),
        )
        created = connection.execute(
            insert(PersonCategory.__table__)
            .from_select(
                ["person_id", "category", "valid_from", "valid_to", "source"],
                select(
                    member.person_id,
                    member.category,
                    literal(valid_from, Date),
                    member.valid_to,
                    literal(source, String),
                ).order_by(member.person_id, member.category),
            )
            .returning(holding.id, holding.person_id, holding.category, holding.valid_to)
        ).all()
        record_changes_bulk(
            session=session,
            actor=actor,
            entity="person_categories",
            action="create",
            entity_ids=[row[0] for row in created],
            afters=[
                {
                    "person_id": row[1],
                    "category": row[2],
                    "valid_from": valid_from,
                    "valid_to": row[3],
                    "source": source,
                }
                for row in created
            ],
        )
    finally:
        for table in (_MEMBER_GRANTS, _HOUSEHOLD_GRANTS):
            table.drop(connection)
    # Loaded holdings are left as they were by the statements: read them again when next used.
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, PersonCategory):
            session.expire(loaded)
    return len(created)


def _log_bulk(session: Session, actor: str, entity: str, written: int) -> None:
    if written:
        record_change(
            session=session, actor=actor, entity=entity, entity_id=None, action="bulk_load", after={"rows": written}
        )


__all__ = [
    "bulk_insert_households",
    "bulk_insert_locations",
    "bulk_insert_person_categories",
    "bulk_insert_persons",
    "categories_at",
    "create_category",
    "create_location",
    "end_category",
    "find_person_by_national_id",
    "get_household",
    "grant_household_categories",
    "get_location",
    "get_person",
    "holds_on",
    "household_members",
    "list_categories",
    "register_household",
    "set_category",
    "update_person",
]
