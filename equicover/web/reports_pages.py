"""The fund manager's files: the semi-annual report (XLSX, PDF) for any half-year with data, and
every payment batch's remittance file (CSV) and advice (PDF), downloaded from the page.

The files are those the command line writes (``equicover report semiannual``, ``equicover
payments export``), made by the same services on request: nothing is read from the server's disk.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam

from equicover.auth.roles import Role
from equicover.claims.service import money_in_force
from equicover.errors import NotFound, ValidationFailed
from equicover.ledger import service as ledger
from equicover.organisations import service as organisations
from equicover.organisations.service import DrivePoint
from equicover.payments import service as payments
from equicover.reports import service as reports
from equicover.reports.financing import FinancingReport, financing_report
from equicover.reports.indicators import half_year
from equicover.web import queries
from equicover.web.i18n import localise_digits
from equicover.web.pages import MAX_PAGE, N_, Page, PageDep, RecordId, Refusals, WebRoute, label_of

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


# The enrolment drive (Iran): newly enrolled and coverage per neighbourhood or organisation,
# step by step (``organisations.service.enrolment_drive``).
DRIVE_ROLE = "responsible_organisation"
DRIVE_PAGE_SIZE = 60
DRIVE_DEFAULT_MONTHS = 6
DRIVE_BY_LABELS = {"area": N_("Neighbourhood"), "organisation": N_("Organisation")}
DRIVE_STEP_LABELS = {"month": N_("By month"), "week": N_("By week")}
DRIVE_REFUSALS: Refusals = {
    ("from", "more than"): N_("The period has too many steps: shorten it or count by month."),
    ("to", None): N_("The end of the period is before its start."),
}


@dataclass(frozen=True)
class Drive:
    starts: dt.date
    ends: dt.date
    by: str
    step: str
    points: list[DrivePoint]
    total: int
    page: int
    pages: int


def _drive(page: Page, drive_from: str, drive_to: str, by: str, step: str, dp: int) -> Drive | None:
    """The drive's table, one page of it; None when no organisation answers for a neighbourhood."""
    if not organisations.list_organisations(session=page.session, role=DRIVE_ROLE):
        return None
    by = by if by in DRIVE_BY_LABELS else "area"
    step = step if step in DRIVE_STEP_LABELS else "month"
    last = page.data_day.day
    first_month = last.replace(day=1)
    for _ in range(DRIVE_DEFAULT_MONTHS - 1):
        first_month = (first_month - dt.timedelta(days=1)).replace(day=1)
    period = []
    for field_name, text, default in (("drive_from", drive_from, first_month), ("drive_to", drive_to, last)):
        try:
            period.append(dt.date.fromisoformat(text.strip()) if text.strip() else default)
        except ValueError:
            page.error(page.lang.gettext("Give the date as year-month-day."), field=field_name)
            period.append(default)
    try:
        points = organisations.enrolment_drive(
            session=page.session, starts=period[0], ends=period[1], step=step, role=DRIVE_ROLE, by=by
        )
    except ValidationFailed as error:
        page.error_of(error, DRIVE_REFUSALS)
        if page.invalid_field in ("from", "to"):
            page.invalid_field = "drive_" + page.invalid_field
        period = [first_month, last]
        points = organisations.enrolment_drive(
            session=page.session, starts=period[0], ends=period[1], step=step, role=DRIVE_ROLE, by=by
        )
    pages = max(1, -(-len(points) // DRIVE_PAGE_SIZE))
    dp = min(max(1, dp), pages)
    shown = points[(dp - 1) * DRIVE_PAGE_SIZE : dp * DRIVE_PAGE_SIZE]
    return Drive(period[0], period[1], by, step, shown, len(points), dp, pages)


@router.get("/reports")
def reports_page(
    page: PageDep,
    p: int = 1,
    drive_from: Annotated[str, Query(max_length=10)] = "",
    drive_to: Annotated[str, Query(max_length=10)] = "",
    drive_by: Annotated[str, Query(max_length=16)] = "area",
    drive_step: Annotated[str, Query(max_length=8)] = "month",
    dp: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    page.require(*FUND_ROLES)
    if p > MAX_PAGE:
        raise NotFound("page", "p", "beyond the last page")
    p = max(1, p)
    drive = _drive(page, drive_from, drive_to, drive_by, drive_step, dp)
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
        drive=drive,
        drive_query=""
        if drive is None
        else urlencode(
            {
                "drive_from": drive.starts.isoformat(),
                "drive_to": drive.ends.isoformat(),
                "drive_by": drive.by,
                "drive_step": drive.step,
            }
        ),
        drive_by_label=label_of(page.lang, DRIVE_BY_LABELS),
        drive_step_label=label_of(page.lang, DRIVE_STEP_LABELS),
        status_code=422 if page.invalid_field else 200,
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
