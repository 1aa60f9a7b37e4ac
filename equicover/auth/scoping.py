"""Area scoping: which records a user may see, as SQLAlchemy filters to put in the queries.

Scoping lives in the queries, not in the pages: every list endpoint adds the filter of its
record type, and every endpoint that reads one record by id calls the matching ``ensure_*``
function, which answers 404 for a record that does not exist and 403 (never 404) for one that
exists outside the user's area, so that an out-of-area caller learns nothing more than "no".

Who sees what:

- ``admin``, ``fund_manager``: everything.
- ``registrar``: persons and households located in its area (province or district), providers
  in its area, claims of persons of its area.
- ``verifier``: providers in its area (its districts), the claims of those providers, and the
  persons and households of its area.
- ``clerk``: the claims of its own facility; its own provider; any person and household (the
  one-stop window looks up patients from anywhere to check eligibility and submit claims).

A user's "area" is a location; a record is in the area when its location is the area itself or
lies below it (the ancestor columns of ``locations`` make that a single indexed comparison).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session

from equicover.auth.models import User
from equicover.claims.models import Claim
from equicover.errors import Forbidden, NotFound
from equicover.providers.models import Provider
from equicover.registry.models import Household, Location, Person

EVERYTHING_ROLES = frozenset({"admin", "fund_manager"})


def sees_everything(user: User) -> bool:
    return user.role in EVERYTHING_ROLES or (user.role != "clerk" and user.location_id is None)


def area_location_ids(user: User) -> Select[tuple[int]]:
    """The ids of the locations in the user's area (the area itself and everything below it)."""
    area = user.location_id
    return select(Location.id).where(
        or_(Location.id == area, Location.province_id == area, Location.district_id == area)
    )


def persons_filter(user: User) -> ColumnElement[bool]:
    if sees_everything(user) or user.role == "clerk":
        return true()
    return Person.location_id.in_(area_location_ids(user))


def households_filter(user: User) -> ColumnElement[bool]:
    if sees_everything(user) or user.role == "clerk":
        return true()
    return Household.location_id.in_(area_location_ids(user))


def providers_filter(user: User) -> ColumnElement[bool]:
    if sees_everything(user):
        return true()
    if user.role == "clerk":
        return Provider.id == user.provider_id
    return Provider.location_id.in_(area_location_ids(user))


def claims_filter(user: User) -> ColumnElement[bool]:
    if sees_everything(user):
        return true()
    if user.role == "clerk":
        return Claim.provider_id == user.provider_id
    if user.role == "verifier":
        return Claim.provider_id.in_(select(Provider.id).where(Provider.location_id.in_(area_location_ids(user))))
    if user.role == "registrar":
        return Claim.person_id.in_(select(Person.id).where(Person.location_id.in_(area_location_ids(user))))
    return false()


def _ensure(session: Session, model: type, key_column: object, key: object, scope: ColumnElement[bool], record: str) -> None:
    found = session.execute(select(key_column, scope).where(key_column == key)).first()  # type: ignore[arg-type]
    if found is None:
        raise NotFound(record, "id", "unknown record")
    if not found[1]:
        raise Forbidden(record, "id", "outside your area or facility")


def ensure_person_visible(*, session: Session, user: User, person_id: int) -> None:
    """NotFound if the person does not exist, Forbidden if it exists outside the user's scope."""
    _ensure(session, Person, Person.id, person_id, persons_filter(user), f"person {person_id}")


def ensure_household_visible(*, session: Session, user: User, household_id: int) -> None:
    _ensure(session, Household, Household.id, household_id, households_filter(user), f"household {household_id}")


def ensure_provider_visible(*, session: Session, user: User, provider_id: int) -> None:
    _ensure(session, Provider, Provider.id, provider_id, providers_filter(user), f"provider {provider_id}")


def ensure_claim_visible(*, session: Session, user: User, claim_pk: int) -> None:
    """By the claim's row id (``claims.id``); see :func:`ensure_claim_id_visible` for the claim_id."""
    _ensure(session, Claim, Claim.id, claim_pk, claims_filter(user), f"claim {claim_pk}")


def ensure_claim_id_visible(*, session: Session, user: User, claim_id: str) -> None:
    _ensure(session, Claim, Claim.claim_id, claim_id, claims_filter(user), f"claim {claim_id}")


def ensure_location_in_area(*, session: Session, user: User, location_id: int, record: str) -> None:
    """Forbidden unless the location lies in the user's area (for writes: a registrar registering a household)."""
    if sees_everything(user):
        return
    if user.role == "clerk":
        raise Forbidden(record, "location", "a clerk does not write to the registry")
    inside = session.scalar(select(Location.id).where(Location.id == location_id, Location.id.in_(area_location_ids(user))))
    if inside is None:
        raise Forbidden(record, "location", "outside your area")
