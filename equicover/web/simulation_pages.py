"""What if, for the people who set the rules: a stored year of claims settled again under the
policy in force and under another one (a stored version, or a draft uploaded for this comparison
only and never stored), side by side, with the differences.

The figures are :func:`equicover.simulation.engine.simulate`'s, the same as ``equicover simulate``
prints; the page shows aggregates only (payers, members' out-of-pocket, protection of the poor,
catastrophic spending, by category), so an analyst may open it as well as a fund manager. The
charts (vendored ECharts, drawn by ``static/simulation.js`` from the JSON in the page: the
Content-Security-Policy allows no inline script) repeat what the tables next to them say. The
workbook download is the command's; the PDF holds the page's tables in the reader's language.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from equicover.auth.roles import Role
from equicover.claims.models import PolicyVersion
from equicover.errors import EquicoverError, ValidationFailed
from equicover.settlement.loader import PolicyError, load_policy_text
from equicover.settlement.model import Policy
from equicover.simulation.comparison_pdf import PdfSection, comparison_pdf
from equicover.simulation.engine import NO_CATEGORY, NO_DISTRICT, GroupFigures, SimulationResult, simulate
from equicover.simulation.report import simulation_sheets, write_sheets
from equicover.simulation.stored import stored_year_claims
from equicover.web import queries
from equicover.web.i18n import localise_digits
from equicover.web.pages import CATEGORY_LABELS, N_, Page, PageDep, WebRoute

router = APIRouter(route_class=WebRoute)
PLANNER_ROLES = (Role.FUND_MANAGER, Role.ANALYST)
# A draft policy is a small text file; the policy loader has its own limits below this.
MAX_DRAFT_BYTES = 256 * 1024

NO_CLAIMS = N_("No claim is stored for this year.")
CHOOSE_POLICY = N_("Choose the policy in force.")
DRAFT_REFUSED = N_("The draft policy is refused:")
DRAFT_TOO_LARGE = N_("The draft policy is larger than a policy file can be.")
DIFFERENT_MONEY = N_("The two policies count in different currencies: they cannot be compared.")
NOT_SIMULATED = N_("The comparison could not be made:")
BASE_LINE = N_("%(claims)s claims of %(year)s settled under each policy, in %(currency)s.")
DIFFERENCE = N_("Difference")
NO_CONSUMPTION = N_("No household consumption is recorded for this year: catastrophic spending is shown as —.")
NO_CATEGORY_LABEL = N_("No category")
SECTION_TITLES: dict[str, str] = {
    "payers": N_("What each payer pays"),
    "totals": N_("Totals"),
    "equity": N_("Protection of the poor and catastrophic spending"),
    "categories": N_("Out-of-pocket and catastrophic spending by category"),
    "districts": N_("Catastrophic spending by district"),
}
ROW_LABELS: dict[str, str] = {
    "all_payers": N_("All payers"),
    "member_oop": N_("Members' out-of-pocket"),
    "allowed": N_("Allowed amount"),
    "settled": N_("Claims settled"),
    "poor_stays": N_("Inpatient stays of the registered poor"),
    "above_target": N_("…of which the patient paid more than 10% of the bill"),
    "households": N_("Households with a settled claim"),
    "left_out": N_("…of which left out of the catastrophic shares: no consumption recorded"),
    "catastrophic_10": N_("Households paying more than 10% of their consumption"),
    "catastrophic_25": N_("Households paying more than 25% of their consumption"),
}
OOP_SHARE = N_("Out-of-pocket share of the allowed amount")
CATASTROPHIC_SHARE = N_("Share of households paying more than 10% of their consumption")
CATASTROPHIC_SHARE_25 = N_("Share of households paying more than 25% of their consumption")
CATEGORY = N_("Category")
DISTRICT = N_("District")
NO_DISTRICT_LABEL = N_("No district")


def _years(page: Page) -> list[int]:
    dates = queries.claim_dates(session=page.session)
    return list(range(dates[1].year, dates[0].year - 1, -1)) if dates is not None else []


def _versions(page: Page) -> list[PolicyVersion]:
    return list(
        page.session.scalars(select(PolicyVersion).order_by(PolicyVersion.effective_from.desc(), PolicyVersion.id))
    )


def _render(page: Page, status_code: int = 200, **context: Any) -> Response:
    years = _years(page)
    return page.render(
        "simulation.html",
        status_code=status_code,
        years=years,
        versions=_versions(page),
        year_text=lambda year: localise_digits(str(year), page.lang.locale),
        form=context.pop("form", {"year": years[0] if years else None}),
        **context,
    )


@router.get("/simulation")
def simulation_page(page: PageDep) -> Response:
    page.require(*PLANNER_ROLES)
    return _render(page)


def _stored_policy(page: Page, version_id: int | None) -> Policy | None:
    if version_id is None:
        return None
    version = page.session.get(PolicyVersion, version_id)
    if version is None:
        return None
    return load_policy_text(version.source_text, path=f"{version.policy_id} (stored)")


async def _draft_policy(draft: UploadFile | None) -> Policy | None:
    if draft is None or not draft.filename:
        return None
    content = await draft.read(MAX_DRAFT_BYTES + 1)
    if len(content) > MAX_DRAFT_BYTES:
        raise ValidationFailed("draft policy", "draft", "larger than a policy file can be")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("draft policy", "draft", "is not UTF-8 text") from None
    return load_policy_text(text, path=Path(draft.filename).name)


@router.post("/simulation")
async def run_simulation(
    page: PageDep,
    year: Annotated[int, Form(ge=1900, le=2100)],
    policy_a: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    policy_b: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    draft: Annotated[UploadFile | None, File()] = None,
    download: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Settle the stored year under A and under B (a stored version or the uploaded draft); show
    both and their differences, or hand over the workbook."""
    page.require(*PLANNER_ROLES)
    _ = page.lang.gettext
    form = {"year": year, "policy_a": policy_a, "policy_b": policy_b}
    try:
        draft_policy = await _draft_policy(draft)
    except PolicyError as error:
        page.error(_(DRAFT_REFUSED) + " " + "; ".join(str(problem) for problem in error.problems), field="draft")
        return await run_in_threadpool(_render, page, 422, form=form)
    except ValidationFailed:
        page.error(_(DRAFT_TOO_LARGE), field="draft")
        return await run_in_threadpool(_render, page, 422, form=form)
    return await run_in_threadpool(_compare, page, year, policy_a, policy_b, draft_policy, download, form)


def _compare(
    page: Page,
    year: int,
    policy_a: int | None,
    policy_b: int | None,
    draft_policy: Policy | None,
    download: str,
    form: dict[str, Any],
) -> Response:
    _ = page.lang.gettext
    first = _stored_policy(page, policy_a)
    if first is None:
        page.error(_(CHOOSE_POLICY), field="policy_a")
        return _render(page, 422, form=form)
    policies = [first, *[p for p in (draft_policy or _stored_policy(page, policy_b),) if p is not None]]
    if any((p.currency, p.minor_digits) != (first.currency, first.minor_digits) for p in policies):
        page.error(_(DIFFERENT_MONEY), field="policy_b")
        return _render(page, 422, form=form)
    stored = stored_year_claims(session=page.session, year=year, default_minor_digits=first.minor_digits)
    if stored.claims == 0:
        page.error(_(NO_CLAIMS), field="year")
        return _render(page, 422, form=form)
    try:
        result = simulate(policies, stored.table)
    except EquicoverError as error:
        page.error(_(NOT_SIMULATED) + " " + error.message)
        return _render(page, 422, form=form)
    if download == "pdf":
        return Response(
            _pdf(page, result, stored.claims, year),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="simulation-{year}.pdf"'},
        )
    if download == "xlsx":
        with tempfile.TemporaryDirectory() as folder:
            written = write_sheets(Path(folder), simulation_sheets(result), "simulation.xlsx")
            workbook = next(path for path in written if path.suffix == ".xlsx").read_bytes()
        return Response(
            workbook,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="simulation-{year}.xlsx"'},
        )
    rows = _rows(result)
    categories = _category_rows(page, result)
    return _render(
        page,
        form=form,
        result=result,
        stored=stored,
        rows=rows,
        categories=categories,
        districts=_district_rows(page, result),
        consumption_line=_consumption_line(page, result),
        payer_names=_payer_names(page, result),
        consumption_known=all(f.catastrophic_10 is not None for f in result.figures),
        labels={key: _(label) for key, label in ROW_LABELS.items()},
        titles={key: _(title) for key, title in SECTION_TITLES.items()},
        chart_data=_chart_payload(page, result, rows, categories),
    )


def _rows(result: SimulationResult) -> dict[str, list[dict[str, Any]]]:
    """The page's tables: for each line, the value under each policy and the difference to the first."""

    def line(label: str, values: list[int | None], payer: str = "", money: bool = True) -> dict[str, Any]:
        first = values[0]
        differences = [None if v is None or first is None else v - first for v in values[1:]]
        return {"label": label, "payer": payer, "values": values, "differences": differences, "money": money}

    figures = result.figures
    payers = [line(layer_id, [f.paid.get(layer_id) for f in figures], payer=payer) for layer_id, payer in result.layers]
    totals = [
        line("all_payers", [f.paid_total for f in figures]),
        line("member_oop", [f.member_oop for f in figures]),
        line("allowed", [f.allowed for f in figures]),
    ]
    equity = [
        line("settled", [f.settled for f in figures], money=False),
        line("poor_stays", [f.poor_inpatient_stays for f in figures], money=False),
        line("above_target", [f.above_target for f in figures], money=False),
        line("households", [f.households for f in figures], money=False),
        line("left_out", [f.left_out for f in figures], money=False),
        line("catastrophic_10", [f.catastrophic_10 for f in figures], money=False),
        line("catastrophic_25", [f.catastrophic_25 for f in figures], money=False),
    ]
    return {"payers": payers, "totals": totals, "equity": equity}


def _category_label(page: Page, key: str) -> str:
    if key == NO_CATEGORY:
        return page.lang.gettext(NO_CATEGORY_LABEL)
    return page.lang.gettext(CATEGORY_LABELS[key]) if key in CATEGORY_LABELS else key


def _share(numerator: int, denominator: int) -> float | None:
    """A share in percent for a chart's bar (the tables show the locale's text of the same share)."""
    return round(100 * numerator / denominator, 2) if denominator else None


def _catastrophic(page: Page, figures: tuple[GroupFigures, ...], known: bool) -> dict[str, Any]:
    """The shares of households above 10% and 25% of their consumption, under each policy, of the
    households whose consumption is known (those without one are left out, and counted apart)."""
    lang = page.lang
    return {
        "catastrophic": [_share(f.catastrophic_10, f.measured) if known else None for f in figures],
        "catastrophic_text": [lang.percent(f.catastrophic_10, f.measured) if known else "—" for f in figures],
        "catastrophic_25": [_share(f.catastrophic_25, f.measured) if known else None for f in figures],
        "catastrophic_25_text": [lang.percent(f.catastrophic_25, f.measured) if known else "—" for f in figures],
        "left_out": [f.left_out if known else None for f in figures],
    }


def _consumption_line(page: Page, result: SimulationResult) -> str:
    """What the catastrophic shares stand on: the households left out for want of a recorded
    consumption (the same under every policy: the households are the year's claimants)."""
    if any(f.measured is None for f in result.figures):
        return page.lang.gettext(NO_CONSUMPTION)
    left_out = max(f.left_out or 0 for f in result.figures)
    if not left_out:
        return ""
    return page.lang.ngettext(
        "%(num)s household with a settled claim has no consumption recorded for the year: "
        "it is left out of the catastrophic-spending shares.",
        "%(num)s households with a settled claim have no consumption recorded for the year: "
        "they are left out of the catastrophic-spending shares.",
        left_out,
    )


def _category_rows(page: Page, result: SimulationResult) -> list[dict[str, Any]]:
    """Per category, under each policy: what members pay of the allowed amount, and the shares of
    households whose out-of-pocket is above 10% and 25% of their consumption (None: unknown)."""
    lang = page.lang
    consumption_known = all(f.catastrophic_10 is not None for f in result.figures)
    rows = []
    for group in sorted(result.by_category, key=lambda g: (g.key == NO_CATEGORY, g.key)):
        figures: tuple[GroupFigures, ...] = group.figures
        rows.append(
            {
                "key": group.key,
                "label": _category_label(page, group.key),
                "oop": [_share(f.member_oop, f.allowed) for f in figures],
                "oop_text": [lang.percent(f.member_oop, f.allowed) for f in figures],
                **_catastrophic(page, figures, consumption_known),
            }
        )
    return rows


def _district_rows(page: Page, result: SimulationResult) -> list[dict[str, Any]]:
    """Per district of the households, under each policy: the catastrophic shares at 10% and 25%."""
    consumption_known = all(f.catastrophic_10 is not None for f in result.figures)
    rows = []
    for group in sorted(result.by_district, key=lambda g: (g.key == NO_DISTRICT, g.key)):
        label = page.lang.gettext(NO_DISTRICT_LABEL) if group.key in (NO_DISTRICT, "") else group.key
        rows.append({"key": group.key, "label": label, **_catastrophic(page, group.figures, consumption_known)})
    return rows


def _money_text(page: Page, value: int | None, minor_digits: int, signed: bool = False) -> str:
    if value is None:
        return "—"
    return ("+" if signed and value > 0 else "") + page.lang.money(value, minor_digits)


def _number_text(page: Page, value: int | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return ("+" if signed and value > 0 else "") + page.lang.number(value)


def _payer_names(page: Page, result: SimulationResult) -> dict[str, str]:
    """Each layer's payer as its policy names it in the reader's language (the first policy that has the layer)."""
    names: dict[str, str] = {}
    for policy in result.policies:
        for layer in policy.layers:
            names.setdefault(layer.id, layer.payer_in(page.lang.language))
    return names


def _row_label(page: Page, row: dict[str, Any], payer_names: dict[str, str]) -> str:
    known = ROW_LABELS.get(row["label"])
    if known is not None:
        return page.lang.gettext(known)
    return payer_names.get(row["label"], row["payer"] or row["label"])


def _chart_payload(
    page: Page, result: SimulationResult, rows: dict[str, list[dict[str, Any]]], categories: list[dict[str, Any]]
) -> str:
    """The charts' figures as JSON for ``static/simulation.js``: amounts in the currency's units
    (the bars' lengths; every label and tooltip is the locale's text of the exact integer)."""
    scale = 10**result.minor_digits
    payers = rows["payers"]
    payer_names = _payer_names(page, result)
    data = {
        "rtl": page.lang.direction == "rtl",
        "locale": page.lang.locale.replace("_", "-"),  # a BCP 47 tag for Intl
        "policies": [policy.id for policy in result.policies],
        "payers": {
            "names": [_row_label(page, row, payer_names) for row in payers],
            "values": [
                [None if v is None else v / scale for v in (row["values"][i] for row in payers)]
                for i in range(len(result.policies))
            ],
            "texts": [
                [_money_text(page, row["values"][i], result.minor_digits) for row in payers]
                for i in range(len(result.policies))
            ],
        },
        "categories": {
            "names": [row["label"] for row in categories],
            "oop": [[row["oop"][i] for row in categories] for i in range(len(result.policies))],
            "oop_texts": [[row["oop_text"][i] for row in categories] for i in range(len(result.policies))],
            "catastrophic": [[row["catastrophic"][i] for row in categories] for i in range(len(result.policies))],
            "catastrophic_texts": [
                [row["catastrophic_text"][i] for row in categories] for i in range(len(result.policies))
            ],
        },
        "labels": {"currency": result.currency},
    }
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def _pdf(page: Page, result: SimulationResult, claims: int, year: int) -> bytes:
    """The page's tables, in the reader's language and the currency's units."""
    _ = page.lang.gettext
    rows = _rows(result)
    payer_names = _payer_names(page, result)
    policies = [policy.id for policy in result.policies]
    header = ["", *policies, *[_(DIFFERENCE)] * (len(policies) - 1)]
    sections = []
    for key in ("payers", "totals", "equity"):
        body = []
        for row in rows[key]:
            if row["money"]:
                values = [_money_text(page, v, result.minor_digits) for v in row["values"]]
                differences = [_money_text(page, d, result.minor_digits, signed=True) for d in row["differences"]]
            else:
                values = [_number_text(page, v) for v in row["values"]]
                differences = [_number_text(page, d, signed=True) for d in row["differences"]]
            label = _row_label(page, row, payer_names)
            body.append([f"{label} ({row['label']})" if key == "payers" else label, *values, *differences])
        sections.append(PdfSection(_(SECTION_TITLES[key]), header, body))
    categories = _category_rows(page, result)
    for title, field in (
        (OOP_SHARE, "oop_text"),
        (CATASTROPHIC_SHARE, "catastrophic_text"),
        (CATASTROPHIC_SHARE_25, "catastrophic_25_text"),
    ):
        sections.append(
            PdfSection(
                f"{_(SECTION_TITLES['categories'])}: {_(title)}",
                [_(CATEGORY), *policies],
                [[row["label"], *row[field]] for row in categories],
            )
        )
    districts = _district_rows(page, result)
    for title, field in ((CATASTROPHIC_SHARE, "catastrophic_text"), (CATASTROPHIC_SHARE_25, "catastrophic_25_text")):
        sections.append(
            PdfSection(
                f"{_(SECTION_TITLES['districts'])}: {_(title)}",
                [_(DISTRICT), *policies],
                [[row["label"], *row[field]] for row in districts],
            )
        )
    year_text = localise_digits(str(year), page.lang.locale)
    base = _(BASE_LINE, claims=page.lang.number(claims), year=year_text, currency=result.currency)
    lines = [line for line in (base, _consumption_line(page, result)) if line]
    return comparison_pdf(title=_("What if"), lines=lines, sections=sections, rtl=page.lang.direction == "rtl")
