"""Grievances and appeals over HTTP (``/api/v1/grievances``).

Anyone signed in may take a case (a clerk at the window, a registrar, a verifier, a fund
manager); the case's handlers assign, note, decide and see the complainant. Others who may read
the case (its area, its facility) see it without the complainant's identity.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from equicover.auth.deps import now_of, require_roles
from equicover.auth.models import User
from equicover.auth.roles import ROLES, Role
from equicover.auth.scoping import ensure_visible
from equicover.errors import ValidationFailed
from equicover.grievances import service
from equicover.grievances.models import GrievanceCase
from equicover.http.deps import PageDep, RowId, SessionDep
from equicover.http.pagination import Page
from equicover.providers.models import Provider
from equicover.registry.models import Location
from equicover.registry.scoping import ensure_person_visible

router = APIRouter(prefix="/api/v1", tags=["grievances"])

CASE_READERS = ROLES


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    category: str = Field(min_length=1, max_length=32)
    subject_id: int = Field(ge=1, le=2**31 - 1, description="The record concerned: person, claim, review or batch id")
    description: str = Field(min_length=1, max_length=4000)
    channel: Literal["window", "web", "phone"] = "window"
    complainant_person_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    complainant_provider_code: str | None = Field(default=None, min_length=1, max_length=64)
    complainant_contact: str | None = Field(default=None, max_length=200)
    opened_on: dt.date | None = Field(default=None, description="Default: today")


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(min_length=1, max_length=100)


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: Literal["note", "call"]
    note: str = Field(min_length=1, max_length=4000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    outcome: Literal["upheld", "partly_upheld", "rejected"]
    reasons: str = Field(min_length=1, max_length=4000)
    on: dt.date | None = Field(default=None, description="Default: today")
    refund_amount: int | None = Field(default=None, gt=0, le=10**15, strict=True, description="minor units")
    refund_layer: str | None = Field(default=None, min_length=1, max_length=64)
    category: str | None = Field(default=None, min_length=1, max_length=32, description="The corrected category")
    category_from: dt.date | None = None
    category_to: dt.date | None = Field(default=None, description="The corrected category's last day (default: open)")
    category_replaces: str | None = Field(
        default=None, min_length=1, max_length=32, description="The category found wrong: ended the day before"
    )
    correction_amount: int | None = Field(
        default=None,
        ge=-(10**15),
        le=10**15,
        strict=True,
        description="A payment batch case: minor units owed to the provider (negative: owed by it), in its next batch",
    )
    correction_fund: str | None = Field(default=None, min_length=1, max_length=64)


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    description: str = Field(min_length=1, max_length=4000)
    on: dt.date | None = Field(default=None, description="Default: today")


class StepOut(BaseModel):
    kind: str
    note: str | None
    amount: int | None
    claim_adjustment_id: int | None
    person_category_id: int | None
    at: dt.datetime
    by: str


class CaseOut(BaseModel):
    id: int
    category: str
    level: int
    appeal_of_id: int | None
    subject_kind: str
    subject_id: int
    location_id: int
    provider_id: int | None
    handler_role: str
    assigned_to: str | None
    channel: str
    opened_on: dt.date
    deadline: dt.date
    overdue: bool
    status: str
    outcome: str | None
    decided_on: dt.date | None
    decided_by: str | None
    # Shown to the case's handlers only (None for anyone else).
    complainant_kind: str
    complainant_person_id: int | None = None
    complainant_provider_id: int | None = None
    complainant_contact: str | None = None
    description: str | None = None
    decision_reasons: str | None = None
    steps: list[StepOut] = Field(default_factory=list)


def _out(session: Session, user: User, case: GrievanceCase, today: dt.date, *, steps: bool = False) -> CaseOut:
    handler = service.handles(session=session, user=user, case=case)
    return CaseOut(
        id=case.id,
        category=case.category,
        level=case.level,
        appeal_of_id=case.appeal_of_id,
        subject_kind=case.subject_kind,
        subject_id=case.subject_id,
        location_id=case.location_id,
        provider_id=case.provider_id,
        handler_role=case.handler_role,
        assigned_to=case.assigned_to,
        channel=case.channel,
        opened_on=case.opened_on,
        deadline=case.deadline,
        overdue=case.status == "open" and case.deadline < today,
        status=case.status,
        outcome=case.outcome,
        decided_on=case.decided_on,
        decided_by=case.decided_by,
        complainant_kind=case.complainant_kind,
        complainant_person_id=case.complainant_person_id if handler else None,
        complainant_provider_id=case.complainant_provider_id if handler else None,
        complainant_contact=case.complainant_contact if handler else None,
        description=case.description if handler else None,
        decision_reasons=case.decision_reasons if handler else None,
        steps=[
            StepOut(
                kind=step.kind,
                note=step.note if handler else None,
                amount=step.amount,
                claim_adjustment_id=step.claim_adjustment_id,
                person_category_id=step.person_category_id,
                at=step.at,
                by=step.by,
            )
            for step in service.steps_of(session=session, case_id=case.id)
        ]
        if steps
        else [],
    )


def _visible_case(session: Session, user: User, case_id: int) -> GrievanceCase:
    ensure_visible(
        session, GrievanceCase, GrievanceCase.id, case_id, service.cases_filter(user), f"grievance {case_id}"
    )
    return service.get_case(session=session, case_id=case_id)


@router.post("/grievances", response_model=CaseOut, status_code=201, summary="Open a case (member or provider)")
def open_case(
    body: CaseIn, request: Request, session: SessionDep, user: Annotated[User, Depends(require_roles(*ROLES))]
) -> CaseOut:
    if body.complainant_person_id is not None:
        ensure_person_visible(session=session, user=user, person_id=body.complainant_person_id)
    today = now_of(request).date()
    case = service.open_case(
        session=session,
        category=body.category,
        subject_id=body.subject_id,
        description=body.description,
        opened_on=body.opened_on or today,
        channel=body.channel,
        complainant_person_id=body.complainant_person_id,
        complainant_provider_code=body.complainant_provider_code,
        complainant_contact=body.complainant_contact,
        actor=user.username,
    )
    return _out(session, user, case, today, steps=True)


@router.get("/grievances", response_model=Page[CaseOut], summary="Cases visible to you, nearest deadline first")
def list_cases(
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CASE_READERS))],
    page: PageDep,
    status: Literal["open", "decided"] | None = None,
    overdue: bool = False,
    area: Annotated[str | None, Query(max_length=64, description="Location code: cases there and below")] = None,
    facility: Annotated[str | None, Query(max_length=64, description="Provider code")] = None,
) -> Page[CaseOut]:
    today = now_of(request).date()
    area_ids = None
    if area is not None:
        place = session.scalar(select(Location).where(Location.code == area))
        if place is None:
            raise ValidationFailed("grievances", "area", "unknown location")
        area_ids = list(
            session.scalars(
                select(Location.id).where(
                    (Location.id == place.id) | (Location.province_id == place.id) | (Location.district_id == place.id)
                )
            )
        )
    provider_id = None
    if facility is not None:
        provider_id = session.scalar(select(Provider.id).where(Provider.code == facility))
        if provider_id is None:
            raise ValidationFailed("grievances", "facility", "unknown provider")
    query = service.cases_query(
        user=user, today=today, status=status, overdue=overdue, area_ids=area_ids, provider_id=provider_id
    )
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(query.limit(page.limit).offset(page.offset)).all()
    return Page[CaseOut](
        items=[_out(session, user, case, today) for case in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/grievances/{case_id}", response_model=CaseOut, summary="One case and its steps")
def get_case(
    case_id: RowId, request: Request, session: SessionDep, user: Annotated[User, Depends(require_roles(*CASE_READERS))]
) -> CaseOut:
    return _out(session, user, _visible_case(session, user, case_id), now_of(request).date(), steps=True)


@router.post("/grievances/{case_id}/assignment", response_model=CaseOut, summary="Give the case to a handler")
def assign(
    case_id: RowId,
    body: AssignmentIn,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CASE_READERS))],
) -> CaseOut:
    case = _visible_case(session, user, case_id)
    service.assign(session=session, case=case, user=user, assignee=body.username)
    return _out(session, user, case, now_of(request).date(), steps=True)


@router.post("/grievances/{case_id}/steps", response_model=CaseOut, summary="A note or a telephone call")
def add_step(
    case_id: RowId,
    body: StepIn,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CASE_READERS))],
) -> CaseOut:
    case = _visible_case(session, user, case_id)
    service.add_step(session=session, case=case, user=user, kind=body.kind, note=body.note)
    return _out(session, user, case, now_of(request).date(), steps=True)


@router.post(
    "/grievances/{case_id}/decision", response_model=CaseOut, summary="Decide with reasons; an upheld case acts"
)
def decide(
    case_id: RowId,
    body: DecisionIn,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(Role.REGISTRAR, Role.VERIFIER, Role.FUND_MANAGER, Role.ADMIN))],
) -> CaseOut:
    case = _visible_case(session, user, case_id)
    today = now_of(request).date()
    if (body.refund_amount is None) != (body.refund_layer is None):
        raise ValidationFailed(f"grievance {case.id}", "refund_layer", "a refund names its amount and its layer")
    refund = (
        service.Refund(body.refund_amount, body.refund_layer)
        if body.refund_amount is not None and body.refund_layer is not None
        else None
    )
    correction = (
        service.CategoryCorrection(
            body.category, body.category_from or today, valid_to=body.category_to, replaces=body.category_replaces
        )
        if body.category is not None
        else None
    )
    if (body.correction_amount is None) != (body.correction_fund is None):
        raise ValidationFailed(f"grievance {case.id}", "correction_fund", "a correction names its amount and its fund")
    batch_correction = (
        service.BatchCorrection(body.correction_amount, body.correction_fund)
        if body.correction_amount is not None and body.correction_fund is not None
        else None
    )
    service.decide(
        session=session,
        case=case,
        user=user,
        outcome=body.outcome,
        reasons=body.reasons,
        on=body.on or today,
        refund=refund,
        correction=correction,
        batch_correction=batch_correction,
    )
    return _out(session, user, case, today, steps=True)


@router.post(
    "/grievances/{case_id}/appeal", response_model=CaseOut, status_code=201, summary="Appeal to the next level"
)
def appeal(
    case_id: RowId,
    body: AppealIn,
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CASE_READERS))],
) -> CaseOut:
    case = _visible_case(session, user, case_id)
    today = now_of(request).date()
    appealed = service.appeal(
        session=session, case=case, description=body.description, on=body.on or today, actor=user.username
    )
    return _out(session, user, appealed, today, steps=True)
