"""Which persons, households and locations a user may see or write (see :mod:`equicover.auth.scoping`)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, or_, select, true
from sqlalchemy.orm import Session

from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.scoping import ensure_visible, sees_everything
from equicover.errors import Forbidden
from equicover.registry.models import Household, Location, Person


def area_location_ids(user: User) -> Select[int]:
    """The ids of the locations in the user's area (the area itself and everything below it)."""
    area = user.location_id
    return select(Location.id).where(
        or_(Location.id == area, Location.province_id == area, Location.district_id == area)
    )


def registry_area(user: User) -> Select[int] | None:
    """The locations whose persons and households the user reads (None: every one; a clerk finds
    any patient at the window)."""
    if sees_everything(user) or user.role == Role.CLERK:
        return None
    return area_location_ids(user)


def persons_filter(user: User) -> ColumnElement[bool]:
    area = registry_area(user)
    return true() if area is None else Person.location_id.in_(area)


def households_filter(user: User) -> ColumnElement[bool]:
    area = registry_area(user)
    return true() if area is None else Household.location_id.in_(area)


def ensure_person_visible(*, session: Session, user: User, person_id: int) -> None:
    """NotFound if the person does not exist, Forbidden if it exists outside the user's scope."""
    ensure_visible(session, Person, Person.id, person_id, persons_filter(user), f"person {person_id}")


def ensure_household_visible(*, session: Session, user: User, household_id: int) -> None:
    ensure_visible(session, Household, Household.id, household_id, households_filter(user), f"household {household_id}")


def ensure_location_in_area(*, session: Session, user: User, location_id: int, record: str) -> None:
    """Forbidden unless the location lies in the user's area (for writes: a registrar registering a household)."""
    if sees_everything(user):
        return
    if user.role == Role.CLERK:
        raise Forbidden(record, "location", "a clerk does not write to the registry")
    inside = session.scalar(
        select(Location.id).where(Location.id == location_id, Location.id.in_(area_location_ids(user)))
    )
    if inside is None:
        raise Forbidden(record, "location", "outside your area")


def area_ids_of(*, session: Session, user: User) -> list[int] | None:
    """The ids of the locations in the user's area, or None for a user who sees everything."""
    return None if sees_everything(user) else list(session.scalars(area_location_ids(user)))
