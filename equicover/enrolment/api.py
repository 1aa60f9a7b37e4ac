"""Schemes, enrolment periods, enrolments and contributions over HTTP (``/api/v1``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from equicover.auth.deps import CurrentUser, require_roles
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.enrolment import service as enrolment
from equicover.enrolment.models import Contribution, Enrolment, EnrolmentPeriod, Scheme
from equicover.enrolment.schemas import SchemeIn
from equicover.http.deps import PageDep, RowId, SessionDep
from equicover.http.pagination import Page, paginate
from equicover.registry.models import Person
from equicover.registry.scoping import ensure_person_visible, persons_filter

router = APIRouter(prefix="/api/v1", tags=["enrolment"])

SchemeCode = Annotated[str, Path(min_length=1, max_length=64)]
ENROLERS = (Role.REGISTRAR, Role.ADMIN)


class SchemeOut(BaseModel):
    id: int
    code: str
    name: str
    currency: str
    minor_digits: int


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts: dt.date
    ends: dt.date


class PeriodOut(BaseModel):
    id: int
    scheme_id: int
    starts: dt.date
    ends: dt.date


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: int = Field(ge=1, le=2**31 - 1)
    scheme_code: str = Field(min_length=1, max_length=64)
    period_id: int = Field(ge=1, le=2**31 - 1)
    starts: dt.date
    ends: dt.date


class EnrolmentOut(BaseModel):
    id: int
    person_id: int
    scheme_id: int
    period_id: int
    starts: dt.date
    ends: dt.date
    status: str


class EnrolmentStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["active", "suspended", "cancelled"]


class ContributionApiIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    person_id: int = Field(ge=1, le=2**31 - 1)
    scheme_code: str = Field(min_length=1, max_length=64)
    payer_kind: Literal["state_budget", "local_budget", "employer", "member", "donor"]
    payer_name: str | None = Field(default=None, max_length=200)
    amount_minor: int = Field(ge=0, le=10**15)
    status: Literal["due", "paid", "waived"] = "due"
    period_starts: dt.date
    period_ends: dt.date


class ContributionOut(BaseModel):
    id: int
    enrolment_id: int
    payer_kind: str
    payer_name: str | None
    amount_minor: int
    status: str
    period_starts: dt.date
    period_ends: dt.date


def scheme_out(row: Scheme) -> SchemeOut:
    return SchemeOut(id=row.id, code=row.code, name=row.name, currency=row.currency, minor_digits=row.minor_digits)


def enrolment_out(row: Enrolment) -> EnrolmentOut:
    return EnrolmentOut(
        id=row.id,
        person_id=row.person_id,
        scheme_id=row.scheme_id,
        period_id=row.period_id,
        starts=row.starts,
        ends=row.ends,
        status=row.status,
    )


def contribution_out(row: Contribution) -> ContributionOut:
    return ContributionOut(
        id=row.id,
        enrolment_id=row.enrolment_id,
        payer_kind=row.payer_kind,
        payer_name=row.payer_name,
        amount_minor=row.amount_minor,
        status=row.status,
        period_starts=row.period_starts,
        period_ends=row.period_ends,
    )


@router.get("/schemes", response_model=list[SchemeOut], summary="Schemes")
def list_schemes(session: SessionDep, _user: CurrentUser) -> list[SchemeOut]:
    return [scheme_out(row) for row in session.scalars(select(Scheme).order_by(Scheme.code))]


@router.post("/schemes", response_model=SchemeOut, status_code=201, summary="Create a scheme (admin)")
def create_scheme(
    body: SchemeIn, session: SessionDep, user: Annotated[User, Depends(require_roles(Role.ADMIN))]
) -> SchemeOut:
    return scheme_out(enrolment.create_scheme(session=session, scheme=body, actor=user.username))


@router.get("/schemes/{code}/periods", response_model=list[PeriodOut], summary="Enrolment periods of a scheme")
def list_periods(code: SchemeCode, session: SessionDep, _user: CurrentUser) -> list[PeriodOut]:
    scheme = enrolment.get_scheme(session=session, code=code)
    rows = session.scalars(
        select(EnrolmentPeriod).where(EnrolmentPeriod.scheme_id == scheme.id).order_by(EnrolmentPeriod.starts)
    )
    return [PeriodOut(id=r.id, scheme_id=r.scheme_id, starts=r.starts, ends=r.ends) for r in rows]


@router.post(
    "/schemes/{code}/periods", response_model=PeriodOut, status_code=201, summary="Open an enrolment period (admin)"
)
def open_period(
    code: SchemeCode, body: PeriodIn, session: SessionDep, user: Annotated[User, Depends(require_roles(Role.ADMIN))]
) -> PeriodOut:
    scheme = enrolment.get_scheme(session=session, code=code)
    row = enrolment.open_period(
        session=session, scheme_id=scheme.id, starts=body.starts, ends=body.ends, actor=user.username
    )
    return PeriodOut(id=row.id, scheme_id=row.scheme_id, starts=row.starts, ends=row.ends)


@router.post(
    "/enrolments", response_model=EnrolmentOut, status_code=201, summary="Enrol a person of your area in a scheme"
)
def enrol(
    body: EnrolmentIn, session: SessionDep, user: Annotated[User, Depends(require_roles(*ENROLERS))]
) -> EnrolmentOut:
    ensure_person_visible(session=session, user=user, person_id=body.person_id)
    scheme = enrolment.get_scheme(session=session, code=body.scheme_code)
    row = enrolment.enrol(
        session=session,
        person_id=body.person_id,
        scheme_id=scheme.id,
        period_id=body.period_id,
        starts=body.starts,
        ends=body.ends,
        actor=user.username,
    )
    return enrolment_out(row)


@router.get("/enrolments", response_model=Page[EnrolmentOut], summary="Enrolments of persons visible to you")
def list_enrolments(
    session: SessionDep,
    user: CurrentUser,
    page: PageDep,
    person_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    scheme: Annotated[str | None, Query(max_length=64)] = None,
    on: Annotated[dt.date | None, Query(description="enrolments whose span contains this date")] = None,
    status: Literal["active", "suspended", "cancelled"] | None = None,
) -> Page[EnrolmentOut]:
    query = (
        select(Enrolment)
        .where(Enrolment.person_id.in_(select(Person.id).where(persons_filter(user))))
        .order_by(Enrolment.id)
    )
    if person_id is not None:
        query = query.where(Enrolment.person_id == person_id)
    if scheme is not None:
        query = query.where(Enrolment.scheme_id.in_(select(Scheme.id).where(Scheme.code == scheme)))
    if on is not None:
        query = query.where(Enrolment.starts <= on, Enrolment.ends >= on)
    if status is not None:
        query = query.where(Enrolment.status == status)
    return paginate(session=session, query=query, page=page, to_item=enrolment_out)


@router.put(
    "/enrolments/{enrolment_id}/status",
    response_model=EnrolmentOut,
    summary="Suspend, cancel or re-activate an enrolment",
)
def set_status(
    enrolment_id: RowId,
    body: EnrolmentStatusIn,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*ENROLERS))],
) -> EnrolmentOut:
    row = session.get(Enrolment, enrolment_id)
    if row is not None:
        ensure_person_visible(session=session, user=user, person_id=row.person_id)
    return enrolment_out(
        enrolment.set_enrolment_status(
            session=session, enrolment_id=enrolment_id, status=body.status, actor=user.username
        )
    )


# Recording a contribution or its payment (POST /contributions, PUT /contributions/{id}/status)
# is served by equicover.cards.api: a payment re-checks the member's card in the same unit of
# work, and cards sit above enrolment in the layers.


@router.get("/contributions", response_model=Page[ContributionOut], summary="Contributions of persons visible to you")
def list_contributions(
    session: SessionDep,
    user: CurrentUser,
    page: PageDep,
    person_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status: Literal["due", "paid", "waived"] | None = None,
    payer_kind: Literal["state_budget", "local_budget", "employer", "member", "donor"] | None = None,
) -> Page[ContributionOut]:
    visible = select(Enrolment.id).where(Enrolment.person_id.in_(select(Person.id).where(persons_filter(user))))
    if person_id is not None:
        visible = visible.where(Enrolment.person_id == person_id)
    query = select(Contribution).where(Contribution.enrolment_id.in_(visible)).order_by(Contribution.id)
    if status is not None:
        query = query.where(Contribution.status == status)
    if payer_kind is not None:
        query = query.where(Contribution.payer_kind == payer_kind)
    return paginate(session=session, query=query, page=page, to_item=contribution_out)
