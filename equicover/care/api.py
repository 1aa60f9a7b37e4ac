"""The care ledger over HTTP (``/api/v1/care``), for the caller's area."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from equicover.auth.deps import require_roles
from equicover.auth.models import User
from equicover.auth.roles import AREA_READERS
from equicover.http.deps import SessionDep
from equicover.registry.scoping import area_ids_of

router = APIRouter(prefix="/api/v1", tags=["care"])


@router.get("/care/untreated")
def care_untreated(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*AREA_READERS))],
    on: dt.date,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, object]]:
    """Registered-poor persons of the caller's area who need treatment and have none (by person id)."""
    from equicover.care import service as care

    area = area_ids_of(session=session, user=user)
    entries = care.untreated(session=session, on=on, district_ids=area)
    return [
        {
            "person_id": e.person_id,
            "district_id": e.district_id,
            "family_doctor_provider_id": e.family_doctor_provider_id,
            "needs": [
                {"diagnosis": n.diagnosis, "noted_on": n.noted_on.isoformat(), "status": n.status} for n in e.needs
            ],
        }
        for e in entries[:limit]
    ]
