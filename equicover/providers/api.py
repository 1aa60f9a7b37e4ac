"""Providers and contracts over HTTP (``/api/v1``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from equicover.auth.deps import CurrentUser, require_roles
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.http.deps import PageDep, SessionDep
from equicover.http.pagination import Page, paginate
from equicover.providers import service as providers
from equicover.providers.models import Contract, Provider
from equicover.providers.schemas import ContractIn, ProviderIn
from equicover.providers.scoping import ensure_provider_visible, providers_filter
from equicover.registry.models import Location

router = APIRouter(prefix="/api/v1", tags=["providers"])

ProviderCode = Annotated[str, Path(min_length=1, max_length=64)]


class ProviderOut(BaseModel):
    id: int
    code: str
    name: str
    level: str
    location_id: int
    designated: bool
    ownership: str


class ContractOut(BaseModel):
    id: int
    scheme_id: int
    provider_id: int
    starts: dt.date
    ends: dt.date
    payment_method: str
    designated_services: str | None


def provider_out(row: Provider) -> ProviderOut:
    return ProviderOut(
        id=row.id,
        code=row.code,
        name=row.name,
        level=row.level,
        location_id=row.location_id,
        designated=row.designated,
        ownership=row.ownership,
    )


def contract_out(row: Contract) -> ContractOut:
    return ContractOut(
        id=row.id,
        scheme_id=row.scheme_id,
        provider_id=row.provider_id,
        starts=row.starts,
        ends=row.ends,
        payment_method=row.payment_method,
        designated_services=row.designated_services,
    )


@router.get("/providers", response_model=Page[ProviderOut], summary="Providers visible to you")
def list_providers(
    session: SessionDep,
    user: CurrentUser,
    page: PageDep,
    location: Annotated[str | None, Query(max_length=64)] = None,
    level: Annotated[str | None, Query(max_length=32)] = None,
    designated: bool | None = None,
) -> Page[ProviderOut]:
    query = select(Provider).where(providers_filter(user)).order_by(Provider.code)
    if location is not None:
        area = aliased(Location)
        inside = (
            select(Location.id)
            .join(area, area.code == location)
            .where(or_(Location.id == area.id, Location.province_id == area.id, Location.district_id == area.id))
        )
        query = query.where(Provider.location_id.in_(inside))
    if level is not None:
        query = query.where(Provider.level == level)
    if designated is not None:
        query = query.where(Provider.designated == designated)
    return paginate(session=session, query=query, page=page, to_item=provider_out)


@router.post("/providers", response_model=ProviderOut, status_code=201, summary="Register a provider (admin)")
def register_provider(
    body: ProviderIn, session: SessionDep, user: Annotated[User, Depends(require_roles(Role.ADMIN))]
) -> ProviderOut:
    return provider_out(providers.register_provider(session=session, provider=body, actor=user.username))


@router.get("/providers/{code}", response_model=ProviderOut, summary="One provider")
def get_provider(code: ProviderCode, session: SessionDep, user: CurrentUser) -> ProviderOut:
    row = providers.get_provider(session=session, code=code)
    ensure_provider_visible(session=session, user=user, provider_id=row.id)
    return provider_out(row)


@router.get("/providers/{code}/contracts", response_model=list[ContractOut], summary="Contracts of one provider")
def list_contracts(code: ProviderCode, session: SessionDep, user: CurrentUser) -> list[ContractOut]:
    row = providers.get_provider(session=session, code=code)
    ensure_provider_visible(session=session, user=user, provider_id=row.id)
    return [
        contract_out(c)
        for c in session.scalars(select(Contract).where(Contract.provider_id == row.id).order_by(Contract.starts))
    ]


@router.post(
    "/contracts",
    response_model=ContractOut,
    status_code=201,
    summary="Sign a contract between a scheme and a provider (admin)",
)
def sign_contract(
    body: ContractIn, session: SessionDep, user: Annotated[User, Depends(require_roles(Role.ADMIN))]
) -> ContractOut:
    return contract_out(providers.sign_contract(session=session, contract=body, actor=user.username))
