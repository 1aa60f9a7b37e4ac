"""The fund manager's files: the semi-annual report (XLSX, PDF) for any half-year with data, and
every payment batch's remittance file (CSV) and advice (PDF), downloaded from the page.

The files are those the command line writes (``equicover report semiannual``, ``equicover
payments export``), made by the same services on request: nothing is read from the server's disk.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam

from equicover.auth.roles import Role
from equicover.claims.service import money_in_force
from equicover.errors import NotFound, ValidationFailed
from equicover.ledger import service as ledger
from equicover.payments import service as payments
from equicover.reports import service as reports
from equicover.reports.financing import FinancingReport, financing_report
from equicover.reports.indicators import half_year
from equicover.web import queries
from equicover.web.i18n import localise_digits
from equicover.web.pages import MAX_PAGE, N_, PageDep, RecordId, WebRoute, label_of

router = APIRouter(route_class=WebRoute)
FUND_ROLES = (Role.FUND_MANAGER,)
BATCH_PAGE_SIZE = 25
BATCH_STATUS_LABELS = {"draft": N_("draft"), "approved": N_("approved"), "cancelled": N_("cancelled")}
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
}
Year = Annotated[int, PathParam(ge=1900, le=2100)]
# The ledger's source and use accounts, as the financing section names them.
SOURCE_LABELS = {
    "state_budget": N_("State budget"),
    "local_budget": N_("Local budget"),
    "social_cohesion_fund": N_("Social Cohesion Support Fund"),
    "territorial_communities": N_("Territorial communities"),
    "member_contributions": N_("Members' contributions"),
    "donors": N_("Donors"),
    "charity": N_("Charity funds"),
}
USE_LABELS = {
    "provider_payments": N_("Payments to providers"),
    "allowances": N_("Allowances to patients"),
    "transplants": N_("Transplants special account"),
    "administration": N_("Administration and operators' fees"),
}
Half = Annotated[int, PathParam(ge=1, le=2)]


def _download(content: bytes, filename: str, kind: str) -> Response:
    return Response(
        content,
        media_type=MEDIA_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _halves_with_claims(page: PageDep) -> list[tuple[int, int]]:
    """Every half-year from the first claim's to the last one's, the latest first."""
    dates = queries.claim_dates(session=page.session)
    if dates is None:
        return []
    first, last = dates
    halves = []
    for year in range(last.year, first.year - 1, -1):
        for half in (2, 1):
            starts, ends = half_year(year, half)
            if starts <= last and ends >= first:
                halves.append((year, half))
    return halves


@router.get("/reports")
def reports_page(page: PageDep, p: int = 1) -> Response:
    page.require(*FUND_ROLES)
    if p > MAX_PAGE:
        raise NotFound("page", "p", "beyond the last page")
    p = max(1, p)
    halves = [
        (year, half, money_in_force(session=page.session, starts=starts, ends=ends))
        for year, half in _halves_with_claims(page)
        for starts, ends in (half_year(year, half),)
    ]
    batches, total = payments.batches_page(
        session=page.session, limit=BATCH_PAGE_SIZE, offset=(p - 1) * BATCH_PAGE_SIZE
    )
    financing_year = halves[0][0] if halves else None
    return page.render(
        "reports.html",
        financing_year=financing_year,
        financing=_financing(page, financing_year),
        source_label=label_of(page.lang, SOURCE_LABELS),
        use_label=label_of(page.lang, USE_LABELS),
        halves=halves,
        batches=batches,
        total=total,
        p=p,
        pages=max(1, -(-total // BATCH_PAGE_SIZE)),
        year_text=lambda year: localise_digits(str(year), page.lang.locale),
        batch_status_label=label_of(page.lang, BATCH_STATUS_LABELS),
    )


def _financing(page: PageDep, year: int | None) -> list[FinancingReport]:
    """The financing mix of the year of the latest claims, one report per currency the funds keep."""
    if year is None:
        return []
    reports_of_year = []
    for currency in sorted({fund.currency for fund in ledger.list_funds(session=page.session)}):
        report = financing_report(
            session=page.session, starts=dt.date(year, 1, 1), ends=dt.date(year, 12, 31), currency=currency
        )
        if report.sources or report.payments or report.earmarked:
            reports_of_year.append(report)
    return reports_of_year


@router.get("/reports/semiannual-{year}-H{half}.{kind}")
def semiannual_file(
    page: PageDep,
    year: Year,
    half: Half,
    kind: Literal["xlsx", "pdf"],
    currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
) -> Response:
    """The report of a half-year in the currency of the schemes in force then (one of them, named
    by ``currency``, when they pay in several)."""
    page.require(*FUND_ROLES)
    starts, ends = half_year(year, half)
    known = money_in_force(session=page.session, starts=starts, ends=ends)
    if not known:
        raise NotFound(f"report {year} H{half}", "year", "no policy was in force in this half-year")
    chosen = [pair for pair in known if currency is None or pair[0] == currency]
    if not chosen or (currency is None and len(known) > 1):
        raise ValidationFailed(f"report {year} H{half}", "currency", "is not one of the schemes' currencies")
    report = reports.semiannual_report(
        session=page.session, year=year, half=half, currency=chosen[0][0], minor_digits=chosen[0][1]
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"semiannual-{year}-H{half}.{kind}"
        (reports.write_xlsx if kind == "xlsx" else reports.write_pdf)(report, path)
        content = path.read_bytes()
    return _download(content, path.name, kind)


@router.get("/reports/batches/{batch_id}.{kind}")
def batch_file(page: PageDep, batch_id: RecordId, kind: Literal["csv", "pdf"]) -> Response:
    page.require(*FUND_ROLES)
    if kind == "csv":
        content = payments.batch_csv(session=page.session, batch_id=batch_id).encode("utf-8")
    else:
        content = payments.batch_pdf(session=page.session, batch_id=batch_id)
    return _download(content, f"payment-batch-{batch_id}.{kind}", kind)
