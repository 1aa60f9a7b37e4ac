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
from equicover.verification import operators, service
from equicover.verification.models import ClaimReview, OperatorReview

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
    return [QueueItemOut.model_validate(item, from_attributes=True) for item in items]


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
        ScorecardOut.model_validate(card, from_attributes=True)
        for card in cards
        if visible is None or card.provider_id in visible
    ]


# --------------------------------------------------------------------------------------------
# HEF operators: samples of their acts, findings, scorecards.


class OperatorSampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_code: str = Field(min_length=1, max_length=64)
    period_starts: dt.date
    period_ends: dt.date
    cases: int = Field(ge=0, le=10_000)
    benefits: int = Field(ge=0, le=10_000)
    seed: int = Field(ge=0, le=2**31 - 1)


class OperatorReviewOut(BaseModel):
    id: int
    act: str
    act_date: dt.date
    at_stake: int
    status: str
    disallowed: int
    reason: str | None


class OperatorFindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    finding: Literal["justified", "not_justified"]
    reason: str | None = Field(default=None, max_length=2000)
    amount: int | None = Field(default=None, ge=1, le=10**15, description="minor units; default: all at stake")


class OperatorQueueItemOut(BaseModel):
    review_id: int
    organisation_code: str
    act: str
    act_date: dt.date
    provider_code: str
    at_stake: int
    status: str
    disallowed: int


class OperatorScorecardOut(BaseModel):
    organisation_code: str
    name: str
    hospital_cases: int
    benefits: int
    benefits_paid: int
    reviewed: int
    not_justified: int
    disallowed: int
    outstanding: int
    not_justified_rate: float | None


def _operator_review_out(review: OperatorReview) -> OperatorReviewOut:
    return OperatorReviewOut.model_validate(review, from_attributes=True)


@router.post("/verification/operator-samples", response_model=list[OperatorReviewOut], status_code=201)
def draw_operator_sample(
    body: OperatorSampleIn, session: SessionDep, user: Annotated[User, Depends(require_roles(*PLANNERS))]
) -> list[OperatorReviewOut]:
    """Draw acts of a HEF operator in a period for review: post-identifications and benefits paid."""
    drawn = operators.draw_operator_sample(
        session=session,
        organisation_code=body.organisation_code,
        period_starts=body.period_starts,
        period_ends=body.period_ends,
        cases=body.cases,
        benefits=body.benefits,
        seed=body.seed,
        actor=user.username,
    )
    return [_operator_review_out(review) for review in drawn]


@router.get("/verification/operator-queue", response_model=list[OperatorQueueItemOut])
def operator_queue(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*VERIFIERS, Role.FUND_MANAGER))],
    organisation_code: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> list[OperatorQueueItemOut]:
    """Pending operator reviews at the facilities of the caller's area, largest amount first."""
    scope = None if sees_everything(user) else providers_filter(user)
    items = operators.operator_queue(
        session=session, organisation_code=organisation_code, provider_scope=scope, limit=limit, offset=offset
    )
    return [OperatorQueueItemOut.model_validate(item, from_attributes=True) for item in items]


@router.post("/verification/operator-reviews/{review_id}/finding", response_model=OperatorReviewOut)
def decide_operator_review(
    review_id: RowId,
    body: OperatorFindingIn,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*VERIFIERS))],
) -> OperatorReviewOut:
    review = session.get(OperatorReview, review_id)
    if review is None:
        raise NotFound(f"operator review {review_id}", "review_id", "unknown review")
    if not sees_everything(user):
        from equicover.providers.models import Provider

        visible = session.scalar(select(Provider.id).where(Provider.id == review.provider_id, providers_filter(user)))
        if visible is None:
            # Outside the verifier's area reads as unknown, as a claim outside it does.
            raise NotFound(f"operator review {review_id}", "review_id", "unknown review")
    decided = operators.decide_operator_review(
        session=session,
        review_id=review_id,
        finding=body.finding,
        reason=body.reason,
        amount=body.amount,
        actor=user.username,
    )
    return _operator_review_out(decided)


@router.get("/verification/operator-scorecards", response_model=list[OperatorScorecardOut])
def operator_scorecards(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*VERIFIERS, Role.FUND_MANAGER))],
    period_starts: dt.date,
    period_ends: dt.date,
) -> list[OperatorScorecardOut]:
    """One scorecard per HEF operator, beside the providers' scorecards."""
    cards = operators.operator_scorecards(session=session, period_starts=period_starts, period_ends=period_ends)
    return [OperatorScorecardOut.model_validate(card, from_attributes=True) for card in cards]
