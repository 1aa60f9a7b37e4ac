"""Funds, payment batches, care ledger and indicators over HTTP (``/api/v1``).

Fund managers (and admins) see the ledger and approve payment batches; the maker of a batch
cannot approve it (403). Area-scoped roles see indicators and the care ledger of their area.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from equicover.api.deps import CurrentUser, SessionDep, require_roles
from equicover.auth.models import User
from equicover.auth.scoping import area_location_ids, sees_everything
from equicover.errors import ValidationFailed
from equicover.funds import service as ledger
from equicover.payments import service as payments
from equicover.payments.models import PaymentBatch

router = APIRouter(prefix="/api/v1", tags=["funds"])

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
FUND_ROLES = ("fund_manager", "admin")


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


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_code: str = Field(min_length=1, max_length=64)
    period_starts: dt.date
    period_ends: dt.date
    currency: str = Field(min_length=3, max_length=3, pattern="^[A-Z]{3}$")
    capitation_per_person_month: int = Field(default=0, ge=0, le=10**12, description="minor units")
    capitation_fund: str = Field(default="basic", min_length=1, max_length=64)


class BatchOut(BaseModel):
    id: int
    provider_id: int
    period_starts: dt.date
    period_ends: dt.date
    currency: str
    status: str
    claim_count: int
    claims_amount: int
    capitation_amount: int
    recoveries_amount: int
    net_amount: int
    created_by: str
    approved_by: str | None


def _batch_out(batch: PaymentBatch) -> BatchOut:
    return BatchOut(**{name: getattr(batch, name) for name in BatchOut.model_fields})


@router.get("/funds/balances", response_model=list[BalanceOut])
def balances(session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))],
             fund: Annotated[str | None, Query(max_length=64)] = None, as_of: dt.date | None = None) -> list[BalanceOut]:
    return [BalanceOut(fund=b.fund, account=b.account, kind=b.kind, debit=b.debit, credit=b.credit, balance=b.balance)
            for b in ledger.balances(session=session, fund_code=fund, as_of=as_of)]


@router.get("/funds/flows", response_model=list[FlowOut])
def flows(session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))], starts: dt.date, ends: dt.date,
          fund: Annotated[str | None, Query(max_length=64)] = None) -> list[FlowOut]:
    return [FlowOut(**vars_of(flow)) for flow in ledger.flows_by_month(session=session, starts=starts, ends=ends, fund_code=fund)]


def vars_of(flow: ledger.MonthlyFlow) -> dict[str, object]:
    return {name: getattr(flow, name) for name in FlowOut.model_fields}


@router.get("/payments/batches", response_model=list[BatchOut])
def list_batches(session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))],
                 status: Annotated[str | None, Query(pattern="^(draft|approved|cancelled)$")] = None) -> list[BatchOut]:
    return [_batch_out(batch) for batch in payments.list_batches(session=session, status=status)]


@router.post("/payments/batches", response_model=BatchOut, status_code=201)
def draft_batch(body: BatchIn, session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))]) -> BatchOut:
    batch = payments.draft_batch(session=session, provider_code=body.provider_code, period_starts=body.period_starts,
                                 period_ends=body.period_ends, actor=user.username, currency=body.currency,
                                 capitation_per_person_month=body.capitation_per_person_month, capitation_fund=body.capitation_fund)
    return _batch_out(batch)


@router.post("/payments/batches/{batch_id}/approve", response_model=BatchOut)
def approve_batch(batch_id: Id, session: SessionDep, user: CurrentUser) -> BatchOut:
    """The checker's step: 403 unless the caller is a fund manager who did not draft the batch."""
    return _batch_out(payments.approve_batch(session=session, batch_id=batch_id, actor=user.username, actor_role=user.role))


@router.post("/payments/batches/{batch_id}/cancel", response_model=BatchOut)
def cancel_batch(batch_id: Id, session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))]) -> BatchOut:
    return _batch_out(payments.cancel_batch(session=session, batch_id=batch_id, actor=user.username))


@router.get("/payments/batches/{batch_id}/payment-reconciliation")
def batch_fhir(batch_id: Id, session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))]) -> Response:
    import json

    resource = payments.payment_reconciliation(session=session, batch_id=batch_id)
    return Response(json.dumps(resource, default=str), media_type="application/fhir+json")


@router.get("/payments/batches/{batch_id}.csv")
def batch_csv(batch_id: Id, session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))]) -> Response:
    return Response(payments.batch_csv(session=session, batch_id=batch_id), media_type="text/csv")


@router.get("/payments/batches/{batch_id}.pdf")
def batch_pdf(batch_id: Id, session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))]) -> Response:
    return Response(payments.batch_pdf(session=session, batch_id=batch_id), media_type="application/pdf")


def _area_ids(session, user: User) -> list[int] | None:  # type: ignore[no-untyped-def]
    return None if sees_everything(user) else list(session.scalars(area_location_ids(user)))


@router.get("/reports/indicators")
def indicators(session: SessionDep, user: Annotated[User, Depends(require_roles("registrar", "verifier", "fund_manager", "admin"))],
               starts: dt.date, ends: dt.date,
               by: Annotated[str, Query(pattern="^(district|province|country)$")] = "district") -> list[dict[str, object]]:
    from equicover.reports.indicators import compute_indicators

    if ends < starts:
        raise ValidationFailed("indicators", "ends", "is before starts")
    if (ends - starts).days > 3660:
        raise ValidationFailed("indicators", "ends", "a period of at most ten years")
    rows = compute_indicators(session=session, starts=starts, ends=ends, by=by, area_ids=_area_ids(session, user))
    return [row.as_dict() for row in rows]


@router.get("/care/untreated")
def care_untreated(session: SessionDep, user: Annotated[User, Depends(require_roles("registrar", "verifier", "fund_manager", "admin"))],
                   on: dt.date, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, object]]:
    """Registered-poor persons of the caller's area who need treatment and have none (by person id)."""
    from equicover.care import service as care

    area = _area_ids(session, user)
    entries = care.untreated(session=session, on=on, district_ids=area)
    return [{"person_id": e.person_id, "district_id": e.district_id, "family_doctor_provider_id": e.family_doctor_provider_id,
             "needs": [{"diagnosis": n.diagnosis, "noted_on": n.noted_on.isoformat(), "status": n.status} for n in e.needs]}
            for e in entries[:limit]]

