"""The verifier's pages: the queue of sampled claims of its districts, a claim's detail with its
settlement trail, and the finding (accept / query / disallow part / reject, with a reason).

Samples, queue and findings are the verification service's (``equicover.verification.service``):
``verifier_queue`` and ``decide``, which records the finding in the change log with the verifier
as actor (``web:<username>``) and books the recoveries in the funds' ledger.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Response
from sqlalchemy import select

from equicover.auth.roles import Role
from equicover.auth.scoping import sees_everything
from equicover.claims import service as claims_service
from equicover.claims.models import Claim, ClaimPayment
from equicover.claims.scoping import ensure_claim_visible
from equicover.errors import EquicoverError, NotFound
from equicover.organisations import service as organisations
from equicover.providers.models import Provider
from equicover.providers.scoping import providers_filter
from equicover.registry.scoping import area_location_ids
from equicover.targeting.models import TargetingHospitalCase
from equicover.verification import operators
from equicover.verification import service as verification_service
from equicover.verification.models import OPEN_STATUSES, ClaimReview, OperatorReview
from equicover.verification.service import QueueFilter
from equicover.web import queries
from equicover.web.i18n import AmountRefused, parse_amount
from equicover.web.pages import MAX_PAGE, N_, Page, PageDep, RecordId, Refusals, WebRoute, label_of, redirect
from equicover.web.window import CARE_TYPE_LABELS, policy_of_version, trail_steps

router = APIRouter(route_class=WebRoute)
VERIFIER_ROLES = (Role.VERIFIER,)
REVIEW_STATUS_LABELS = {
    "pending": N_("to review"),
    "queried": N_("queried"),
    "confirmed": N_("accepted"),
    "partly_disallowed": N_("partly disallowed"),
    "rejected": N_("rejected"),
}
SELECTION_LABELS = {"random": N_("random"), "risk": N_("risk")}
DECISION_MESSAGES = {
    "accept": N_("Claim %(claim)s accepted."),
    "query": N_("Claim %(claim)s queried: the facility is asked to explain."),
    "disallow": N_("Part of claim %(claim)s disallowed."),
    "reject": N_("Claim %(claim)s rejected: what the funds paid will be recovered."),
}

# The verification service's refusals of a decision, as the verifier reads them.
DECISION_REFUSALS: Refusals = {
    ("decision", None): N_("Choose a decision."),
    ("status", "already decided"): N_("This claim has already been decided."),
    ("reason", None): N_("Give the reason: it is required for this decision."),
    ("amount", "a positive amount"): N_("Give the amount to disallow, more than zero."),
    ("amount", "must be below"): N_(
        "The amount disallowed must be less than what the payers paid; reject the claim to recover it all."
    ),
    ("amount", "only a disallowance"): N_("An amount is taken only when part of the claim is disallowed."),
}


def _district_ids(page: Page) -> list[int] | None:
    user = page.current_user
    if user.location_id is None:
        return None
    return [district.id for district in queries.districts_of(session=page.session, user=user)]


def _labels(page: Page) -> dict[str, Any]:
    gettext = page.lang.gettext
    return {
        "review_status_label": label_of(page.lang, REVIEW_STATUS_LABELS),
        "selection_label": label_of(page.lang, SELECTION_LABELS),
        "care_type_label": lambda code: gettext(CARE_TYPE_LABELS[code]) if code in CARE_TYPE_LABELS else code,
    }


QUEUE_PAGE_SIZE = 50
# The status filter's choices: the open reviews (the default), each status, or every decided one.
DECIDED_STATUSES = ("confirmed", "partly_disallowed", "rejected")
STATUS_CHOICES: dict[str, tuple[str, ...]] = {
    "": OPEN_STATUSES,
    "pending": ("pending",),
    "queried": ("queried",),
    "decided": DECIDED_STATUSES,
    **{status: (status,) for status in DECIDED_STATUSES},
}
# The reasons a claim was sampled, as the sampler and the anomaly rules write them (English, in
# the database), and how a verifier reads each in their language.
_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
RISK_REASONS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    (re.compile(r"served after the member's death$"), N_("served after the member's death"), ()),
    (
        re.compile(r"member not covered on the service date$"),
        N_("the member was not covered on the date of care"),
        (),
    ),
    (
        re.compile(r"same member, provider, date and diagnosis billed again$"),
        N_("the same member, facility, date and diagnosis billed again"),
        (),
    ),
    (re.compile(r"readmission at the same provider .*split admission$"), N_("one admission billed as two"), ()),
    (
        re.compile(r"admission inside the member's previous stay$"),
        N_("an admission inside the member's previous stay"),
        (),
    ),
    (
        re.compile(rf"cost {_NUMBER}x the peer median"),
        N_("cost %(ratio)s times the median of similar claims"),
        ("ratio",),
    ),
    (
        re.compile(rf"stay ([0-9]+) days vs peer median {_NUMBER}"),
        N_("a stay of %(days)s days against a median of %(median)s for similar claims"),
        ("days", "median"),
    ),
    (
        re.compile(rf"([0-9]+) claims of the member at this provider vs peer median {_NUMBER}"),
        N_("%(claims)s claims of the member at this facility against a median of %(median)s"),
        ("claims", "median"),
    ),
    (re.compile(r"unusual combination of features"), N_("an unusual combination of features"), ()),
)
RISK_WEIGHT_ONLY = N_("costs more than similar claims, so it was more likely to be drawn")


def risk_reason_text(page: Page, reason: str, selection: str) -> str:
    """A stored sampling reason in the page's language: each ``;``-separated part the rules write
    is translated with its figures in local digits; a part no rule wrote is shown as it is."""
    lang = page.lang
    text = reason.removeprefix("anomaly: ").strip()
    if not text:
        return lang.gettext(RISK_WEIGHT_ONLY) if selection == "risk" else ""
    parts = []
    for part in (piece.strip() for piece in text.split(";")):
        for pattern, message, keys in RISK_REASONS:
            found = pattern.match(part)
            if found is not None:
                figures = {key: lang.number(Decimal(value)) for key, value in zip(keys, found.groups())}
                parts.append(lang.gettext(message, **figures))
                break
        else:
            parts.append(part)
    return "; ".join(part for part in parts if part)


@router.get("/verification")
def queue_page(
    page: PageDep,
    district: str = "",
    status: str = "",
    selection: str = "",
    care_type: str = "",
    done: str = "",
    decision: str = "",
    p: int = 1,
) -> Response:
    page.require(*VERIFIER_ROLES)
    if p > MAX_PAGE:
        raise NotFound("page", "p", "beyond the last page")
    p = max(1, p)
    district_ids = _district_ids(page)
    districts = queries.districts_of(session=page.session, user=page.current_user)
    chosen = [d.id for d in districts if d.code == district] if district else district_ids
    queue_filter = QueueFilter(
        district_ids=chosen,
        statuses=STATUS_CHOICES.get(status, OPEN_STATUSES),
        selection=selection if selection in SELECTION_LABELS else None,
        care_type=care_type or None,
    )
    items = verification_service.verifier_queue(
        session=page.session,
        queue_filter=queue_filter,
        limit=QUEUE_PAGE_SIZE,
        offset=(p - 1) * QUEUE_PAGE_SIZE,
    )
    total = verification_service.count_queue(session=page.session, queue_filter=queue_filter)
    if done and decision in DECISION_MESSAGES:
        page.flashes.append(("ok", page.lang.gettext(DECISION_MESSAGES[decision], claim=done)))
    district_names = {d.id: d.name for d in districts}
    filters = {"district": district, "status": status, "selection": selection, "care_type": care_type}
    care_types = verification_service.queue_care_types(session=page.session, queue_filter=queue_filter)
    return page.render(
        "verification_queue.html",
        items=items,
        total=total,
        decided=status in STATUS_CHOICES and status not in ("", "pending", "queried"),
        districts=districts,
        district_names=district_names,
        filters=filters,
        care_types=sorted(set(care_types) | ({care_type} if care_type else set())),
        p=p,
        pages=max(1, -(-total // QUEUE_PAGE_SIZE)),
        pager_query=urlencode(filters) + "&",
        risk_reason=lambda item: risk_reason_text(page, item.risk_reason, item.selection),
        **_labels(page),
    )


def _review_context(page: Page, review_id: int) -> dict[str, Any]:
    review = page.session.get(ClaimReview, review_id)
    if review is None:
        raise NotFound(f"review {review_id}", "id", "unknown review")
    ensure_claim_visible(session=page.session, user=page.current_user, claim_pk=review.claim_pk)
    claim = page.session.get(Claim, review.claim_pk)
    assert claim is not None
    payments = queries.claim_payments(session=page.session, claim_pk=claim.id)
    policy = policy_of_version(page, claim.policy_version_id)
    provider, district = queries.provider_with_district(session=page.session, provider_id=claim.provider_id)
    person = queries.person_row(session=page.session, person_id=claim.person_id)
    # The version's stored digits, as the queue shows them (a claim under review was paid: it has one).
    currency, minor_digits = claims_service.money_of_version(
        session=page.session, version_id=claim.policy_version_id, record=f"claim {claim.id}"
    )
    return {
        "review": review,
        "claim": claim,
        "payments": payments,
        "steps": trail_steps(page, claim, policy, payments),
        "policy": policy,
        "provider": provider,
        "district": district,
        "person": person,
        "minor_digits": minor_digits,
        "currency": currency,
        "payers_total": sum(payment.amount for payment in payments if payment.kind == "layer"),
        "risk_reason_text": risk_reason_text(page, review.risk_reason, review.selection),
        **_labels(page),
    }


def _amount_typed(page: Page, amount: str, minor_digits: int) -> tuple[bool, int | None]:
    """Whether the amount typed is read, and it in minor units (None when left empty); when it
    is not, the refusal is already on the page and the caller renders its form again."""
    if not amount.strip():
        return True, None
    try:
        return True, parse_amount(amount, page.lang.locale, minor_digits)
    except AmountRefused:
        page.error(
            page.lang.gettext("The amount is not an amount (at most %(digits)s decimals).", digits=minor_digits),
            field="amount",
        )
        return False, None


@router.get("/verification/reviews/{review_id}")
def review_page(page: PageDep, review_id: RecordId) -> Response:
    page.require(*VERIFIER_ROLES)
    return page.render("verification_review.html", **_review_context(page, review_id), form={})


@router.post("/verification/reviews/{review_id}/decision")
def decide_review(
    page: PageDep,
    review_id: RecordId,
    decision: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    amount: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    page.require(*VERIFIER_ROLES)
    context = _review_context(page, review_id)
    form = {"decision": decision, "reason": reason, "amount": amount}
    # Read whatever the decision: an amount typed with another decision is refused by the
    # service, not silently dropped.
    read, amount_minor = _amount_typed(page, amount, context["minor_digits"])
    if not read:
        return page.render("verification_review.html", status_code=422, **context, form=form)
    claim_id = context["claim"].claim_id
    try:
        verification_service.decide(
            session=page.session,
            review_id=review_id,
            decision=decision,
            reason=reason or None,
            amount=amount_minor,
            actor=page.actor,
        )
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, DECISION_REFUSALS)
        return page.render(
            "verification_review.html", status_code=error.status, **_review_context(page, review_id), form=form
        )
    return redirect(f"/verification?done={claim_id}&decision={decision}")


# --------------------------------------------------------------------------------------------
# HEF operators' acts (Cambodia): the verifier of an area reviews the post-identifications and
# benefits of the operators of its districts (``equicover.verification.operators``).

OPERATOR_ROLE = operators.OPERATOR_ROLE
OPERATOR_PAGE_SIZE = 50
ACT_LABELS = {"hospital_case": N_("post-identification at the hospital"), "benefit": N_("benefit paid to the patient")}
OPERATOR_STATUS_LABELS = {
    "pending": N_("to review"),
    "justified": N_("justified"),
    "not_justified": N_("not justified"),
}
OPERATOR_STATUS_CHOICES: dict[str, tuple[str, ...]] = {
    "": ("pending",),
    "decided": ("justified", "not_justified"),
    "justified": ("justified",),
    "not_justified": ("not_justified",),
}
FINDING_MESSAGES = {
    "justified": N_("Act %(review)s found justified."),
    "not_justified": N_("Act %(review)s found not justified: what the funds paid will be recovered from the operator."),
}
FINDING_REFUSALS: Refusals = {
    ("finding", None): N_("Choose a finding."),
    ("status", "already decided"): N_("This act has already been decided."),
    ("reason", None): N_("Give the reason: it is required when the act is not justified."),
    ("amount", "only a finding"): N_("An amount is taken only when the act is not justified."),
    ("amount", "must be positive"): N_("Give the amount to disallow, more than zero."),
    ("amount", "must not exceed"): N_("The amount disallowed cannot exceed what the funds paid on the act."),
    ("amount", "more than the funds still"): N_(
        "A claim of this act was reversed since the draw: the funds no longer paid that much on it."
    ),
    ("at_stake", None): N_("The funds paid nothing on this act: there is no amount to disallow."),
}
SAMPLE_REFUSALS: Refusals = {
    ("period_ends", None): N_("The end of the period is before its start."),
    ("cases", None): N_("Ask for at least one act, and no negative counts."),
    ("organisation_code", "the operator answers"): N_("This operator answers for no area."),
    ("organisation_code", None): N_("Choose one of the operators of your districts."),
}
MAX_SAMPLE_ACTS = 10_000


def _operator_scope(page: Page) -> Any:
    """The verifier's facilities (None: every facility)."""
    user = page.current_user
    return None if sees_everything(user) else providers_filter(user)


def _visible_operators(page: Page) -> list[Any]:
    """The HEF operators that answer for an area of the user's."""
    found = organisations.list_organisations(session=page.session, role=OPERATOR_ROLE)
    user = page.current_user
    if sees_everything(user):
        return found
    mine = set(page.session.scalars(area_location_ids(user)))
    return [
        organisation
        for organisation in found
        if mine & set(organisations.area_ids(session=page.session, organisation_id=organisation.id))
    ]


def _period(page: Page, starts: str, ends: str) -> tuple[dt.date, dt.date] | None:
    """The period typed on the form (ISO dates from the date inputs); by default the year of the
    data's day up to that day. None, with the field marked, when a date is not a date."""
    default_ends = page.data_day.day
    chosen = []
    for field_name, text, default in (
        ("period_starts", starts, default_ends.replace(month=1, day=1)),
        ("period_ends", ends, default_ends),
    ):
        try:
            chosen.append(dt.date.fromisoformat(text.strip()) if text.strip() else default)
        except ValueError:
            page.error(page.lang.gettext("Give the date as year-month-day."), field=field_name)
            return None
    if chosen[1] < chosen[0]:
        page.error(page.lang.gettext(SAMPLE_REFUSALS[("period_ends", None)]), field="period_ends")
        return None
    return chosen[0], chosen[1]


def _money_of(page: Page, review_id: int, fallback: tuple[str, int]) -> tuple[str, int]:
    try:
        return operators.money_of_review(session=page.session, review_id=review_id)
    except EquicoverError:
        # Nothing paid on the act (a stay billed nothing): its amounts are all zero.
        return fallback


def _operators_context(
    page: Page, organisation: str, status: str, period: tuple[dt.date, dt.date], p: int
) -> dict[str, Any]:
    visible = _visible_operators(page)
    codes = {item.code for item in visible}
    scope = _operator_scope(page)
    statuses = OPERATOR_STATUS_CHOICES.get(status, ("pending",))
    chosen = organisation if organisation in codes else None
    if scope is not None and not codes:
        items, total = [], 0
    else:
        items = operators.operator_queue(
            session=page.session,
            organisation_code=chosen,
            statuses=statuses,
            provider_scope=scope,
            limit=OPERATOR_PAGE_SIZE,
            offset=(p - 1) * OPERATOR_PAGE_SIZE,
        )
        total = operators.count_operator_queue(
            session=page.session, organisation_code=chosen, statuses=statuses, provider_scope=scope
        )
    in_force = claims_service.money_in_force(session=page.session, starts=period[0], ends=period[1])
    fallback = in_force[0] if in_force else ("", 0)
    money = {item.review_id: _money_of(page, item.review_id, fallback) for item in items}
    operator_cards = [
        card
        for card in operators.operator_scorecards(session=page.session, period_starts=period[0], period_ends=period[1])
        if card.organisation_code in codes
    ]
    visible_providers = None if scope is None else set(page.session.scalars(select(Provider.id).where(scope)))
    provider_cards = [
        card
        for card in verification_service.provider_scorecards(
            session=page.session, period_starts=period[0], period_ends=period[1]
        )
        if visible_providers is None or card.provider_id in visible_providers
    ]
    filters = {
        "organisation": chosen or "",
        "status": status if status in OPERATOR_STATUS_CHOICES else "",
        "period_starts": period[0].isoformat(),
        "period_ends": period[1].isoformat(),
    }
    return {
        "operators": visible,
        "operator_names": {item.code: item.name for item in visible},
        "items": items,
        "total": total,
        "money": money,
        "decided": statuses != ("pending",),
        "operator_cards": operator_cards,
        "provider_cards": provider_cards,
        "scorecard_money": in_force,
        "filters": filters,
        "period": period,
        "p": p,
        "pages": max(1, -(-total // OPERATOR_PAGE_SIZE)),
        "pager_query": urlencode(filters) + "&",
        "act_label": label_of(page.lang, ACT_LABELS),
        "operator_status_label": label_of(page.lang, OPERATOR_STATUS_LABELS),
    }


@router.get("/verification/operators")
def operators_page(
    page: PageDep,
    organisation: str = "",
    status: str = "",
    period_starts: str = "",
    period_ends: str = "",
    done: str = "",
    finding: str = "",
    drawn: int = -1,
    p: int = 1,
) -> Response:
    page.require(*VERIFIER_ROLES)
    if p > MAX_PAGE:
        raise NotFound("page", "p", "beyond the last page")
    p = max(1, p)
    period = _period(page, period_starts, period_ends)
    status_code = 200
    if period is None:
        status_code = 422
        period = _period(page, "", "")
        assert period is not None
    if done and finding in FINDING_MESSAGES:
        page.flashes.append(("ok", page.lang.gettext(FINDING_MESSAGES[finding], review=done)))
    if drawn >= 0:
        page.flashes.append(
            (
                "ok",
                page.lang.ngettext(
                    "%(num)s act drawn for review.",
                    "%(num)s acts drawn for review.",
                    drawn,
                    num=page.lang.number(drawn),
                ),
            )
        )
    context = _operators_context(page, organisation, status, period, p)
    return page.render("verification_operators.html", status_code=status_code, form={}, **context)


def _count(page: Page, text: str, field_name: str) -> int | None:
    try:
        value = int(text.strip() or "0")
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SAMPLE_ACTS:
        page.error(
            page.lang.gettext("Give a whole number from 0 to %(most)s.", most=page.lang.number(MAX_SAMPLE_ACTS)),
            field=field_name,
        )
        return None
    return value


@router.post("/verification/operators/sample")
def draw_operator_sample(
    page: PageDep,
    organisation: Annotated[str, Form(max_length=64)] = "",
    period_starts: Annotated[str, Form(max_length=10)] = "",
    period_ends: Annotated[str, Form(max_length=10)] = "",
    cases: Annotated[str, Form(max_length=8)] = "",
    benefits: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    page.require(*VERIFIER_ROLES)
    form = {
        "organisation": organisation,
        "period_starts": period_starts,
        "period_ends": period_ends,
        "cases": cases,
        "benefits": benefits,
    }

    def refused(status_code: int = 422) -> Response:
        period = _period(page, "", "")
        assert period is not None
        context = _operators_context(page, "", "", period, 1)
        return page.render("verification_operators.html", status_code=status_code, form=form, **context)

    if organisation not in {item.code for item in _visible_operators(page)}:
        page.error(page.lang.gettext(SAMPLE_REFUSALS[("organisation_code", None)]), field="organisation")
        return refused()
    period = _period(page, period_starts, period_ends)
    if period is None:
        return refused()
    case_count = _count(page, cases, "cases")
    benefit_count = None if case_count is None else _count(page, benefits, "benefits")
    if case_count is None or benefit_count is None:
        return refused()
    try:
        drawn = operators.draw_operator_sample(
            session=page.session,
            organisation_code=organisation,
            period_starts=period[0],
            period_ends=period[1],
            cases=case_count,
            benefits=benefit_count,
            # Any act may be drawn; the seed is kept on each review, so the draw can be replayed.
            seed=secrets.randbelow(2**31),
            actor=page.actor,
        )
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, SAMPLE_REFUSALS)
        return refused(error.status)
    query = urlencode({"organisation": organisation, "drawn": len(drawn)})
    return redirect(f"/verification/operators?{query}")


def _operator_review_context(page: Page, review_id: int) -> dict[str, Any]:
    review = page.session.get(OperatorReview, review_id)
    unknown = NotFound(f"operator review {review_id}", "id", "unknown review")
    if review is None:
        raise unknown
    scope = _operator_scope(page)
    if scope is not None and (
        page.session.scalar(select(Provider.id).where(Provider.id == review.provider_id, scope)) is None
    ):
        # Outside the verifier's area reads as unknown, as a claim outside it does.
        raise unknown
    organisation = organisations.get_organisation(
        session=page.session, code=_operator_code(page, review.organisation_id)
    )
    provider, district = (
        (None, None)
        if review.provider_id is None
        else queries.provider_with_district(session=page.session, provider_id=review.provider_id)
    )
    in_force = claims_service.money_in_force(session=page.session, starts=review.act_date, ends=review.act_date)
    currency, minor_digits = _money_of(page, review.id, in_force[0] if in_force else ("", 0))
    benefit = claim_id = case = None
    if review.claim_payment_id is not None:
        benefit = page.session.get(ClaimPayment, review.claim_payment_id)
        claim = page.session.get(Claim, benefit.claim_pk) if benefit is not None else None
        claim_id = claim.claim_id if claim is not None else None
    if review.hospital_case_id is not None:
        case = page.session.get(TargetingHospitalCase, review.hospital_case_id)
    return {
        "review": review,
        "organisation": organisation,
        "provider": provider,
        "district": district,
        "currency": currency,
        "minor_digits": minor_digits,
        "benefit": benefit,
        "claim_id": claim_id,
        "case": case,
        "act_label": label_of(page.lang, ACT_LABELS),
        "operator_status_label": label_of(page.lang, OPERATOR_STATUS_LABELS),
    }


def _operator_code(page: Page, organisation_id: int) -> str:
    for organisation in organisations.list_organisations(session=page.session, role=OPERATOR_ROLE):
        if organisation.id == organisation_id:
            return organisation.code
    raise NotFound(f"organisation {organisation_id}", "id", "unknown operator")


@router.get("/verification/operators/reviews/{review_id}")
def operator_review_page(page: PageDep, review_id: RecordId) -> Response:
    page.require(*VERIFIER_ROLES)
    return page.render("verification_operator_review.html", **_operator_review_context(page, review_id), form={})


@router.post("/verification/operators/reviews/{review_id}/finding")
def decide_operator_review(
    page: PageDep,
    review_id: RecordId,
    finding: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    amount: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    page.require(*VERIFIER_ROLES)
    context = _operator_review_context(page, review_id)
    form = {"finding": finding, "reason": reason, "amount": amount}
    read, amount_minor = _amount_typed(page, amount, context["minor_digits"])
    if not read:
        return page.render("verification_operator_review.html", status_code=422, **context, form=form)
    try:
        operators.decide_operator_review(
            session=page.session,
            review_id=review_id,
            finding=finding,
            reason=reason or None,
            amount=amount_minor,
            actor=page.actor,
        )
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, FINDING_REFUSALS)
        return page.render(
            "verification_operator_review.html",
            status_code=error.status,
            **_operator_review_context(page, review_id),
            form=form,
        )
    return redirect(f"/verification/operators?done={review_id}&finding={finding}")
