"""Programme indicators over HTTP (``/api/v1/reports``), for the caller's area."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from equicover.auth.deps import require_roles
from equicover.auth.models import User
from equicover.auth.roles import AREA_READERS
from equicover.errors import ValidationFailed
from equicover.http.deps import SessionDep
from equicover.registry.scoping import area_ids_of

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/reports/indicators")
def indicators(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*AREA_READERS))],
    starts: dt.date,
    ends: dt.date,
    by: Annotated[str, Query(pattern="^(district|province|country)$")] = "district",
) -> list[dict[str, object]]:
    from equicover.reports.indicators import compute_indicators

    if ends < starts:
        raise ValidationFailed("indicators", "ends", "is before starts")
    if (ends - starts).days > 3660:
        raise ValidationFailed("indicators", "ends", "a period of at most ten years")
    rows = compute_indicators(
        session=session, starts=starts, ends=ends, by=by, area_ids=area_ids_of(session=session, user=user)
    )
    return [row.as_dict() for row in rows]
