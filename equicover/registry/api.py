"""Registry over HTTP: locations, categories, households, persons (``/api/v1``).

Reads are area-scoped in the queries (``equicover.auth.scoping``); writes need the registrar
(own area) or admin role and leave change-log rows under the caller's username.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, aliased

from equicover.auth.deps import CurrentUser, require_roles
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.errors import ValidationFailed
from equicover.http.deps import PageDep, RowId, SessionDep
from equicover.http.pagination import Page, paginate
from equicover.registry import service as registry
from equicover.registry.models import Category, Household, Location, Person, PersonCategory
from equicover.registry.schemas import CategoryIn, HouseholdIn, PersonUpdate
from equicover.registry.scoping import (
    ensure_household_visible,
    ensure_location_in_area,
    ensure_person_visible,
    households_filter,
    persons_filter,
)

router = APIRouter(prefix="/api/v1", tags=["registry"])

CodeQuery = Annotated[str | None, Query(max_length=64)]
REGISTRY_WRITERS = (Role.REGISTRAR, Role.ADMIN)


class LocationOut(BaseModel):
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    province_id: int | None
    district_id: int | None


class CategoryOut(BaseModel):
    code: str
    label: str


class PersonCategoryOut(BaseModel):
    id: int
    category: str
    valid_from: dt.date
    valid_to: dt.date | None
    source: str | None


class PersonOut(BaseModel):
    id: int
    household_id: int
    full_name: str
    given_name: str | None
    family_name: str | None
    name_script: str | None
    sex: str
    birth_date: dt.date
    national_id: str | None
    id_type: str | None
    phone: str | None
    location_id: int
    registered_on: dt.date
    death_date: dt.date | None


class PersonDetail(PersonOut):
    categories: list[PersonCategoryOut]


class HouseholdOut(BaseModel):
    id: int
    code: str
    location_id: int
    registered_on: dt.date


class HouseholdDetail(HouseholdOut):
    members: list[PersonOut]


def location_out(row: Location) -> LocationOut:
    return LocationOut(
        id=row.id,
        code=row.code,
        name=row.name,
        level=row.level,
        parent_id=row.parent_id,
        province_id=row.province_id,
        district_id=row.district_id,
    )


def person_out(row: Person) -> PersonOut:
    return PersonOut(
        id=row.id,
        household_id=row.household_id,
        full_name=row.full_name,
        given_name=row.given_name,
        family_name=row.family_name,
        name_script=row.name_script,
        sex=row.sex,
        birth_date=row.birth_date,
        national_id=row.national_id,
        id_type=row.id_type,
        phone=row.phone,
        location_id=row.location_id,
        registered_on=row.registered_on,
        death_date=row.death_date,
    )


def household_out(row: Household) -> HouseholdOut:
    return HouseholdOut(id=row.id, code=row.code, location_id=row.location_id, registered_on=row.registered_on)


def _person_detail(session: Session, person: Person) -> PersonDetail:
    categories = session.scalars(
        select(PersonCategory)
        .where(PersonCategory.person_id == person.id)
        .order_by(PersonCategory.valid_from, PersonCategory.id)
    )
    return PersonDetail(
        **person_out(person).model_dump(),
        categories=[
            PersonCategoryOut(
                id=c.id, category=c.category, valid_from=c.valid_from, valid_to=c.valid_to, source=c.source
            )
            for c in categories
        ],
    )


def _inside(location_code: str) -> Select[int]:
    """Ids of the locations at or below ``location_code``."""
    area = aliased(Location)
    return (
        select(Location.id)
        .join(area, area.code == location_code)
        .where(or_(Location.id == area.id, Location.province_id == area.id, Location.district_id == area.id))
    )


# -- locations and categories -----------------------------------------------------------------


@router.get("/locations", response_model=Page[LocationOut], summary="Locations (the area tree)")
def list_locations(
    session: SessionDep,
    _user: CurrentUser,
    page: PageDep,
    level: Literal["country", "province", "district", "commune", "neighbourhood"] | None = None,
    parent: CodeQuery = None,
) -> Page[LocationOut]:
    query = select(Location).order_by(Location.id)
    if level is not None:
        query = query.where(Location.level == level)
    if parent is not None:
        query = query.where(Location.parent_id.in_(select(Location.id).where(Location.code == parent)))
    return paginate(session=session, query=query, page=page, to_item=location_out)


@router.get("/categories", response_model=list[CategoryOut], summary="Member categories")
def list_categories(session: SessionDep, _user: CurrentUser) -> list[CategoryOut]:
    return [CategoryOut(code=c.code, label=c.label) for c in session.scalars(select(Category).order_by(Category.code))]


# -- households -------------------------------------------------------------------------------


@router.post(
    "/households", response_model=HouseholdDetail, status_code=201, summary="Register a household with its members"
)
def register_household(
    body: HouseholdIn, session: SessionDep, user: Annotated[User, Depends(require_roles(*REGISTRY_WRITERS))]
) -> HouseholdDetail:
    location_id = session.scalar(select(Location.id).where(Location.code == body.location_code))
    if location_id is None:
        raise ValidationFailed(f"household {body.code}", "location_code", "unknown location")
    ensure_location_in_area(session=session, user=user, location_id=location_id, record=f"household {body.code}")
    for index, member in enumerate(body.members):
        if member.location_code is not None:
            member_location = session.scalar(select(Location.id).where(Location.code == member.location_code))
            if member_location is None:
                raise ValidationFailed(f"household.members[{index}]", "location_code", "unknown location")
            ensure_location_in_area(
                session=session, user=user, location_id=member_location, record=f"household.members[{index}]"
            )
    household = registry.register_household(session=session, household=body, actor=user.username, viewer=user)
    members = registry.household_members(session=session, household_id=household.id)
    return HouseholdDetail(**household_out(household).model_dump(), members=[person_out(p) for p in members])


@router.get("/households", response_model=Page[HouseholdOut], summary="Households visible to you")
def list_households(
    session: SessionDep,
    user: CurrentUser,
    page: PageDep,
    location: CodeQuery = None,
    registered_from: dt.date | None = None,
    registered_to: dt.date | None = None,
) -> Page[HouseholdOut]:
    query = select(Household).where(households_filter(user)).order_by(Household.id)
    if location is not None:
        query = query.where(Household.location_id.in_(_inside(location)))
    if registered_from is not None:
        query = query.where(Household.registered_on >= registered_from)
    if registered_to is not None:
        query = query.where(Household.registered_on <= registered_to)
    return paginate(session=session, query=query, page=page, to_item=household_out)


@router.get("/households/{household_id}", response_model=HouseholdDetail, summary="One household and its members")
def get_household(household_id: RowId, session: SessionDep, user: CurrentUser) -> HouseholdDetail:
    ensure_household_visible(session=session, user=user, household_id=household_id)
    household = session.get(Household, household_id)
    assert household is not None
    members = registry.household_members(session=session, household_id=household_id)
    return HouseholdDetail(**household_out(household).model_dump(), members=[person_out(p) for p in members])


# -- persons ----------------------------------------------------------------------------------


@router.get("/persons", response_model=Page[PersonOut], summary="Persons visible to you")
def list_persons(
    session: SessionDep,
    user: CurrentUser,
    page: PageDep,
    location: CodeQuery = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    on: Annotated[dt.date | None, Query(description="date the category must hold on (default today)")] = None,
    household_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    registered_from: dt.date | None = None,
    registered_to: dt.date | None = None,
) -> Page[PersonOut]:
    query = select(Person).where(persons_filter(user)).order_by(Person.id)
    if location is not None:
        query = query.where(Person.location_id.in_(_inside(location)))
    if category is not None:
        query = query.where(
            Person.id.in_(
                select(PersonCategory.person_id).where(
                    PersonCategory.category == category, *registry.holds_on(on or dt.date.today())
                )
            )
        )
    if household_id is not None:
        query = query.where(Person.household_id == household_id)
    if registered_from is not None:
        query = query.where(Person.registered_on >= registered_from)
    if registered_to is not None:
        query = query.where(Person.registered_on <= registered_to)
    return paginate(session=session, query=query, page=page, to_item=person_out)


@router.get("/persons/{person_id}", response_model=PersonDetail, summary="One person with categories")
def get_person(person_id: RowId, session: SessionDep, user: CurrentUser) -> PersonDetail:
    ensure_person_visible(session=session, user=user, person_id=person_id)
    return _person_detail(session, registry.get_person(session=session, person_id=person_id))


@router.patch("/persons/{person_id}", response_model=PersonDetail, summary="Change fields of a person")
def update_person(
    person_id: RowId,
    body: PersonUpdate,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*REGISTRY_WRITERS))],
) -> PersonDetail:
    ensure_person_visible(session=session, user=user, person_id=person_id)
    if body.location_code is not None:
        new_location = session.scalar(select(Location.id).where(Location.code == body.location_code))
        if new_location is None:
            raise ValidationFailed(f"person {person_id}", "location_code", "unknown location")
        ensure_location_in_area(session=session, user=user, location_id=new_location, record=f"person {person_id}")
    person = registry.update_person(
        session=session, person_id=person_id, changes=body, actor=user.username, viewer=user
    )
    return _person_detail(session, person)


@router.post(
    "/persons/{person_id}/categories",
    response_model=PersonDetail,
    status_code=201,
    summary="Give a person a category for a period",
)
def add_category(
    person_id: RowId,
    body: CategoryIn,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*REGISTRY_WRITERS))],
) -> PersonDetail:
    ensure_person_visible(session=session, user=user, person_id=person_id)
    registry.set_category(
        session=session,
        person_id=person_id,
        category=body.category,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        source=body.source,
        actor=user.username,
    )
    return _person_detail(session, registry.get_person(session=session, person_id=person_id))
