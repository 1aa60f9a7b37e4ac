"""The registrar's pages: households and members of the area, categories with their validity,
enrolment and contribution status, enrolling a member, recording a contribution and its payment,
and the coverage gaps of the area ("who is eligible but not enrolled").

Enrolment is the enrolment service's (``equicover.enrolment.service.enrol``), audited in the
change log with the registrar as actor (``web:<username>``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Response

from equicover.auth.deps import now_of
from equicover.auth.roles import Role
from equicover.cards import service as cards_service
from equicover.enrolment import service as enrolment_service
from equicover.enrolment.models import CONTRIBUTION_STATUSES, Enrolment, EnrolmentPeriod, Scheme
from equicover.errors import EquicoverError, NotFound, ValidationFailed
from equicover.registry import service as registry_service
from equicover.registry.models import Household, Location
from equicover.registry.scoping import ensure_household_visible, ensure_person_visible
from equicover.web import queries
from equicover.web.i18n import NEGATIVE_AMOUNT, NOT_AN_AMOUNT, TOO_MANY_DECIMALS, AmountRefused, parse_amount
from equicover.web.pages import MAX_PAGE, N_, Page, PageDep, RecordId, Refusals, WebRoute, label_of, redirect
from equicover.web.scheme_names import name_enrolments, scheme_names

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

# What the household page confirms after a change (its ``changed`` parameter).
HOUSEHOLD_CHANGES = {
    "given": N_("Category given."),
    "ended": N_("Category ended."),
    "contribution-recorded": N_("Contribution recorded."),
    "contribution-paid": N_("Contribution marked paid."),
    "contribution-waived": N_("Contribution marked waived."),
    "contribution-due": N_("Contribution marked due again."),
}
# The registry service's refusals of a category change, as the registrar reads them.
CATEGORY_REFUSALS: Refusals = {
    ("category", "unknown category"): N_("Choose a category."),
    ("category", "no holding"): N_("The member holds no such category after that day."),
    ("valid_to", "is before valid_from"): N_("The category would end before it starts."),
    ("valid_from", "overlaps"): N_("The member already holds this category for part of these dates: end it first."),
    ("source", None): N_("Say what the change rests on (a decision, a survey, a document)."),
    ("valid_from", None): N_("Dates are written YYYY-MM-DD."),
    ("valid_to", None): N_("Dates are written YYYY-MM-DD."),
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


MAX_RECORD_ID = 2**31 - 1  # the largest id a table holds: a larger one names no enrolment
MAX_CONTRIBUTION = 10**15  # minor units, as the API bounds it: far above any contribution
CONTRIBUTION_AMOUNT_REFUSALS = {
    NOT_AN_AMOUNT: N_("The amount is not an amount."),
    NEGATIVE_AMOUNT: N_("The amount must not be negative."),
    TOO_MANY_DECIMALS: N_("The amount has more than %(digits)s decimals for the currency."),
}
CONTRIBUTION_TOO_LARGE = N_("The amount is larger than any contribution can be (at most %(largest)s).")
# The enrolment service's refusals of a contribution, as the registrar reads them.
CONTRIBUTION_REFUSALS: Refusals = {
    ("payer_kind", None): N_("Choose who pays."),
    ("status", None): N_("Choose whether it is due, paid or waived."),
    ("amount", None): N_("Write the amount."),
    ("period_ends", "is before period_starts"): N_("The period would end before it starts."),
    ("period_starts", None): N_("Dates are written YYYY-MM-DD."),
    ("period_ends", None): N_("Dates are written YYYY-MM-DD."),
    ("person_id", "not enrolled"): N_(
        "The member is not enrolled in this scheme for the whole period: choose dates inside the enrolment."
    ),
    ("enrolment_id", None): N_("Choose an enrolment."),
}


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
def household_page(
    page: PageDep, code: str, on: str | None = None, enrolled: int | None = None, changed: str = ""
) -> Response:
    page.require(*REGISTRAR_ROLES)
    found = queries.household_by_code(session=page.session, code=code)
    if found is None:
        raise NotFound(f"household {code}", "code", "unknown household")
    household, location = found
    ensure_household_visible(session=page.session, user=page.current_user, household_id=household.id)
    return _render_household(page, household, location, reference_date(page, on), enrolled=enrolled, changed=changed)


def _render_household(
    page: Page,
    household: Household,
    location: Location,
    day: dt.date,
    *,
    enrolled: int | None = None,
    changed: str = "",
    status_code: int = 200,
    category_form: dict[str, Any] | None = None,
    contribution_form: dict[str, Any] | None = None,
) -> Response:
    members = queries.members_of(session=page.session, household_id=household.id)
    ids = [member.id for member in members]
    if enrolled is not None and enrolled in ids:
        page.flashes.append(("ok", page.lang.gettext("Member enrolled.")))
    if changed in HOUSEHOLD_CHANGES:
        page.flashes.append(("ok", page.lang.gettext(HOUSEHOLD_CHANGES[changed])))
    periods = queries.open_periods(session=page.session, on=day)
    enrolments = queries.enrolment_views(session=page.session, person_ids=ids, on=day)
    name_enrolments(
        session=page.session,
        views=[view for views in enrolments.values() for view in views],
        language=page.lang.language,
        on=day,
    )
    return page.render(
        "household.html",
        status_code=status_code,
        household=household,
        location=location,
        members=members,
        holdings=queries.category_holdings(session=page.session, person_ids=ids, on=day),
        enrolments=enrolments,
        periods=periods,
        scheme_names=scheme_names(
            session=page.session, scheme_ids=[scheme.id for _, scheme in periods], language=page.lang.language, on=day
        ),
        on=day,
        categories=queries.categories(session=page.session),
        category_form=category_form or {},
        contribution_form=contribution_form or {},
        contribution_statuses=CONTRIBUTION_STATUSES,
        payer_kinds=PAYER_KIND_LABELS,
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
        page.undo_refused(error)
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


def _household_url(household: Household, changed: str, on: dt.date | None = None) -> str:
    """The household page after a change: it confirms the change, on the day it shows (if any)."""
    day = f"on={on.isoformat()}&" if on is not None else ""
    return f"/registry/households/{quote(household.code, safe='')}?{day}changed={changed}"


def _person_household(page: Page, person_id: int) -> tuple[Household, Location]:
    ensure_person_visible(session=page.session, user=page.current_user, person_id=person_id)
    person = queries.person_row(session=page.session, person_id=person_id)
    assert person is not None  # ensure_person_visible checked it exists
    found = queries.household_by_code(session=page.session, code=person.household_code)
    assert found is not None
    return found


def _form_date(text: str, field: str, record: str, *, required: bool) -> dt.date | None:
    if not text.strip():
        if required:
            raise ValidationFailed(record, field, "is required")
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(record, field, "is not a date") from None


@router.post("/registry/persons/{person_id}/categories")
def give_category(
    page: PageDep,
    person_id: RecordId,
    category: Annotated[str, Form(max_length=64)] = "",
    valid_from: Annotated[str, Form(max_length=10)] = "",
    valid_to: Annotated[str, Form(max_length=10)] = "",
    source: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Give a member a category for a period, with the evidence it rests on (audited)."""
    page.require(*REGISTRAR_ROLES)
    household, location = _person_household(page, person_id)
    form = {"person_id": person_id, "category": category, "valid_from": valid_from, "valid_to": valid_to,
            "source": source}  # fmt: skip
    record = f"person {person_id}"
    try:
        if not source.strip():
            raise ValidationFailed(record, "source", "the evidence of the change is required")
        starts = _form_date(valid_from, "valid_from", record, required=True)
        assert starts is not None
        registry_service.set_category(
            session=page.session,
            person_id=person_id,
            category=category,
            valid_from=starts,
            valid_to=_form_date(valid_to, "valid_to", record, required=False),
            source=source.strip(),
            actor=page.actor,
        )
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, CATEGORY_REFUSALS)
        return _render_household(
            page, household, location, page.data_day.day, status_code=error.status, category_form=form
        )
    return redirect(_household_url(household, "given", on=starts))


@router.post("/registry/persons/{person_id}/categories/end")
def end_category(
    page: PageDep,
    person_id: RecordId,
    category: Annotated[str, Form(max_length=64)] = "",
    valid_to: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """End a member's category on a day (the last day it is held; audited)."""
    page.require(*REGISTRAR_ROLES)
    household, location = _person_household(page, person_id)
    record = f"person {person_id}"
    form = {"person_id": person_id, "end_category": category, "end_valid_to": valid_to}
    try:
        ends = _form_date(valid_to, "valid_to", record, required=True)
        assert ends is not None
        registry_service.end_category(
            session=page.session, person_id=person_id, category=category, valid_to=ends, actor=page.actor
        )
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, CATEGORY_REFUSALS)
        return _render_household(
            page, household, location, page.data_day.day, status_code=error.status, category_form=form
        )
    return redirect(_household_url(household, "ended", on=ends))


@router.post("/registry/persons/{person_id}/contributions")
def record_contribution(
    page: PageDep,
    person_id: RecordId,
    enrolment_id: Annotated[str, Form(max_length=12)] = "",
    payer_kind: Annotated[str, Form(max_length=32)] = "",
    payer_name: Annotated[str, Form(max_length=200)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    status: Annotated[str, Form(max_length=16)] = "due",
    period_starts: Annotated[str, Form(max_length=10)] = "",
    period_ends: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Record one payer's part of a member's contribution for one of their enrolments (by default
    its whole period), in the scheme's currency as typed; the member's cards follow a payment at once."""
    page.require(*REGISTRAR_ROLES)
    household, location = _person_household(page, person_id)
    form = {"person_id": person_id, "enrolment_id": enrolment_id, "payer_kind": payer_kind,
            "payer_name": payer_name, "amount": amount, "status": status, "period_starts": period_starts,
            "period_ends": period_ends}  # fmt: skip

    def shown_again(status_code: int) -> Response:
        return _render_household(
            page, household, location, page.data_day.day, status_code=status_code, contribution_form=form
        )

    def again(message: str, field: str) -> Response:
        page.error(message, field=field)
        return shown_again(422)

    chosen = int(enrolment_id) if enrolment_id.strip().isdigit() else 0
    enrolment = page.session.get(Enrolment, chosen) if 1 <= chosen <= MAX_RECORD_ID else None
    if enrolment is None or enrolment.person_id != person_id:
        return again(page.lang.gettext(CONTRIBUTION_REFUSALS[("enrolment_id", None)]), "enrolment_id")
    scheme = page.session.get(Scheme, enrolment.scheme_id)
    assert scheme is not None  # an enrolment's scheme exists (foreign key)
    if not amount.strip():
        return again(page.lang.gettext(CONTRIBUTION_REFUSALS[("amount", None)]), "amount")
    try:
        amount_minor = parse_amount(amount, page.lang.locale, scheme.minor_digits)
    except AmountRefused as refused:
        message = CONTRIBUTION_AMOUNT_REFUSALS[refused.reason]
        return again(page.lang.gettext(message, digits=page.lang.number(refused.digits)), "amount")
    if amount_minor > MAX_CONTRIBUTION:
        largest = page.lang.money(MAX_CONTRIBUTION, scheme.minor_digits)
        return again(page.lang.gettext(CONTRIBUTION_TOO_LARGE, largest=largest), "amount")
    record = f"contribution to enrolment {enrolment.id}"
    try:
        starts = _form_date(period_starts, "period_starts", record, required=False) or enrolment.starts
        ends = _form_date(period_ends, "period_ends", record, required=False) or enrolment.ends
        enrolment_service.record_contribution(
            session=page.session,
            person_id=enrolment.person_id,
            scheme_id=enrolment.scheme_id,
            payer_kind=payer_kind,
            payer_name=payer_name.strip() or None,
            amount_minor=amount_minor,
            status=status,
            period_starts=starts,
            period_ends=ends,
            actor=page.actor,
        )
        cards_service.suspend_unpaid(
            session=page.session, on=now_of(page.request).date(), actor=page.actor, person_id=enrolment.person_id
        )
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, CONTRIBUTION_REFUSALS)
        return shown_again(error.status)
    return redirect(_household_url(household, "contribution-recorded"))


@router.post("/registry/contributions/{contribution_id}/status")
def set_contribution_status(
    page: PageDep,
    contribution_id: RecordId,
    status: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Mark a contribution paid, waived or due again (a payment recorded by mistake); the member's
    cards follow at once."""
    page.require(*REGISTRAR_ROLES)
    holder = enrolment_service.contribution_holder(session=page.session, contribution_id=contribution_id)
    household, location = _person_household(page, holder)
    try:
        enrolment_service.set_contribution_status(
            session=page.session, contribution_id=contribution_id, status=status, actor=page.actor
        )
        cards_service.suspend_unpaid(
            session=page.session, on=now_of(page.request).date(), actor=page.actor, person_id=holder
        )
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, CONTRIBUTION_REFUSALS)
        return _render_household(page, household, location, page.data_day.day, status_code=error.status)
    return redirect(_household_url(household, f"contribution-{status}"))
