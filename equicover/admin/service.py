"""Accounts as the administrator names them: areas and facilities by their codes.

The auth domain stores users by ``location_id`` and ``provider_id``; this module resolves the codes
an administrator types through the registry and the providers, then creates the account. It also
lists accounts with their area and facility codes, and disables, enables and resets them (the
command line, the JSON API and the web page all come here). Disabling or resetting revokes every
token of the account in the database; the caller also drops them from its process's token cache.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from equicover.audit.service import SYSTEM_ACTOR
from equicover.auth.models import User
from equicover.auth.service import (
    create_account,
    generate_password,
    get_user,
    get_user_by_id,
    reset_password,
    set_active,
    users_query,
)
from equicover.errors import NotFound, ValidationFailed
from equicover.providers.models import Provider
from equicover.providers.service import get_provider
from equicover.registry.models import LOCATION_LEVELS, Location
from equicover.registry.service import get_location

# An account works in an area of any level the registry has: a commune's account approves its own
# identifications when the targeting rules name the commune as the approving level.
AREA_LEVELS = tuple(LOCATION_LEVELS)


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    area_code: str | None = None,
    provider_code: str | None = None,
    language: str = "en",
    actor: str = SYSTEM_ACTOR,
) -> User:
    """Create an account whose area and facility are given by code (a country-wide area is none)."""
    record = f"user {username}"
    location_id = None
    if area_code is not None:
        try:
            location = get_location(session=session, code=area_code)
        except NotFound:
            raise ValidationFailed(record, "area", "unknown location") from None
        if location.level not in AREA_LEVELS:
            raise ValidationFailed(record, "area", f"must be one of the levels {', '.join(AREA_LEVELS)}")
        if location.level != "country":
            location_id = location.id
    provider_id = None
    if provider_code is not None:
        try:
            provider_id = get_provider(session=session, code=provider_code).id
        except NotFound:
            raise ValidationFailed(record, "provider", "unknown provider") from None
    return create_account(
        session=session,
        username=username,
        password=password,
        role=role,
        location_id=location_id,
        provider_id=provider_id,
        language=language,
        actor=actor,
    )


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One account as the administrator sees it: codes, not ids."""

    id: int
    username: str
    role: str
    area: str | None
    provider: str | None
    language: str
    active: bool


def list_accounts(
    *, session: Session, role: str | None = None, active: bool | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[AccountRow], int]:
    """A page of accounts by username, with their area and facility codes, and the total."""
    query = users_query(role=role, active=active)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    area, provider = aliased(Location), aliased(Provider)
    rows = session.execute(
        query.add_columns(area.code, provider.code)
        .outerjoin(area, area.id == User.location_id)
        .outerjoin(provider, provider.id == User.provider_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        AccountRow(user.id, user.username, user.role, area_code, provider_code, user.language, user.active)
        for user, area_code, provider_code in rows
    ], total


def find_user(*, session: Session, username: str | None = None, user_id: int | None = None) -> User:
    if user_id is not None:
        return get_user_by_id(session=session, user_id=user_id)
    return get_user(session=session, username=username or "")


def disable_user(*, session: Session, user: User, actor: str = SYSTEM_ACTOR, acting_user_id: int | None = None) -> User:
    """Disable an account: it can no longer sign in, and every token of it is revoked."""
    return set_active(session=session, user=user, active=False, actor=actor, acting_user_id=acting_user_id)


def enable_user(*, session: Session, user: User, actor: str = SYSTEM_ACTOR) -> User:
    """Enable an account again (and lift a sign-in lock)."""
    return set_active(session=session, user=user, active=True, actor=actor)


def reset_user_password(
    *,
    session: Session,
    user: User,
    password: str | None = None,
    actor: str = SYSTEM_ACTOR,
    acting_user_id: int | None = None,
) -> tuple[User, str]:
    """Give an account a new password (generated when none is given); returns it, to hand over once."""
    chosen = password or generate_password()
    changed = reset_password(session=session, user=user, password=chosen, actor=actor, acting_user_id=acting_user_id)
    return changed, chosen
