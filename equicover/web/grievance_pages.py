"""Grievances in the web app: taking a case, the lists of open and overdue cases, the case page.

A case is taken at the window (a member charged more than the settlement said, a bill refused),
from the registry or the telephone (a category decision), or by a verifier or a fund manager for
a facility's case. The lists show the cases the user may read (the grievances service's rule: an
area for a registrar or a verifier, the facility for a clerk, everything for a fund manager),
open or overdue, by area and facility, the nearest deadline first. The case page shows the record
it concerns, the deadline, the steps, the assignment, the decision with its reasons and the appeal
to the next level; the complainant's identity, the description, the notes and the reasons are
shown to the case's handlers only (``grievances.service.handles``). Deciding is the service's:
an upheld case refunds the member through the claims' adjustments, corrects a category, reverses
a verifier's finding or corrects a facility's payment batch in its next batch, in the same unit of
work, and a refused decision changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Response
from sqlalchemy import func, select

from equicover.auth.deps import now_of
from equicover.auth.roles import Role
from equicover.auth.scoping import ensure_visible
from equicover.claims import service as claims_service
from equicover.claims.models import Claim
from equicover.errors import EquicoverError, Forbidden
from equicover.grievances import service as grievances
from equicover.grievances.models import GrievanceCase
from equicover.grievances.rules import grievance_rules
from equicover.ledger import service as ledger
from equicover.payments.models import PaymentBatch
from equicover.providers.models import Provider
from equicover.registry.models import Category, Location
from equicover.registry.scoping import ensure_person_visible
from equicover.verification.models import ClaimReview
from equicover.web import queries
from equicover.web.i18n import AmountRefused, parse_amount
from equicover.web.pages import (
    MAX_PAGE,
    N_,
    Page,
    PageDep,
    RecordId,
    Refusals,
    WebRoute,
    label_of,
    redirect,
)
from equicover.web.window import policy_of_version

router = APIRouter(route_class=WebRoute)
READERS = (Role.CLERK, Role.REGISTRAR, Role.VERIFIER, Role.FUND_MANAGER)
DECIDERS = (Role.REGISTRAR, Role.VERIFIER, Role.FUND_MANAGER)
PAGE_SIZE = 25

GRIEVANCE_LABELS = {
    "category_decision": N_("Contests the category the registry gave"),
    "identification_decision": N_("Contests being left out at identification"),
    "refused_bill": N_("Contests a bill refused or partly refused"),
    "overcharged": N_("Charged more than the settlement left to pay"),
    "verification_finding": N_("A facility contests a verifier's finding"),
    "payment_batch": N_("A facility contests a payment batch"),
}
SUBJECT_LABELS = {
    "person": N_("Registry record"),
    "claim": N_("Bill"),
    "claim_review": N_("Verification finding"),
    "payment_batch": N_("Payment batch"),
}
CHANNEL_LABELS = {"window": N_("At the window"), "web": N_("Online"), "phone": N_("By telephone")}
STATUS_LABELS = {"open": N_("open"), "decided": N_("decided")}
OUTCOME_LABELS = {"upheld": N_("upheld"), "partly_upheld": N_("partly upheld"), "rejected": N_("rejected")}
STEP_LABELS = {
    "opened": N_("Case opened"),
    "assigned": N_("Assigned"),
    "note": N_("Note"),
    "call": N_("Telephone call"),
    "decided": N_("Decided"),
    "action": N_("Act of the decision"),
    "appealed": N_("Appealed"),
}
HANDLER_LABELS: dict[str, str] = {
    Role.REGISTRAR: N_("Registrar"),
    Role.VERIFIER: N_("Verifier"),
    Role.FUND_MANAGER: N_("Fund manager"),
}

NOT_A_DATE = N_("The date is not a date (YYYY-MM-DD).")
AFTER_TODAY = N_("The date is after today.")
NOT_A_RECORD_NUMBER = N_("Give the number of the record the complaint concerns.")
NOT_A_PERSON_NUMBER = N_("Give the member's person number.")
UNKNOWN_AREA = N_("No area has this code.")
UNKNOWN_FACILITY = N_("No facility has this code.")
OPENED = N_("Case %(id)s opened: a decision is due by %(date)s.")
OPENED_ELSEWHERE = N_("Case %(id)s opened: its handlers will decide it by %(date)s.")
DECIDED = N_("The case is decided.")
ASSIGNED = N_("The case is assigned.")
NOTED = N_("The step is recorded.")
APPEALED = N_("The decision is appealed: the appeal is heard at the next level.")
REFUND_NEEDS_BOTH = N_("A refund names its amount and the payer that pays it.")
REFUND_NOT_AN_AMOUNT = N_("The refund is not an amount.")
OWN_FACILITY_ONLY = N_("A facility's clerk takes a facility's complaint in the name of their own facility.")
CORRECTION_NEEDS_BOTH = N_("A correction of the batch names its amount and the fund that pays it.")
CORRECTION_NOT_AN_AMOUNT = N_("The correction is not an amount above zero.")
CORRECTION_TOO_LARGE = N_("The correction is larger than any payment can be.")
MAX_CORRECTION = 10**15  # minor units: the REST decision's bound, within a BIGINT

OPEN_REFUSALS: Refusals = {
    ("category", None): N_("Choose the kind of complaint."),
    ("channel", None): N_("Choose how the complaint came in."),
    ("description", None): N_("Say what the complaint is about."),
    ("subject_id", "unknown"): N_("No such record: check the record the complaint concerns."),
    ("subject_id", "the record is another member's"): N_("The record is another member's."),
    ("subject_id", "the record is another provider's"): N_("The record is another facility's."),
    ("complainant_person_id", "unknown person"): N_("No member has this person number."),
    ("complainant_person_id", None): N_("This kind of complaint is a member's: name the member."),
    ("complainant_provider_code", "unknown provider"): N_("No facility has this code."),
    ("complainant_provider_code", None): N_("This kind of complaint is a facility's: name the facility."),
}
HANDLER_REFUSALS: Refusals = {
    ("decision", "the case is outside your area"): N_(
        "The case is outside your area: a handler of its area decides it."
    ),
    ("decision", None): N_("This kind of case is handled by another role."),
    ("assigned_to", "the case is outside your area"): N_("The case is outside your area."),
    ("assigned_to", "not a handler"): N_("This account is not a handler of the case's area and role."),
    ("assigned_to", None): N_("This kind of case is handled by another role."),
    ("steps", "the case is outside your area"): N_("The case is outside your area."),
    ("steps", None): N_("This kind of case is handled by another role."),
    ("status", "nothing disallowed"): N_("The finding disallowed nothing: there is nothing to reverse."),
    ("status", None): N_("The case is decided already."),
    ("recoveries", None): N_(
        "A draft payment batch already deducts this finding's recovery: cancel the draft, then decide."
    ),
    ("batch_correction", "an upheld"): N_(
        "An upheld case about a payment batch says what the next batch pays: the amount and the fund."
    ),
    ("batch_correction", None): N_("This kind of case does not correct a payment batch."),
    ("fund_code", "the fund keeps its books"): N_(
        "This fund keeps its books in another currency than the contested batch: choose a fund of the batch's currency."
    ),
    ("fund_code", None): N_("No fund has this code."),
    ("kind", None): N_("Choose a note or a telephone call."),
    ("note", None): N_("Write the note."),
    ("outcome", "a rejected case does not act"): N_("A rejected case neither refunds nor corrects anything."),
    ("outcome", None): N_("Choose the outcome."),
    ("reasons", None): N_("A decision gives its reasons."),
    ("on", None): N_("The decision cannot be dated before the case was opened."),
    ("refund", None): N_("This kind of case does not refund a bill."),
    ("amount", None): N_("The refund must be above zero and at most what the patient pays for the bill."),
    ("layer_id", None): N_("Choose a payer of the bill's policy for the refund."),
    ("category", "a "): N_("This kind of case does not correct a category."),
    ("category", None): N_("Choose the corrected category."),
    ("valid_from", None): N_("The corrected category cannot start on that day."),
}
APPEAL_REFUSALS: Refusals = {
    ("level", None): N_("An appeal's decision is final: one appeal only."),
    ("status", None): N_("Only a decided case is appealed."),
    ("appeal", None): N_("The case was appealed already: one appeal only."),
    ("description", None): N_("Say why the decision is appealed."),
    ("on", None): N_("The appeal cannot be dated before the decision."),
}


def _today(page: Page) -> dt.date:
    return now_of(page.request).date()


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 2**31 else None


def _labels(page: Page) -> dict[str, Any]:
    return {
        "category_of": label_of(page.lang, GRIEVANCE_LABELS),
        "subject_label": label_of(page.lang, SUBJECT_LABELS),
        "channel_label": label_of(page.lang, CHANNEL_LABELS),
        "status_label": label_of(page.lang, STATUS_LABELS),
        "outcome_label": label_of(page.lang, OUTCOME_LABELS),
        "step_label": label_of(page.lang, STEP_LABELS),
        "handler_label": label_of(page.lang, HANDLER_LABELS),
    }


@dataclass(frozen=True, slots=True)
class CaseRow:
    case: GrievanceCase
    area: str
    facility: str
    subject: str
    overdue: bool


def _subject_text(page: Page, case: GrievanceCase) -> str:
    if case.subject_kind == "claim":
        claim = page.session.get(Claim, case.subject_id)
        return claim.claim_id if claim is not None else str(case.subject_id)
    prefix = "P" if case.subject_kind == "person" else "#"
    return f"{prefix}{case.subject_id}"


def _row(page: Page, case: GrievanceCase, today: dt.date) -> CaseRow:
    area = page.session.get(Location, case.location_id)
    facility = page.session.get(Provider, case.provider_id) if case.provider_id is not None else None
    return CaseRow(
        case=case,
        area=area.name if area is not None else "—",
        facility=f"{facility.name} ({facility.code})" if facility is not None else "—",
        subject=_subject_text(page, case),
        overdue=case.status == "open" and case.deadline < today,
    )


def _area_ids(page: Page, code: str) -> list[int] | None:
    place = page.session.scalar(select(Location).where(Location.code == code))
    if place is None:
        return None
    return list(
        page.session.scalars(
            select(Location.id).where(
                (Location.id == place.id) | (Location.province_id == place.id) | (Location.district_id == place.id)
            )
        )
    )


@router.get("/grievances")
def case_list(
    page: PageDep,
    status: Annotated[str, Query(max_length=8)] = "open",
    overdue: Annotated[str, Query(max_length=3)] = "",
    area: Annotated[str, Query(max_length=64)] = "",
    facility: Annotated[str, Query(max_length=64)] = "",
    p: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    opened: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    """The cases the user may read, the nearest deadline first, filtered and paged."""
    page.require(*READERS)
    _ = page.lang.gettext
    today = _today(page)
    if opened:
        case = page.session.get(GrievanceCase, opened)
        if case is not None and case.opened_by == page.actor:
            page.flashes.append(("ok", _(OPENED_ELSEWHERE, id=case.id, date=page.lang.date(case.deadline))))
    area_ids = None
    if area.strip():
        area_ids = _area_ids(page, area.strip())
        if area_ids is None:
            page.error(_(UNKNOWN_AREA), field="area")
    provider_id = None
    if facility.strip():
        provider_id = page.session.scalar(select(Provider.id).where(Provider.code == facility.strip()))
        if provider_id is None:
            page.error(_(UNKNOWN_FACILITY), field="facility")
    rows: list[CaseRow] = []
    total = 0
    if page.invalid_field is None:
        query = grievances.cases_query(
            user=page.current_user,
            today=today,
            status=status if status in STATUS_LABELS else None,
            overdue=bool(overdue),
            area_ids=area_ids,
            provider_id=provider_id,
        )
        total = page.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        found = page.session.scalars(query.limit(PAGE_SIZE).offset((p - 1) * PAGE_SIZE)).all()
        rows = [_row(page, case, today) for case in found]
    pages = max(1, -(-total // PAGE_SIZE))
    filters = {"status": status, "overdue": overdue, "area": area, "facility": facility}
    return page.render(
        "grievance_list.html",
        status_code=422 if page.invalid_field else 200,
        rows=rows,
        total=total,
        p=p,
        pages=pages,
        pager_query=urlencode(filters) + "&",
        filters=filters,
        **_labels(page),
    )


def _new_form(page: Page, form: dict[str, str], status_code: int = 200) -> Response:
    person = None
    bills: list[Claim] = []
    person_id = _number(form.get("complainant_person_id", ""))
    if form.get("person_fixed") and person_id is not None:
        person = queries.person_row(session=page.session, person_id=person_id)
        bills = queries.claims_of_person(session=page.session, user=page.current_user, person_id=person_id, limit=50)
    rules = grievance_rules().categories
    return page.render(
        "grievance_new.html",
        status_code=status_code,
        form=form,
        person=person,
        bills=bills,
        categories=[(code, rule.complainant, rule.subject) for code, rule in rules.items()],
        channels=list(CHANNEL_LABELS),
        **_labels(page),
    )


def _default_channel(page: Page) -> str:
    return "window" if page.current_user.role == Role.CLERK else "phone"


@router.get("/grievances/new")
def new_case(
    page: PageDep,
    person: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    category: Annotated[str, Query(max_length=32)] = "",
    subject: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """The form, prefilled: the member (from the window or the household page), the kind of
    complaint, the record concerned (a finding or a batch), and a clerk's own facility."""
    page.require(*READERS)
    if person is not None:
        ensure_person_visible(session=page.session, user=page.current_user, person_id=person)
    facility = (
        page.session.get(Provider, page.current_user.provider_id)
        if page.current_user.provider_id is not None and person is None
        else None
    )
    form = {
        "category": category,
        "subject_id": str(subject or ""),
        "channel": _default_channel(page),
        "opened_on": _today(page).isoformat(),
        "complainant_person_id": str(person or ""),
        "complainant_provider_code": facility.code if facility is not None else "",
        "person_fixed": "1" if person is not None else "",
    }
    return _new_form(page, form)


@router.post("/grievances")
def open_case(
    page: PageDep,
    category: Annotated[str, Form(max_length=32)] = "",
    subject_id: Annotated[str, Form(max_length=12)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
    channel: Annotated[str, Form(max_length=8)] = "window",
    complainant_person_id: Annotated[str, Form(max_length=12)] = "",
    complainant_provider_code: Annotated[str, Form(max_length=64)] = "",
    complainant_contact: Annotated[str, Form(max_length=200)] = "",
    opened_on: Annotated[str, Form(max_length=10)] = "",
    person_fixed: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """Take a case; on success its page (or the list when the taker does not read the case)."""
    page.require(*READERS)
    _ = page.lang.gettext
    form = {
        "category": category,
        "subject_id": subject_id,
        "description": description,
        "channel": channel,
        "complainant_person_id": complainant_person_id,
        "complainant_provider_code": complainant_provider_code,
        "complainant_contact": complainant_contact,
        "opened_on": opened_on,
        "person_fixed": person_fixed,
    }

    def again(message: str, field: str, status_code: int = 422) -> Response:
        page.error(message, field=field)
        return _new_form(page, form, status_code)

    rule = grievance_rules().categories.get(category)
    if rule is None:
        return again(_(OPEN_REFUSALS[("category", None)]), "category")
    member = _number(complainant_person_id) if complainant_person_id.strip() else None
    if complainant_person_id.strip() and member is None:
        return again(_(NOT_A_PERSON_NUMBER), "complainant_person_id")
    if rule.complainant == "member" and member is not None:
        ensure_person_visible(session=page.session, user=page.current_user, person_id=member)
    if rule.complainant == "provider" and page.current_user.role == Role.CLERK:
        # A clerk speaks for their own facility only, never in another's name.
        own = page.session.get(Provider, page.current_user.provider_id)
        if own is None or complainant_provider_code.strip() != own.code:
            return again(_(OWN_FACILITY_ONLY), "complainant_provider_code")
    # A complaint about the member's own record names that record: the member.
    subject = _number(subject_id) if subject_id.strip() else (member if rule.subject == "person" else None)
    if subject is None:
        return again(_(NOT_A_RECORD_NUMBER), "subject_id")
    day = _date(opened_on) if opened_on.strip() else _today(page)
    if day is None:
        return again(_(NOT_A_DATE), "opened_on")
    if day > _today(page):
        return again(_(AFTER_TODAY), "opened_on")
    try:
        case = grievances.open_case(
            session=page.session,
            category=category,
            subject_id=subject,
            description=description,
            opened_on=day,
            channel=channel,
            complainant_person_id=member if rule.complainant == "member" else None,
            complainant_provider_code=(complainant_provider_code.strip() or None)
            if rule.complainant == "provider"
            else None,
            complainant_contact=complainant_contact,
            actor=page.actor,
        )
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, OPEN_REFUSALS)
        return _new_form(page, form, error.status)
    if _readable(page, case.id):
        return redirect(f"/grievances/{case.id}?opened=1")
    return redirect(f"/grievances?opened={case.id}")


def _readable(page: Page, case_id: int) -> bool:
    return (
        page.session.scalar(
            select(GrievanceCase.id).where(GrievanceCase.id == case_id, grievances.cases_filter(page.current_user))
        )
        is not None
    )


def _visible_case(page: Page, case_id: int) -> GrievanceCase:
    ensure_visible(
        page.session,
        GrievanceCase,
        GrievanceCase.id,
        case_id,
        grievances.cases_filter(page.current_user),
        f"grievance {case_id}",
    )
    return grievances.get_case(session=page.session, case_id=case_id)


@dataclass(frozen=True, slots=True)
class StepRow:
    kind: str
    note: str | None
    amount: int | None
    at: dt.datetime
    by: str


def _case_context(page: Page, case: GrievanceCase) -> dict[str, Any]:
    today = _today(page)
    handler = grievances.handles(session=page.session, user=page.current_user, case=case)
    steps = grievances.steps_of(session=page.session, case_id=case.id)
    appeal_id = None
    for step in steps:
        if step.kind == "appealed" and step.note and step.note.startswith("appeal "):
            appeal_id = int(step.note.removeprefix("appeal "))
    claim = page.session.get(Claim, case.subject_id) if case.subject_kind == "claim" else None
    claim_provider = page.session.get(Provider, claim.provider_id) if claim is not None else None
    currency, minor_digits = (
        (claims_service.money_of_claim(session=page.session, claim=claim) or ("", 0)) if claim is not None else ("", 0)
    )
    layers: list[tuple[str, str]] = []
    member_now = None
    if claim is not None and case.category in grievances.REFUND_CATEGORIES:
        policy = policy_of_version(page, claim.policy_version_id)
        if policy is not None:
            layers = [(layer.id, layer.payer_in(page.lang.language)) for layer in policy.layers]
        adjustments = claims_service.adjustments_of(session=page.session, claim_pk=claim.id)
        member_now = claim.member_oop + sum(line.amount for line in adjustments if line.kind == "member")
    review = page.session.get(ClaimReview, case.subject_id) if case.subject_kind == "claim_review" else None
    review_claim = page.session.get(Claim, review.claim_pk) if review is not None else None
    if review_claim is not None:
        currency, minor_digits = claims_service.money_of_claim(session=page.session, claim=review_claim) or ("", 0)
    batch = page.session.get(PaymentBatch, case.subject_id) if case.subject_kind == "payment_batch" else None
    funds: list[tuple[str, str]] = []
    if batch is not None:
        currency, minor_digits = batch.currency, batch.minor_digits
        if handler and case.category in grievances.BATCH_CORRECTIONS:
            funds = [
                (fund.code, fund.name)
                for fund in ledger.list_funds(session=page.session)
                if fund.currency == batch.currency
            ]
    complainant = None
    if handler and case.complainant_person_id is not None:
        complainant = queries.person_row(session=page.session, person_id=case.complainant_person_id)
    complainant_provider = (
        page.session.get(Provider, case.complainant_provider_id)
        if handler and case.complainant_provider_id is not None
        else None
    )
    return {
        "case": case,
        "row": _row(page, case, today),
        "handler": handler,
        "decides": handler and page.current_user.role != Role.CLERK,
        "steps": [StepRow(step.kind, step.note if handler else None, step.amount, step.at, step.by) for step in steps],
        "appeal_id": appeal_id,
        "claim": claim,
        "claim_provider": claim_provider,
        "currency": currency,
        "minor_digits": minor_digits,
        "layers": layers,
        "member_now": member_now,
        "complainant": complainant,
        "complainant_provider": complainant_provider,
        "refunds": case.category in grievances.REFUND_CATEGORIES,
        "review": review,
        "review_claim": review_claim,
        "batch": batch,
        "funds": funds,
        "reverses_finding": case.category in grievances.FINDING_REVERSALS,
        "corrects_batch": case.category in grievances.BATCH_CORRECTIONS,
        "corrects": case.category in grievances.CATEGORY_CORRECTIONS,
        "categories": (
            [(row.code, row.label) for row in page.session.scalars(select(Category).order_by(Category.code))]
            if case.category in grievances.CATEGORY_CORRECTIONS and handler
            else []
        ),
        "appealable": case.level == 1 and case.status == "decided" and appeal_id is None,
        "today": today,
        **_labels(page),
    }


def _render_case(page: Page, case: GrievanceCase, status_code: int = 200, **form: Any) -> Response:
    return page.render("grievance_case.html", status_code=status_code, form=form, **_case_context(page, case))


DONE_FLASHES = {"opened": OPENED, "decided": DECIDED, "assigned": ASSIGNED, "noted": NOTED}


@router.get("/grievances/{case_id}")
def case_page(
    page: PageDep, case_id: RecordId, done: Annotated[str, Query(max_length=16)] = "", opened: int = 0
) -> Response:
    page.require(*READERS)
    case = _visible_case(page, case_id)
    _ = page.lang.gettext
    if opened:
        page.flashes.append(("ok", _(OPENED, id=case.id, date=page.lang.date(case.deadline))))
    elif done in DONE_FLASHES:
        page.flashes.append(("ok", _(DONE_FLASHES[done])))
    elif done == "appealed":
        page.flashes.append(("ok", _(APPEALED)))
    return _render_case(page, case)


def _refused(page: Page, case_id: int, error: EquicoverError, known: Refusals, **form: Any) -> Response:
    page.undo_refused(error)
    page.error_of(error, known)
    return _render_case(page, _visible_case(page, case_id), error.status, **form)


@router.post("/grievances/{case_id}/assignment")
def assign_case(page: PageDep, case_id: RecordId, username: Annotated[str, Form(max_length=100)] = "") -> Response:
    page.require(*DECIDERS)
    case = _visible_case(page, case_id)
    try:
        grievances.assign(
            session=page.session,
            case=case,
            user=page.current_user,
            assignee=username.strip() or page.current_user.username,
        )
    except EquicoverError as error:
        return _refused(page, case_id, error, HANDLER_REFUSALS, username=username)
    return redirect(f"/grievances/{case_id}?done=assigned")


@router.post("/grievances/{case_id}/steps")
def add_step(
    page: PageDep,
    case_id: RecordId,
    kind: Annotated[str, Form(max_length=8)] = "note",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    page.require(*DECIDERS)
    case = _visible_case(page, case_id)
    try:
        grievances.add_step(session=page.session, case=case, user=page.current_user, kind=kind, note=note)
    except EquicoverError as error:
        return _refused(page, case_id, error, HANDLER_REFUSALS, kind=kind, note=note)
    return redirect(f"/grievances/{case_id}?done=noted")


@router.post("/grievances/{case_id}/decision")
def decide_case(
    page: PageDep,
    case_id: RecordId,
    outcome: Annotated[str, Form(max_length=16)] = "",
    reasons: Annotated[str, Form(max_length=4000)] = "",
    on: Annotated[str, Form(max_length=10)] = "",
    refund_amount: Annotated[str, Form(max_length=32)] = "",
    refund_layer: Annotated[str, Form(max_length=64)] = "",
    category: Annotated[str, Form(max_length=32)] = "",
    category_from: Annotated[str, Form(max_length=10)] = "",
    correction_amount: Annotated[str, Form(max_length=32)] = "",
    correction_direction: Annotated[str, Form(max_length=8)] = "more",
    correction_fund: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Decide with reasons; an upheld refund or correction is done with the decision, or nothing is.
    An upheld finding case reverses the finding; a payment batch case corrects the provider's next
    batch by the amount given, paid more or deducted, from the fund chosen."""
    page.require(*DECIDERS)
    _ = page.lang.gettext
    try:
        case = _visible_case(page, case_id)
    except Forbidden:
        # A handler of another area does not read the case; the refusal says why, on the decision.
        reason = _(HANDLER_REFUSALS[("decision", "the case is outside your area")])
        return page.render("error.html", status_code=403, status=403, kind="invalid", field="decision", reason=reason)
    form = {
        "outcome": outcome,
        "reasons": reasons,
        "on": on,
        "refund_amount": refund_amount,
        "refund_layer": refund_layer,
        "category": category,
        "category_from": category_from,
        "correction_amount": correction_amount,
        "correction_direction": correction_direction,
        "correction_fund": correction_fund,
    }

    def again(message: str, field: str) -> Response:
        page.error(message, field=field)
        return _render_case(page, case, 422, **form)

    today = _today(page)
    day = _date(on) if on.strip() else today
    if day is None:
        return again(_(NOT_A_DATE), "on")
    if day > today:
        return again(_(AFTER_TODAY), "on")
    refund = None
    if refund_amount.strip() or (refund_layer.strip() and case.category in grievances.REFUND_CATEGORIES):
        if not (refund_amount.strip() and refund_layer.strip()):
            return again(_(REFUND_NEEDS_BOTH), "refund_amount")
        claim = page.session.get(Claim, case.subject_id) if case.subject_kind == "claim" else None
        money = claims_service.money_of_claim(session=page.session, claim=claim) if claim is not None else None
        try:
            amount = parse_amount(refund_amount, page.lang.locale, money[1] if money else 0)
        except AmountRefused:
            return again(_(REFUND_NOT_AN_AMOUNT), "refund_amount")
        refund = grievances.Refund(amount, refund_layer.strip())
    correction = None
    if category.strip():
        starts = _date(category_from) if category_from.strip() else day
        if starts is None:
            return again(_(NOT_A_DATE), "category_from")
        correction = grievances.CategoryCorrection(category.strip(), starts)
    batch_correction = None
    if correction_amount.strip() or correction_fund.strip():
        if not (correction_amount.strip() and correction_fund.strip()):
            return again(
                _(CORRECTION_NEEDS_BOTH), "correction_amount" if not correction_amount.strip() else "fund_code"
            )
        batch = page.session.get(PaymentBatch, case.subject_id) if case.subject_kind == "payment_batch" else None
        try:
            owed = parse_amount(correction_amount, page.lang.locale, batch.minor_digits if batch is not None else 0)
        except AmountRefused:
            return again(_(CORRECTION_NOT_AN_AMOUNT), "correction_amount")
        if owed == 0:
            return again(_(CORRECTION_NOT_AN_AMOUNT), "correction_amount")
        if owed > MAX_CORRECTION:
            return again(_(CORRECTION_TOO_LARGE), "correction_amount")
        batch_correction = grievances.BatchCorrection(
            -owed if correction_direction == "less" else owed, correction_fund.strip()
        )
    try:
        grievances.decide(
            session=page.session,
            case=case,
            user=page.current_user,
            outcome=outcome,
            reasons=reasons,
            on=day,
            refund=refund,
            correction=correction,
            batch_correction=batch_correction,
        )
    except EquicoverError as error:
        return _refused(page, case_id, error, HANDLER_REFUSALS, **form)
    return redirect(f"/grievances/{case_id}?done=decided")


@router.post("/grievances/{case_id}/appeal")
def appeal_case(
    page: PageDep,
    case_id: RecordId,
    description: Annotated[str, Form(max_length=4000)] = "",
    on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """One appeal of a decided first-instance case, heard at the next level up."""
    page.require(*READERS)
    case = _visible_case(page, case_id)
    _ = page.lang.gettext
    today = _today(page)
    day = _date(on) if on.strip() else today
    if day is None or day > today:
        page.error(_(NOT_A_DATE if day is None else AFTER_TODAY), field="appeal_on")
        return _render_case(page, case, 422, appeal_description=description, appeal_on=on)
    try:
        appealed = grievances.appeal(session=page.session, case=case, description=description, on=day, actor=page.actor)
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, APPEAL_REFUSALS)
        if page.invalid_field == "on":  # the appeal's own date, not the decision's
            page.invalid_field = "appeal_on"
        return _render_case(
            page, _visible_case(page, case_id), error.status, appeal_description=description, appeal_on=on
        )
    if _readable(page, appealed.id):
        return redirect(f"/grievances/{appealed.id}?done=appealed")
    return redirect(f"/grievances/{case_id}?done=appealed")
