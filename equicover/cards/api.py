"""Member cards over HTTP (``/api/v1/cards``), the schemes' published card keys (``/api/v1/card-keys``),
and the recording of contributions and their payment (``/api/v1/contributions``): recording one
re-checks the member's cards in the same unit of work, so a card suspended for an unpaid
contribution is active again as soon as it is paid (and one past the grace is suspended)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from equicover.auth.deps import now_of, require_roles
from equicover.auth.models import User
from equicover.auth.roles import ROLES, Role
from equicover.cards import keys, service
from equicover.cards.models import MemberCard
from equicover.enrolment import service as enrolment
from equicover.enrolment.api import ContributionApiIn, ContributionOut, SchemeCode, contribution_out
from equicover.enrolment.service import get_scheme
from equicover.http.deps import RowId, SessionDep
from equicover.registry.scoping import ensure_household_visible, ensure_person_visible

router = APIRouter(prefix="/api/v1", tags=["cards"])

CARD_ISSUERS = (Role.REGISTRAR, Role.ADMIN)
CardNumber = Annotated[str, Path(min_length=1, max_length=32, description="12 digits; spaces and hyphens ignored")]


class CardIssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    scheme_code: str = Field(min_length=1, max_length=64)
    person_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    household_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    on: dt.date | None = Field(default=None, description="Issue date (default: today)")


class CardStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["active", "suspended", "lost", "expired"]


class ContributionStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["due", "paid", "waived"]


class CardOut(BaseModel):
    id: int
    number: str
    scheme_code: str
    holder_kind: str
    person_id: int | None
    household_id: int
    category: str | None
    valid_from: dt.date
    valid_to: dt.date
    status: str
    status_reason: str | None = Field(
        default=None, description="Why: unpaid_contribution: due since <date>, merged into person <id>, ..."
    )
    replaces_id: int | None
    issued_at: dt.datetime
    qr_payload: str = Field(description="The signed payload the card's QR code holds (docs/cards.md)")


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payload: str = Field(min_length=1, max_length=512)
    on: dt.date | None = Field(default=None, description="Check validity on this date (default: today)")


class VerifyOut(BaseModel):
    verdict: Literal["valid", "invalid", "expired"]
    reason: str
    number: str | None = None
    holder: str | None = None
    scheme_code: str | None = None
    valid_to: dt.date | None = None
    status: str | None = Field(default=None, description="The card's status in the register")


class PublicKeyOut(BaseModel):
    scheme_code: str
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    public_key_pem: str
    public_key_base64url: str = Field(description="The raw 32-byte key, base64url without padding")


def _out(session: Session, card: MemberCard) -> CardOut:
    return CardOut(
        id=card.id,
        number=card.number,
        scheme_code=service.scheme_code_of(session=session, card=card),
        holder_kind=card.holder_kind,
        person_id=card.person_id,
        household_id=card.household_id,
        category=card.category,
        valid_from=card.valid_from,
        valid_to=card.valid_to,
        status=card.status,
        status_reason=card.status_reason,
        replaces_id=card.replaces_id,
        issued_at=card.issued_at,
        qr_payload=service.payload_of(session=session, card=card),
    )


def _ensure_holder_visible(session: Session, user: User, card: MemberCard) -> None:
    if card.person_id is not None:
        ensure_person_visible(session=session, user=user, person_id=card.person_id)
    else:
        ensure_household_visible(session=session, user=user, household_id=card.household_id)


def _visible_card(session: Session, user: User, number: str) -> MemberCard:
    card = service.get_card(session=session, number=number)
    _ensure_holder_visible(session, user, card)
    return card


@router.post("/cards", response_model=CardOut, status_code=201, summary="Issue a card to a person or a household")
def issue(
    body: CardIssueIn,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CARD_ISSUERS))],
) -> CardOut:
    if body.person_id is not None:
        ensure_person_visible(session=session, user=user, person_id=body.person_id)
    if body.household_id is not None:
        ensure_household_visible(session=session, user=user, household_id=body.household_id)
    card = service.issue_card(
        session=session,
        scheme_code=body.scheme_code,
        on=body.on or now_of(request).date(),
        person_id=body.person_id,
        household_id=body.household_id,
        actor=user.username,
    )
    return _out(session, card)


@router.get("/cards/{number}", response_model=CardOut, summary="A card by its number (check digits verified)")
def lookup(number: CardNumber, session: SessionDep, user: Annotated[User, Depends(require_roles(*ROLES))]) -> CardOut:
    return _out(session, _visible_card(session, user, number))


@router.post("/cards/{number}/status", response_model=CardOut, summary="Activate, suspend, report lost or expire")
def change_status(
    number: CardNumber,
    body: CardStatusIn,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CARD_ISSUERS))],
) -> CardOut:
    card = _visible_card(session, user, number)
    service.set_status(session=session, card=card, status=body.status, on=now_of(request).date(), actor=user.username)
    return _out(session, card)


@router.post(
    "/cards/{number}/replacement", response_model=CardOut, status_code=201, summary="Replace a card by a new number"
)
def replace(
    number: CardNumber,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CARD_ISSUERS))],
) -> CardOut:
    card = _visible_card(session, user, number)
    new = service.replace_card(session=session, card=card, on=now_of(request).date(), actor=user.username)
    return _out(session, new)


@router.post("/cards/verify", response_model=VerifyOut, summary="Check a card's QR payload and its status")
def verify(
    body: VerifyIn,
    request: Request,
    session: SessionDep,
    _user: Annotated[User, Depends(require_roles(*ROLES))],
) -> VerifyOut:
    result = service.verify_payload(session=session, text=body.payload, on=body.on or now_of(request).date())
    face = result.check.face
    return VerifyOut(
        verdict=result.check.verdict,
        reason=result.check.reason,
        number=face.number if face is not None else None,
        holder=face.holder if face is not None else None,
        scheme_code=face.scheme if face is not None else None,
        valid_to=face.valid_to if face is not None else None,
        status=result.card.status if result.card is not None else None,
    )


@router.get(
    "/card-keys/{scheme_code}",
    response_model=PublicKeyOut,
    summary="The scheme's public key that verifies its cards (published: no sign-in)",
)
def public_key(scheme_code: SchemeCode, session: SessionDep) -> PublicKeyOut:
    scheme = get_scheme(session=session, code=scheme_code)
    key = keys.scheme_key(scheme.code)
    return PublicKeyOut(
        scheme_code=scheme.code,
        key_id=key.key_id,
        public_key_pem=key.public_pem(),
        public_key_base64url=key.public_base64url(),
    )


# --------------------------------------------------------------------------------------------
# Contributions: recorded here so the member's cards follow the payment at once

CONTRIBUTION_RECORDERS = (Role.REGISTRAR, Role.FUND_MANAGER, Role.ADMIN)


@router.post(
    "/contributions",
    response_model=ContributionOut,
    status_code=201,
    tags=["enrolment"],
    summary="Record a contribution (the member's cards are re-checked)",
)
def record_contribution(
    body: ContributionApiIn,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CONTRIBUTION_RECORDERS))],
) -> ContributionOut:
    ensure_person_visible(session=session, user=user, person_id=body.person_id)
    scheme = enrolment.get_scheme(session=session, code=body.scheme_code)
    row = enrolment.record_contribution(
        session=session,
        person_id=body.person_id,
        scheme_id=scheme.id,
        payer_kind=body.payer_kind,
        payer_name=body.payer_name,
        amount_minor=body.amount_minor,
        status=body.status,
        period_starts=body.period_starts,
        period_ends=body.period_ends,
        actor=user.username,
    )
    service.suspend_unpaid(session=session, on=now_of(request).date(), actor=user.username, person_id=body.person_id)
    return contribution_out(row)


@router.put(
    "/contributions/{contribution_id}/status",
    response_model=ContributionOut,
    tags=["enrolment"],
    summary="Mark a contribution paid, waived or due (the member's cards are re-checked)",
)
def set_contribution_status(
    contribution_id: RowId,
    body: ContributionStatusIn,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CONTRIBUTION_RECORDERS))],
) -> ContributionOut:
    holder = enrolment.contribution_holder(session=session, contribution_id=contribution_id)
    ensure_person_visible(session=session, user=user, person_id=holder)
    row = enrolment.set_contribution_status(
        session=session, contribution_id=contribution_id, status=body.status, actor=user.username
    )
    service.suspend_unpaid(session=session, on=now_of(request).date(), actor=user.username, person_id=holder)
    return contribution_out(row)
