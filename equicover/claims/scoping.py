"""Which claims a user may see (see :mod:`equicover.auth.scoping`)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.scoping import ensure_visible, sees_everything
from equicover.claims.models import Claim
from equicover.providers.models import Provider
from equicover.registry.models import Person
from equicover.registry.scoping import area_location_ids


def claims_filter(user: User) -> ColumnElement[bool]:
    if sees_everything(user):
        return true()
    if user.role == Role.CLERK:
        return Claim.provider_id == user.provider_id
    if user.role == Role.VERIFIER:
        return Claim.provider_id.in_(select(Provider.id).where(Provider.location_id.in_(area_location_ids(user))))
    if user.role == Role.REGISTRAR:
        return Claim.person_id.in_(select(Person.id).where(Person.location_id.in_(area_location_ids(user))))
    return false()


def ensure_claim_visible(*, session: Session, user: User, claim_pk: int) -> None:
    """By the claim's row id (``claims.id``); see :func:`ensure_claim_id_visible` for the claim_id."""
    ensure_visible(session, Claim, Claim.id, claim_pk, claims_filter(user), f"claim {claim_pk}")


def ensure_claim_id_visible(*, session: Session, user: User, claim_id: str) -> None:
    ensure_visible(session, Claim, Claim.claim_id, claim_id, claims_filter(user), f"claim {claim_id}")
