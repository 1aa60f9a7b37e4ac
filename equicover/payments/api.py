"""Payment batches over HTTP (``/api/v1/payments``): drafted by a fund manager, approved by another.

The maker of a batch cannot approve it (403). Each batch is also served as CSV, PDF and a FHIR
PaymentReconciliation.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from equicover import fhir_mapping as mapping
from equicover.auth.deps import CurrentUser, require_roles
from equicover.auth.models import User
from equicover.auth.roles import FUND_ROLES
from equicover.claims.api import REVERSERS, ClaimIdPath, ProviderQuery, _own_provider, _visible_claim, claim_out
from equicover.claims.schemas import ClaimOut, ReversalIn
from equicover.db.retry import with_retries
from equicover.http.deps import RowId, SessionDep
from equicover.payments import corrections
from equicover.payments import service as payments
from equicover.payments.models import PaymentBatch

router = APIRouter(prefix="/api/v1", tags=["payments"])


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_code: str = Field(min_length=1, max_length=64)
    period_starts: dt.date
    period_ends: dt.date
    currency: str | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        pattern="^[A-Z]{3}$",
        description="the scheme's currency (default); another is refused",
    )
    capitation_per_person_month: int = Field(
        default=0, ge=0, le=10**12, description="minor units of the scheme's currency"
    )
    capitation_fund: str = Field(
        default="basic", min_length=1, max_length=64, description="an existing fund of the batch's currency"
    )


class BatchOut(BaseModel):
    id: int
    provider_id: int
    period_starts: dt.date
    period_ends: dt.date
    currency: str
    minor_digits: int
    status: str
    claim_count: int
    claims_amount: int
    capitation_amount: int
    recoveries_amount: int
    net_amount: int
    created_by: str
    approved_by: str | None


@router.post(
    "/claims/{claim_id}/reversal", response_model=ClaimOut, tags=["claims"], summary="Reverse a claim with a reason"
)
def reverse_claim(
    claim_id: ClaimIdPath,
    body: ReversalIn,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*REVERSERS))],
    provider: ProviderQuery = None,
) -> ClaimOut:
    """Reverse a claim: taken out of a draft batch, recovered from the provider when already paid;
    the member's later claims of the benefit year are settled again (adjustments on those claims)."""
    provider_id = _visible_claim(session, user, claim_id, provider).provider_id
    actor, only = user.username, _own_provider(user)

    def work() -> ClaimOut:
        reversal = corrections.reverse_claim(
            session=session,
            claim_id=claim_id,
            reason=body.reason,
            actor=actor,
            only_provider_id=only,
            provider_id=provider_id,
        )
        return claim_out(session, reversal.claim)

    return with_retries(session, work)


def _batch_out(batch: PaymentBatch) -> BatchOut:
    return BatchOut(**{name: getattr(batch, name) for name in BatchOut.model_fields})


@router.get("/payments/batches", response_model=list[BatchOut])
def list_batches(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*FUND_ROLES))],
    status: Annotated[str | None, Query(pattern="^(draft|approved|cancelled)$")] = None,
) -> list[BatchOut]:
    return [_batch_out(batch) for batch in payments.list_batches(session=session, status=status)]


@router.post("/payments/batches", response_model=BatchOut, status_code=201)
def draft_batch(
    body: BatchIn, session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))]
) -> BatchOut:
    batch = payments.draft_batch(
        session=session,
        provider_code=body.provider_code,
        period_starts=body.period_starts,
        period_ends=body.period_ends,
        actor=user.username,
        currency=body.currency,
        capitation_per_person_month=body.capitation_per_person_month,
        capitation_fund=body.capitation_fund,
    )
    return _batch_out(batch)


@router.post("/payments/batches/{batch_id}/approve", response_model=BatchOut)
def approve_batch(batch_id: RowId, session: SessionDep, user: CurrentUser) -> BatchOut:
    """The checker's step: 403 unless the caller is a fund manager who did not draft the batch."""
    return _batch_out(
        payments.approve_batch(session=session, batch_id=batch_id, actor=user.username, actor_role=user.role)
    )


@router.post("/payments/batches/{batch_id}/cancel", response_model=BatchOut)
def cancel_batch(
    batch_id: RowId, session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))]
) -> BatchOut:
    return _batch_out(payments.cancel_batch(session=session, batch_id=batch_id, actor=user.username))


@router.get("/payments/batches/{batch_id}/payment-reconciliation")
def batch_fhir(
    batch_id: RowId, session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))]
) -> Response:
    resource = payments.payment_reconciliation(session=session, batch_id=batch_id)
    # FHIR decimals are JSON numbers written exactly (150000 riel, 1234.50 yuan), never strings.
    return Response(mapping.encode_json(resource), media_type=mapping.FHIR_JSON)


@router.get("/payments/batches/{batch_id}.csv")
def batch_csv(
    batch_id: RowId, session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))]
) -> Response:
    return Response(payments.batch_csv(session=session, batch_id=batch_id), media_type="text/csv")


@router.get("/payments/batches/{batch_id}.pdf")
def batch_pdf(
    batch_id: RowId, session: SessionDep, user: Annotated[User, Depends(require_roles(*FUND_ROLES))]
) -> Response:
    return Response(payments.batch_pdf(session=session, batch_id=batch_id), media_type="application/pdf")
