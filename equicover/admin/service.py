"""Accounts as the administrator names them: areas and facilities by their codes.

The auth domain stores users by ``location_id`` and ``provider_id``; this module resolves the codes
an administrator types through the registry and the providers, then creates the account.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR
from equicover.auth.models import User
from equicover.auth.service import create_account
from equicover.errors import NotFound, ValidationFailed
from equicover.providers.service import get_provider
from equicover.registry.service import get_location

AREA_LEVELS = ("country", "province", "district")


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
            raise ValidationFailed(record, "area", "must be a country, province or district")
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
