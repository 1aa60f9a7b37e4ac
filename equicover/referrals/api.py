"""Referral letters over HTTP (``/api/v1/referrals``): issue, look up, counter-refer, cancel."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.auth.deps import now_of, require_roles
from equicover.auth.models import User
from equicover.auth.roles import ROLES, Role
from equicover.errors import Forbidden, ValidationFailed
from equicover.http.deps import RowId, SessionDep
from equicover.providers.models import Provider
from equicover.referrals import service
from equicover.referrals.letter_pdf import letter_pdf
from equicover.referrals.models import ReferralLetter
from equicover.registry.scoping import ensure_person_visible

router = APIRouter(prefix="/api/v1", tags=["referrals"])

LETTER_WRITERS = (Role.CLERK, Role.ADMIN)
LetterNumber = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")]


class LetterIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    person_id: int = Field(ge=1, le=2**31 - 1)
    from_provider_code: str | None = Field(
        default=None, min_length=1, max_length=64, description="Default: a clerk's own facility"
    )
    to_level: str | None = Field(default=None, min_length=1, max_length=32)
    to_provider_code: str | None = Field(default=None, min_length=1, max_length=64)
    diagnosis: str = Field(min_length=1, max_length=16, description="ICD-10 code")
    reason: str = Field(min_length=1, max_length=2000)
    issued_on: dt.date | None = Field(default=None, description="Default: today")


class CounterReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    by_provider_code: str | None = Field(
        default=None, min_length=1, max_length=64, description="Default: a clerk's own facility"
    )
    on: dt.date | None = Field(default=None, description="Default: today")
    note: str = Field(min_length=1, max_length=2000)


class LetterOut(BaseModel):
    id: int
    number: str
    person_id: int
    from_provider_code: str
    to_level: str | None
    to_provider_code: str | None
    diagnosis: str
    reason: str
    issued_on: dt.date
    status: str
    counter_by_provider_code: str | None
    counter_on: dt.date | None
    counter_note: str | None
    claim_ids: list[int] = Field(description="Stored claims (their ids) that carried this letter")


def _code(session: Session, provider_id: int | None) -> str | None:
    if provider_id is None:
        return None
    return session.scalar(select(Provider.code).where(Provider.id == provider_id))


def _out(session: Session, letter: ReferralLetter) -> LetterOut:
    return LetterOut(
        id=letter.id,
        number=letter.number,
        person_id=letter.person_id,
        from_provider_code=_code(session, letter.from_provider_id) or "",
        to_level=letter.to_level,
        to_provider_code=_code(session, letter.to_provider_id),
        diagnosis=letter.diagnosis,
        reason=letter.reason,
        issued_on=letter.issued_on,
        status=letter.status,
        counter_by_provider_code=_code(session, letter.counter_by_provider_id),
        counter_on=letter.counter_on,
        counter_note=letter.counter_note,
        claim_ids=service.claims_using(session=session, letter_id=letter.id),
    )


def _acting_facility(session: Session, user: User, named: str | None, record: str, field: str) -> str:
    """The facility a write acts for: a clerk's own (naming another is 403); an admin names one."""
    if user.role == Role.CLERK:
        own = _code(session, user.provider_id)
        assert own is not None
        if named is not None and named != own:
            raise Forbidden(record, field, "you act for your own facility only")
        return own
    if named is None:
        raise ValidationFailed(record, field, "required")
    return named


def _visible_letter(session: Session, user: User, number: str) -> ReferralLetter:
    letter = service.get_letter(session=session, number=number)
    ensure_person_visible(session=session, user=user, person_id=letter.person_id)
    return letter


@router.post("/referrals", response_model=LetterOut, status_code=201, summary="Issue a referral letter")
def issue(
    body: LetterIn,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*LETTER_WRITERS))],
) -> LetterOut:
    ensure_person_visible(session=session, user=user, person_id=body.person_id)
    source = _acting_facility(session, user, body.from_provider_code, "referral letter", "from_provider_code")
    letter = service.issue_letter(
        session=session,
        person_id=body.person_id,
        from_provider_code=source,
        to_level=body.to_level,
        to_provider_code=body.to_provider_code,
        diagnosis=body.diagnosis,
        reason=body.reason,
        issued_on=body.issued_on or now_of(request).date(),
        actor=user.username,
    )
    return _out(session, letter)


@router.get("/referrals/{number}", response_model=LetterOut, summary="A referral letter by its number")
def lookup(
    number: LetterNumber, session: SessionDep, user: Annotated[User, Depends(require_roles(*ROLES))]
) -> LetterOut:
    return _out(session, _visible_letter(session, user, number))


@router.get(
    "/referrals/{number}/letter.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The printed letter the patient carries (PDF)",
)
def letter_document(
    number: LetterNumber, session: SessionDep, user: Annotated[User, Depends(require_roles(*ROLES))]
) -> Response:
    letter = _visible_letter(session, user, number)
    return Response(
        letter_pdf(session=session, letter=letter),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="referral-{letter.number}.pdf"'},
    )


@router.get(
    "/persons/{person_id}/referrals",
    response_model=list[LetterOut],
    summary="A person's referral letters, oldest first",
)
def of_person(
    person_id: RowId, session: SessionDep, user: Annotated[User, Depends(require_roles(*ROLES))]
) -> list[LetterOut]:
    ensure_person_visible(session=session, user=user, person_id=person_id)
    return [_out(session, letter) for letter in service.letters_of(session=session, person_id=person_id)]


@router.post(
    "/referrals/{number}/counter-referral",
    response_model=LetterOut,
    summary="The receiving facility sends the patient back",
)
def counter_referral(
    number: LetterNumber,
    body: CounterReferralIn,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*LETTER_WRITERS))],
) -> LetterOut:
    letter = _visible_letter(session, user, number)
    receiver = _acting_facility(
        session, user, body.by_provider_code, f"referral letter {letter.id}", "by_provider_code"
    )
    service.counter_refer(
        session=session,
        letter=letter,
        by_provider_code=receiver,
        on=body.on or now_of(request).date(),
        note=body.note,
        actor=user.username,
    )
    return _out(session, letter)


@router.post("/referrals/{number}/cancellation", response_model=LetterOut, summary="Withdraw an unused letter")
def cancel(
    number: LetterNumber, session: SessionDep, user: Annotated[User, Depends(require_roles(*LETTER_WRITERS))]
) -> LetterOut:
    letter = _visible_letter(session, user, number)
    if user.role == Role.CLERK and letter.from_provider_id != user.provider_id:
        raise Forbidden(f"referral letter {letter.id}", "number", "only the issuing facility withdraws a letter")
    service.cancel_letter(session=session, letter=letter, actor=user.username)
    return _out(session, letter)
