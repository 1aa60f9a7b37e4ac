"""The registrar's pages: households and members of the area, categories with their validity,
enrolment and contribution status, enrolling a member, and the coverage gaps of the area
("who is eligible but not enrolled").

Enrolment is the enrolment service's (``equicover.enrolment.service.enrol``), audited in the
change log with the registrar as actor (``web:<username>``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Response

from equicover.auth.roles import Role
from equicover.enrolment import service as enrolment_service
from equicover.enrolment.models import EnrolmentPeriod
from equicover.errors import EquicoverError, NotFound
from equicover.registry.models import Household, Location
from equicover.registry.scoping import ensure_household_visible, ensure_person_visible
from equicover.web import queries
from equicover.web.pages import MAX_PAGE, N_, Page, PageDep, RecordId, Refusals, WebRoute, label_of, redirect

router = APIRouter(route_class=WebRoute)
REGISTRAR_ROLES = (Role.REGISTRAR,)
PAGE_SIZE = 25

STATUS_LABELS = {
    "active": N_("active"),
    "suspended": N_("suspended"),
    "cancelled": N_("cancelled"),
    "due": N_("due"),
    "paid": N_("paid"),
    "waived": N_("waived"),
}
PAYER_KIND_LABELS = {
    "state_budget": N_("State budget"),
    "local_budget": N_("Local budget"),
    "employer": N_("Employer"),
    "member": N_("Member"),
    "donor": N_("Donor"),
}

# The enrolment service's refusals, as the registrar reads them.
ENROLMENT_REFUSALS: Refusals = {
    ("ends", "is before starts"): N_("The enrolment would end before it starts."),
    ("starts", "is before the scheme's period"): N_("The enrolment cannot start before the enrolment period."),
    ("ends", "is after the scheme's period"): N_("The enrolment cannot end after the enrolment period."),
    ("starts", "is before the person's birth date"): N_("The enrolment cannot start before the person was born."),
    ("ends", "is after the person's death"): N_("The enrolment cannot end after the person's death."),
    ("starts", "overlaps enrolment"): N_("The person is already enrolled in this scheme for part of these dates."),
    ("period_id", None): N_("Choose an enrolment period."),
}


def reference_date(page: Page, text: str | None) -> dt.date:
    """The date the registry is looked at: the ``on`` parameter, else the day every page opens on."""
    try:
        return dt.date.fromisoformat(text) if text else page.data_day.day
    except ValueError:
        return page.data_day.day


def _labels(page: Page) -> dict[str, object]:
    return {
        "status_label": label_of(page.lang, STATUS_LABELS),
        "payer_kind_label": label_of(page.lang, PAYER_KIND_LABELS),
    }


def _page_number(p: int) -> int:
    if p > MAX_PAGE:
        raise NotFound("page", "p", "beyond the last page")
    return max(1, p)


@router.get("/registry")
def registry_home(page: PageDep, q: str = "", on: str | None = None, p: int = 1) -> Response:
    page.require(*REGISTRAR_ROLES)
    day = reference_date(page, on)
    p = _page_number(p)
    rows, total = queries.households_page(
        session=page.session, user=page.current_user, on=day, text=q, limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE
    )
    return page.render(
        "registry.html",
        rows=rows,
        total=total,
        q=q,
        on=day,
        p=p,
        pages=max(1, -(-total // PAGE_SIZE)),
        area=queries.area_name(session=page.session, location_id=page.current_user.location_id),
    )


@router.get("/registry/households/{code}")
def household_page(page: PageDep, code: str, on: str | None = None, enrolled: int | None = None) -> Response:
    page.require(*REGISTRAR_ROLES)
    found = queries.household_by_code(session=page.session, code=code)
    if found is None:
        raise NotFound(f"household {code}", "code", "unknown household")
    household, location = found
    ensure_household_visible(session=page.session, user=page.current_user, household_id=household.id)
    return _render_household(page, household, location, reference_date(page, on), enrolled=enrolled)


def _render_household(
    page: Page,
    household: Household,
    location: Location,
    day: dt.date,
    *,
    enrolled: int | None = None,
    status_code: int = 200,
) -> Response:
    members = queries.members_of(session=page.session, household_id=household.id)
    ids = [member.id for member in members]
    if enrolled is not None and enrolled in ids:
        page.flashes.append(("ok", page.lang.gettext("Member enrolled.")))
    periods = queries.open_periods(session=page.session, on=day)
    return page.render(
        "household.html",
        status_code=status_code,
        household=household,
        location=location,
        members=members,
        holdings=queries.category_holdings(session=page.session, person_ids=ids, on=day),
        enrolments=queries.enrolment_views(session=page.session, person_ids=ids, on=day),
        periods=periods,
        on=day,
        **_labels(page),
    )


@router.post("/registry/persons/{person_id}/enrol")
def enrol_member(
    page: PageDep,
    person_id: RecordId,
    period_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    starts: Annotated[str, Form(max_length=10)] = "",
    ends: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Enrol one member for a period (by default the rest of the period from the pages' day or its start)."""
    page.require(*REGISTRAR_ROLES)
    ensure_person_visible(session=page.session, user=page.current_user, person_id=person_id)
    person = queries.person_row(session=page.session, person_id=person_id)
    assert person is not None  # ensure_person_visible checked it exists
    found = queries.household_by_code(session=page.session, code=person.household_code)
    assert found is not None
    household, location = found
    period = page.session.get(EnrolmentPeriod, period_id)
    if period is None:
        page.error(page.lang.gettext("Choose an enrolment period."))
        return _render_household(page, household, location, page.data_day.day, status_code=422)
    try:
        start_day = dt.date.fromisoformat(starts) if starts else max(period.starts, min(page.data_day.day, period.ends))
        end_day = dt.date.fromisoformat(ends) if ends else period.ends
    except ValueError:
        page.error(page.lang.gettext("Dates are written YYYY-MM-DD."))
        return _render_household(page, household, location, page.data_day.day, status_code=422)
    try:
        enrolment_service.enrol(
            session=page.session,
            person_id=person_id,
            scheme_id=period.scheme_id,
            period_id=period.id,
            starts=start_day,
            ends=end_day,
            actor=page.actor,
        )
    except EquicoverError as error:
        if error.status >= 500:
            raise
        page.session.rollback()
        page.error_of(error, ENROLMENT_REFUSALS)
        return _render_household(page, household, location, start_day, status_code=error.status)
    return redirect(f"/registry/households/{household.code}?on={start_day.isoformat()}&enrolled={person_id}")


@router.get("/registry/gaps")
def gaps_page(page: PageDep, on: str | None = None, category: str = "", p: int = 1) -> Response:
    page.require(*REGISTRAR_ROLES)
    day = reference_date(page, on)
    p = _page_number(p)
    rows, total = queries.coverage_gaps(
        session=page.session,
        user=page.current_user,
        on=day,
        category=category or None,
        limit=PAGE_SIZE,
        offset=(p - 1) * PAGE_SIZE,
    )
    return page.render(
        "gaps.html",
        rows=rows,
        total=total,
        on=day,
        category=category,
        categories=queries.categories(session=page.session),
        p=p,
        pages=max(1, -(-total // PAGE_SIZE)),
        area=queries.area_name(session=page.session, location_id=page.current_user.location_id),
    )
