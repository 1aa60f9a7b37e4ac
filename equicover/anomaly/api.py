"""Anomaly flags over HTTP (``/api/v1/anomaly``): the latest run's flags of the caller's claims."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from equicover.anomaly.service import top_flags
from equicover.auth.deps import require_roles
from equicover.auth.models import User
from equicover.auth.roles import VERIFIERS, Role
from equicover.auth.scoping import sees_everything
from equicover.claims.models import Claim
from equicover.claims.scoping import claims_filter
from equicover.http.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["anomaly"])


class FlagOut(BaseModel):
    claim_id: str
    score: float
    rules: str
    reason: str


@router.get("/anomaly/flags", response_model=list[FlagOut])
def flags(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*VERIFIERS, Role.FUND_MANAGER))],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FlagOut]:
    """The latest run's highest-scored flags (claims of the caller's area)."""
    rows = top_flags(session=session, limit=limit if sees_everything(user) else 5_000)
    if not sees_everything(user):
        # By the stored claim, not its bill number: two facilities may use the same number.
        visible = set(
            session.scalars(select(Claim.id).where(claims_filter(user), Claim.id.in_([f.claim_pk for f, _ in rows])))
        )
        rows = [(flag, claim_id) for flag, claim_id in rows if flag.claim_pk in visible][:limit]
    return [
        FlagOut(claim_id=claim_id, score=flag.score, rules=flag.rules, reason=flag.reason) for flag, claim_id in rows
    ]
