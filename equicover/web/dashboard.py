"""The fund manager's dashboards, drawn in the browser with the vendored Apache ECharts.

One page, five views of the stored registry and claims for a year:

- coverage rate by district (a tile grid: one square per district, the colour is the rate) and by
  category (bars), as ``enrolment.service.coverage`` counts them, kept current by
  ``reports.dashboard_totals.coverage``;
- payments by payer and month (stacked bars);
- the out-of-pocket share of registered-poor inpatients against the 10% target, by district;
- consultations (outpatient visits) per person per year, by district, beside RAMED's 0.6 (the deficit
  its evaluation deplores, shown as a baseline, not as a target);
- the top providers by amount paid by the funds.

The claim figures are read from running totals kept current as claims arrive
(``reports.dashboard_totals``), never by reading the year's claims on a request; the coverage
figures likewise, moved by the registry's and the enrolments' changes. A page reads the totals as
the background refresher last folded them when that was at most ``PAGE_LAG`` ago (10 s), and
folds what is new itself otherwise: it never waits behind a fold while claims stream in. The server
computes every figure (integers, exact ratios) and hands them to the page as one JSON
document in a ``<script type="application/json">``; the page script only draws. The same JSON is
at ``/dashboard/data.json`` for whoever wants the figures without the charts.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, cast

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.auth.roles import Role
from equicover.claims import service as claims_service
from equicover.claims.models import Claim, PaymentKind, PolicyVersion
from equicover.errors import ValidationFailed
from equicover.providers.models import Provider
from equicover.registry.models import Location
from equicover.reports import dashboard_totals
from equicover.settlement.report import OOP_TARGET_SHARE_PERCENT
from equicover.web.i18n import DEFAULT_LANGUAGE, Localiser, localise_digits
from equicover.web.pages import CATEGORY_LABELS, PageDep, WebRoute

router = APIRouter(route_class=WebRoute)
DASHBOARD_ROLES = (Role.FUND_MANAGER, Role.ANALYST)  # aggregates only
CONSULTATIONS_TARGET = 0.6  # RAMED's access level per person per year: the baseline its evaluation deplores
TOP_PROVIDERS = 10


def _year_of_data(session: Session, requested: int | None) -> int:
    return requested or dashboard_totals.year_of_data(session=session)


def _currency(session: Session, year: int) -> tuple[str, int]:
    """The currency and minor digits of the policies the year's claims were settled under."""
    row = session.execute(
        select(PolicyVersion.currency, PolicyVersion.minor_digits)
        .join(Claim, Claim.policy_version_id == PolicyVersion.id)
        .where(Claim.service_date >= dt.date(year, 1, 1), Claim.service_date < dt.date(year + 1, 1, 1))
        .limit(1)
    ).first()
    if row is None:
        # No claim settled under a policy that year: every amount shown is zero, in no currency.
        return "", 0
    return str(row[0]), int(row[1])


def _payer_names(session: Session, language: str) -> dict[tuple[str, str], str]:
    """Each layer's payer as its policy names it in ``language`` (stored payment rows carry the
    file's own name, perhaps shortened)."""
    names: dict[tuple[str, str], str] = {}
    for version in session.scalars(select(PolicyVersion).order_by(PolicyVersion.effective_from)):
        for layer in claims_service.loaded_policy(version).layers:
            names[("layer", layer.id)] = layer.payer_in(language)
    return names


@dataclass(frozen=True)
class Figures:
    """The dashboard's numbers for one year, before any formatting (integers, minor units)."""

    currency: str
    digits: int
    by_district: list[Any]  # enrolment.service.CoverageRow
    by_category: list[Any]
    payments: list[tuple[PaymentKind, str, str, int, int]]  # kind, item_id, payer, month, amount
    paid_by_provider: dict[int, int]
    payer_names: dict[tuple[str, str], str]
    oop: list[tuple[str, int, int, int]]  # district name, member_oop, allowed, claims
    visits: dict[int, int]  # district id -> outpatient visits of its residents
    district_ids: dict[str, int]
    providers: dict[int, tuple[str, str, int]]  # id -> code, name, claims (the top ones)
    claims: int


def _coverage(session: Session, year: int) -> tuple[list[Any], list[Any]]:
    """Coverage on 30 June of the year, read from the figures kept current with the registry and
    the enrolments (``reports.dashboard_totals.coverage``): a change moves them in its fold, so the
    first view after it reads aggregates instead of every person."""
    by_district, by_category = dashboard_totals.coverage(
        session=session, on=dashboard_totals.coverage_date(year), lag=dashboard_totals.PAGE_LAG
    )
    return [row for row in by_district if row.group_code != "-"], by_category


def figures(*, session: Session, year: int, language: str = DEFAULT_LANGUAGE) -> Figures:
    currency, digits = _currency(session, year)
    # A fold here holds the totals' lock until the request ends: coverage reads what that fold kept.
    totals = dashboard_totals.year_totals(session=session, year=year, payments=False, lag=dashboard_totals.PAGE_LAG)
    paid = dashboard_totals.paid_sums(session=session, year=year)
    by_district, by_category = _coverage(session, year)
    district_ids = dict(session.execute(select(Location.code, Location.id).where(Location.level == "district")).all())

    by_provider = paid.by_provider
    top_ids = sorted(by_provider, key=lambda provider_id: (-by_provider[provider_id], provider_id))[:TOP_PROVIDERS]
    providers = {
        row.id: (row.code, row.name, totals.claims_by_provider.get(row.id, 0))
        for row in session.execute(select(Provider.id, Provider.code, Provider.name).where(Provider.id.in_(top_ids)))
    }
    return Figures(
        currency=currency,
        digits=digits,
        by_district=by_district,
        by_category=by_category,
        payments=[
            (cast(PaymentKind, kind), item_id, payer, month, amount)
            for kind, item_id, payer, month, amount in paid.by_item_month
        ],
        paid_by_provider=by_provider,
        payer_names=_payer_names(session, language),
        oop=totals.oop,
        visits=totals.visits,
        district_ids=district_ids,
        providers=providers,
        claims=totals.claims,
    )


def dashboard_data(*, session: Session, lang: Localiser, year: int) -> dict[str, Any]:
    """Every figure of the dashboards, ready for the charts (labels already translated)."""
    _ = lang.gettext
    numbers = figures(session=session, year=year, language=lang.language)
    currency, digits = numbers.currency, numbers.digits
    scale = 10**digits
    by_district = numbers.by_district
    enrolled = sum(row.enrolled for row in by_district)
    eligible = sum(row.eligible for row in by_district)

    # District tile grid: districts laid out in reading order on a near-square grid.
    columns = max(1, round(len(by_district) ** 0.5 + 0.49))
    tiles = [
        {
            "x": index % columns,
            "y": index // columns,
            "code": row.group_code,
            "name": row.group_name,
            "rate": round(100 * row.enrolled / row.eligible, 1) if row.eligible else 0.0,
            "rate_text": lang.percent(row.enrolled, row.eligible),
            "enrolled_text": lang.number(row.enrolled),
            "eligible_text": lang.number(row.eligible),
        }
        for index, row in enumerate(by_district)
    ]
    categories = [
        {
            "code": row.group_code,
            "name": _(CATEGORY_LABELS[row.group_code]) if row.group_code in CATEGORY_LABELS else row.group_name,
            "rate": round(100 * row.enrolled / row.eligible, 1) if row.eligible else 0.0,
            "rate_text": lang.percent(row.enrolled, row.eligible),
        }
        for row in numbers.by_category
    ]

    by_payer_month: dict[str, list[int]] = {}
    for kind, item_id, stored_payer, month_number, amount in numbers.payments:
        name = numbers.payer_names.get((kind, item_id), stored_payer)
        by_payer_month.setdefault(name, [0] * 12)[month_number - 1] += amount
    by_provider = numbers.paid_by_provider
    paid_total = sum(by_provider.values())

    oop_total = sum(member_oop for _name, member_oop, _total, _count in numbers.oop)
    bill_total = sum(total for _name, _oop, total, _count in numbers.oop)
    oop = [
        {
            "name": name,
            "share": round(100 * member_oop / total, 2) if total else 0.0,
            "share_text": lang.percent(member_oop, total),
            "claims": count,
        }
        for name, member_oop, total, count in numbers.oop
    ]

    consultations = []
    for row in by_district:
        count = numbers.visits.get(numbers.district_ids.get(row.group_code, -1), 0)
        rate = count / row.eligible if row.eligible else 0.0
        consultations.append({"name": row.group_name, "rate": round(rate, 3), "rate_text": lang.number(round(rate, 2))})
    total_visits = sum(numbers.visits.values())

    providers = [
        {
            "code": code,
            "name": name,
            "amount": by_provider.get(provider_id, 0) / scale,
            "amount_text": lang.money(by_provider.get(provider_id, 0), digits),
            "claims": lang.number(claims),
        }
        for provider_id, (code, name, claims) in sorted(
            numbers.providers.items(), key=lambda item: (-by_provider.get(item[0], 0), item[0])
        )
    ]
    oop_ok = bill_total == 0 or oop_total * 100 <= bill_total * OOP_TARGET_SHARE_PERCENT
    return {
        "year": year,
        "year_text": localise_digits(str(year), lang.locale),
        "currency": currency,
        "rtl": lang.direction == "rtl",
        "locale": lang.locale.replace("_", "-"),
        "kpis": {
            "coverage": lang.percent(enrolled, eligible),
            "enrolled": lang.number(enrolled),
            "eligible": lang.number(eligible),
            "claims": lang.number(numbers.claims),
            "paid": lang.money(paid_total, digits, currency),
            "oop_share": lang.percent(oop_total, bill_total),
            "oop_ok": oop_ok,
            "consultations": lang.number(round(total_visits / eligible, 2)) if eligible else "–",
        },
        "tiles": tiles,
        "grid_columns": columns,
        "categories": categories,
        "months": [lang.month(year, m) for m in range(1, 13)],
        "payers": [
            {"name": name, "values": [amount / scale for amount in amounts]}
            for name, amounts in sorted(by_payer_month.items())
        ],
        "oop": oop,
        "oop_target": OOP_TARGET_SHARE_PERCENT,
        "consultations": consultations,
        "consultations_target": CONSULTATIONS_TARGET,
        "providers": providers,
        "labels": {
            "coverage": _("Coverage rate"),
            "share": _("Share paid by the patient"),
            "target": _("Target"),
            # RAMED's 0.6 is the level of access its evaluation deplores: a line to rise above, not a goal.
            "baseline": _("RAMED baseline (a deficit, not a target)"),
            "consultations": _("Consultations per person"),
            "paid": _("Paid by the funds"),
            "no_data": _("No data for this year."),
        },
    }


def _year_param(text: str | None) -> int | None:
    """The year asked for, or None for the latest year with data; a year that is not one is refused (422)."""
    if not text:
        return None
    # isdigit() alone accepts superscripts and other digits that int() refuses.
    if not (text.isascii() and text.isdigit() and 1900 <= int(text) <= 2100):
        raise ValidationFailed("dashboard", "year", "is not a year between 1900 and 2100")
    return int(text)


@router.get("/dashboard")
def dashboard_page(page: PageDep, year: str | None = None) -> Response:
    page.require(*DASHBOARD_ROLES)
    chosen = _year_of_data(page.session, _year_param(year))
    data = dashboard_data(session=page.session, lang=page.lang, year=chosen)
    # "</" cannot end the script element early: JSON escapes it.
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return page.render("dashboard.html", data=data, payload=payload)


@router.get("/dashboard/data.json")
def dashboard_json(page: PageDep, year: str | None = None) -> Response:
    page.require(*DASHBOARD_ROLES)
    chosen = _year_of_data(page.session, _year_param(year))
    return JSONResponse(dashboard_data(session=page.session, lang=page.lang, year=chosen))
