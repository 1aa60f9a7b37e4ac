"""Programme indicators over HTTP (``/api/v1/reports``), for the caller's area."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from equicover.auth.deps import require_roles
from equicover.auth.models import User
from equicover.auth.roles import AREA_READERS, Role
from equicover.errors import ValidationFailed
from equicover.http.deps import SessionDep
from equicover.registry.scoping import area_ids_of

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/reports/indicators")
def indicators(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*AREA_READERS, Role.ANALYST))],
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


@router.get("/reports/enrolment-drive")
def enrolment_drive(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(Role.FUND_MANAGER, Role.ADMIN))],
    starts: dt.date,
    ends: dt.date,
    step: Annotated[str, Query(pattern="^(month|week)$")] = "month",
    role: Annotated[str, Query(pattern="^(responsible_organisation|hef_operator)$")] = "responsible_organisation",
    by: Annotated[str, Query(pattern="^(area|organisation)$")] = "area",
) -> list[dict[str, object]]:
    """Per area (or organisation), step by step: the newly enrolled and the coverage at the step's end."""
    from equicover.organisations.service import enrolment_drive as drive

    points = drive(session=session, starts=starts, ends=ends, step=step, role=role, by=by)
    return [
        {
            "code": point.code,
            "name": point.name,
            "organisation": point.organisation,
            "starts": point.starts,
            "ends": point.ends,
            "newly_enrolled": point.newly_enrolled,
            "population": point.population,
            "enrolled": point.enrolled,
            "rate": point.rate,
        }
        for point in points
    ]


@router.get("/reports/financing")
def financing(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(Role.FUND_MANAGER, Role.ADMIN))],
    starts: dt.date,
    ends: dt.date,
    currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$")] = None,
    earmarked: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> dict[str, object]:
    """The financing mix from the ledger (amounts in minor units of ``currency``)."""
    from equicover.reports.financing import DEFAULT_EARMARKED, financing_report

    report = financing_report(
        session=session,
        starts=starts,
        ends=ends,
        currency=currency,
        earmarked=DEFAULT_EARMARKED if earmarked is None else earmarked,
    )
    return {
        "starts": report.starts,
        "ends": report.ends,
        "currency": report.currency,
        "minor_digits": report.minor_digits,
        "sources": [
            {"source": r.source, "contributions": r.contributions, "share": r.share, "financed": r.financed}
            for r in report.sources
        ],
        "total_contributions": report.total_contributions,
        "payments": report.payments,
        "total_payments": report.total_payments,
        "unattributed": report.unattributed,
        "earmarked": [
            {"fund": fund.fund, "contributions": fund.contributions, "payments": fund.payments}
            for fund in report.earmarked
        ],
    }
