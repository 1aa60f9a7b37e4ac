"""The fund ledger over HTTP (``/api/v1/funds``): balances and monthly flows, for fund managers and admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from equicover.auth.deps import require_roles
from equicover.auth.models import User
from equicover.auth.roles import FUND_ROLES
from equicover.http.deps import SessionDep
from equicover.ledger import service as ledger

router = APIRouter(prefix="/api/v1", tags=["funds"])


class BalanceOut(BaseModel):
    fund: str
    account: str
    kind: str
    debit: int
    credit: int
    balance: int


class FlowOut(BaseModel):
    fund: str
    month: str
    account: str
    kind: str
    debit: int
    credit: int


@router.get("/funds/balances", response_model=list[BalanceOut])
def balances(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*FUND_ROLES))],
    fund: Annotated[str | None, Query(max_length=64)] = None,
    as_of: dt.date | None = None,
) -> list[BalanceOut]:
    return [
        BalanceOut(fund=b.fund, account=b.account, kind=b.kind, debit=b.debit, credit=b.credit, balance=b.balance)
        for b in ledger.balances(session=session, fund_code=fund, as_of=as_of)
    ]


@router.get("/funds/flows", response_model=list[FlowOut])
def flows(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*FUND_ROLES))],
    starts: dt.date,
    ends: dt.date,
    fund: Annotated[str | None, Query(max_length=64)] = None,
) -> list[FlowOut]:
    return [
        FlowOut(fund=f.fund, month=f.month, account=f.account, kind=f.kind, debit=f.debit, credit=f.credit)
        for f in ledger.flows_by_month(session=session, starts=starts, ends=ends, fund_code=fund)
    ]
