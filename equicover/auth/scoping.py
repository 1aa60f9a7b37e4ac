"""Area scoping: which records a user may see, as SQLAlchemy filters to put in the queries.

Scoping lives in the queries, not in the pages: each domain keeps the filter of its own records
(``registry.scoping``, ``providers.scoping``, ``claims.scoping``), every list endpoint adds it, and
every endpoint that reads one record by id calls the matching ``ensure_*`` function, which
answers 404 for a record that does not exist and 403 (never 404) for one that exists outside
the user's area, so that an out-of-area caller learns nothing more than "no".

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

from typing import TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from equicover.auth.models import User
from equicover.auth.roles import EVERYTHING_ROLES, Role
from equicover.errors import Forbidden, NotFound

_Key = TypeVar("_Key")


def sees_everything(user: User) -> bool:
    return user.role in EVERYTHING_ROLES or (user.role != Role.CLERK and user.location_id is None)


def ensure_visible(
    session: Session,
    model: type,
    key_column: InstrumentedAttribute[_Key],
    key: _Key,
    scope: ColumnElement[bool],
    record: str,
) -> None:
    found = session.execute(select(key_column, scope).where(key_column == key)).first()
    if found is None:
        raise NotFound(record, "id", "unknown record")
    if not found[1]:
        raise Forbidden(record, "id", "outside your area or facility")
