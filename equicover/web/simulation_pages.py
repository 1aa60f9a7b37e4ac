"""What if, for the people who set the rules: a stored year of claims settled again under the
policy in force and under another one (a stored version, or a draft uploaded for this comparison
only and never stored), side by side, with the differences.

The figures are :func:`equicover.simulation.engine.simulate`'s, the same as ``equicover simulate``
prints; the page shows aggregates only (payers, members' out-of-pocket, protection of the poor,
catastrophic spending, by category and district). The workbook download is the command's.
"""

from __future__ import annotations

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
from equicover.simulation.engine import SimulationResult, simulate
from equicover.simulation.report import simulation_sheets, write_sheets
from equicover.simulation.stored import stored_year_claims
from equicover.web import queries
from equicover.web.i18n import localise_digits
from equicover.web.pages import N_, Page, PageDep, WebRoute

router = APIRouter(route_class=WebRoute)
PLANNER_ROLES = (Role.FUND_MANAGER,)
# A draft policy is a small text file; the policy loader has its own limits below this.
MAX_DRAFT_BYTES = 256 * 1024

NO_CLAIMS = N_("No claim is stored for this year.")
CHOOSE_POLICY = N_("Choose the policy in force.")
DRAFT_REFUSED = N_("The draft policy is refused:")
DRAFT_TOO_LARGE = N_("The draft policy is larger than a policy file can be.")
DIFFERENT_MONEY = N_("The two policies count in different currencies: they cannot be compared.")
NOT_SIMULATED = N_("The comparison could not be made:")


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
    if download == "xlsx":
        with tempfile.TemporaryDirectory() as folder:
            written = write_sheets(Path(folder), simulation_sheets(result), "simulation.xlsx")
            workbook = next(path for path in written if path.suffix == ".xlsx").read_bytes()
        return Response(
            workbook,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="simulation-{year}.xlsx"'},
        )
    return _render(page, form=form, result=result, stored=stored, rows=_rows(result))


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
        line("catastrophic_10", [f.catastrophic_10 for f in figures], money=False),
        line("catastrophic_25", [f.catastrophic_25 for f in figures], money=False),
    ]
    return {"payers": payers, "totals": totals, "equity": equity}
