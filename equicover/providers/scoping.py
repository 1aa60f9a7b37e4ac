"""Which providers a user may see (see :mod:`equicover.auth.scoping`)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import Session

from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.scoping import ensure_visible, sees_everything
from equicover.providers.models import Provider
from equicover.registry.scoping import area_location_ids


def providers_filter(user: User) -> ColumnElement[bool]:
    if sees_everything(user):
        return true()
    if user.role == Role.CLERK:
        return Provider.id == user.provider_id
    return Provider.location_id.in_(area_location_ids(user))


def ensure_provider_visible(*, session: Session, user: User, provider_id: int) -> None:
    ensure_visible(session, Provider, Provider.id, provider_id, providers_filter(user), f"provider {provider_id}")
