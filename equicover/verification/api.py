"""Verification over HTTP (``/api/v1/verification``).

Verifiers see and decide the reviews of providers in their area; samples are drawn by fund
managers and admins. The web verification queue (``equicover.web``) calls the same services.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from equicover.auth.deps import require_roles
from equicover.auth.models import User
from equicover.auth.roles import PLANNERS, VERIFIERS, Role
from equicover.auth.scoping import sees_everything
from equicover.claims.scoping import ensure_claim_visible
from equicover.errors import NotFound, ValidationFailed
from equicover.http.deps import RowId, SessionDep
from equicover.providers.scoping import providers_filter
from equicover.verification import service
from equicover.verification.models import ClaimReview

router = APIRouter(prefix="/api/v1", tags=["verification"])


class SampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_starts: dt.date
    period_ends: dt.date
    random_count: int = Field(ge=0, le=10_000)
    risk_count: int = Field(ge=0, le=10_000)
    seed: int = Field(ge=0, le=2**31 - 1)


class SampleOut(BaseModel):
    id: int
    random_count: int
    risk_count: int
    claim_ids: list[str]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "query", "disallow", "reject"]
    reason: str | None = Field(default=None, max_length=2000)
    amount: int | None = Field(default=None, ge=1, le=10**15, description="minor units; for disallow")


class ReviewOut(BaseModel):
    id: int
    status: str
    disallowed: int
    reason: str | None
    decided_by: str | None


class QueueItemOut(BaseModel):
    review_id: int
    claim_id: str
    provider_code: str
    service_date: dt.date
    care_type: str
    diagnosis: str
    days: int
    allowed: int
    paid: int
    selection: str
    risk_score: float
    risk_reason: str
    status: str
    currency: str
    minor_digits: int


class ScorecardOut(BaseModel):
    provider_code: str
    level: str
    claims: int
    billed: int
    allowed: int
    paid: int
    reviewed: int
    rejected: int
    partly_disallowed: int
    recovered: int
    rejection_rate: float | None
    disallowance_rate: float | None
    average_length_of_stay: float | None
    cost_per_case: float | None
    peer_cost_per_case: float | None
    cost_against_peers: float | None


@router.post("/verification/samples", response_model=SampleOut, status_code=201)
def draw_sample(
    body: SampleIn, session: SessionDep, user: Annotated[User, Depends(require_roles(*PLANNERS))]
) -> SampleOut:
    sample = service.draw_sample(
        session=session,
        period_starts=body.period_starts,
        period_ends=body.period_ends,
        random_count=body.random_count,
        risk_count=body.risk_count,
        seed=body.seed,
        actor=user.username,
    )
    return SampleOut(
        id=sample.id,
        random_count=sample.random_count,
        risk_count=sample.risk_count,
        claim_ids=service.sampled_claim_ids(session=session, sample_id=sample.id),
    )


@router.get("/verification/queue", response_model=list[QueueItemOut])
def queue(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*VERIFIERS, Role.FUND_MANAGER))],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> list[QueueItemOut]:
    """Open reviews of the providers in the caller's area, riskiest first."""
    scope = None if sees_everything(user) else providers_filter(user)
    items = service.verifier_queue(session=session, limit=limit, offset=offset, provider_scope=scope)
    return [QueueItemOut(**{name: getattr(item, name) for name in QueueItemOut.model_fields}) for item in items]


@router.post("/verification/reviews/{review_id}/decision", response_model=ReviewOut)
def decide(
    review_id: RowId, body: DecisionIn, session: SessionDep, user: Annotated[User, Depends(require_roles(*VERIFIERS))]
) -> ReviewOut:
    review = session.get(ClaimReview, review_id)
    if review is None:
        raise NotFound(f"review {review_id}", "review_id", "unknown review")
    ensure_claim_visible(session=session, user=user, claim_pk=review.claim_pk)
    decided = service.decide(
        session=session,
        review_id=review_id,
        decision=body.decision,
        reason=body.reason,
        amount=body.amount,
        actor=user.username,
    )
    return ReviewOut(
        id=decided.id,
        status=decided.status,
        disallowed=decided.disallowed,
        reason=decided.reason,
        decided_by=decided.decided_by,
    )


@router.get("/verification/scorecards", response_model=list[ScorecardOut])
def scorecards(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*VERIFIERS, Role.FUND_MANAGER))],
    period_starts: dt.date,
    period_ends: dt.date,
) -> list[ScorecardOut]:
    if period_ends < period_starts:
        raise ValidationFailed("scorecards", "period_ends", "is before period_starts")
    from equicover.providers.models import Provider

    visible = None if sees_everything(user) else set(session.scalars(select(Provider.id).where(providers_filter(user))))
    cards = service.provider_scorecards(session=session, period_starts=period_starts, period_ends=period_ends)
    return [
        ScorecardOut(**{name: getattr(card, name) for name in ScorecardOut.model_fields})
        for card in cards
        if visible is None or card.provider_id in visible
    ]
