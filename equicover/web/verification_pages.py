"""The verifier's pages: the queue of sampled claims of its districts, a claim's detail with its
settlement trail, and the finding (accept / query / disallow part / reject, with a reason).

Samples, queue and findings are the verification service's (``equicover.verification.service``):
``verifier_queue`` and ``decide``, which records the finding in the change log with the verifier
as actor (``web:<username>``) and books the recoveries in the funds' ledger.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Response

from equicover.auth.roles import Role
from equicover.claims import service as claims_service
from equicover.claims.models import Claim
from equicover.claims.scoping import ensure_claim_visible
from equicover.errors import EquicoverError, NotFound
from equicover.verification import service as verification_service
from equicover.verification.models import OPEN_STATUSES, ClaimReview
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
    amount_minor: int | None = None
    if amount.strip():
        # Read whatever the decision: an amount typed with another decision is refused by the
        # service, not silently dropped.
        try:
            amount_minor = parse_amount(amount, page.lang.locale, context["minor_digits"])
        except AmountRefused:
            page.error(
                page.lang.gettext(
                    "The amount is not an amount (at most %(digits)s decimals).", digits=context["minor_digits"]
                ),
                field="amount",
            )
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
        if error.status >= 500:
            raise
        page.session.rollback()
        page.error_of(error, DECISION_REFUSALS)
        return page.render(
            "verification_review.html", status_code=error.status, **_review_context(page, review_id), form=form
        )
    return redirect(f"/verification?done={claim_id}&decision={decision}")
