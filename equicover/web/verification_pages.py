"""The verifier's pages: the queue of sampled claims of its districts, a claim's detail with its
settlement trail, and the finding (accept / query / disallow part / reject, with a reason).

Samples, queue and findings are the verification service's (``equicover.verification.service``):
``verifier_queue`` and ``decide``, which records the finding in the change log with the verifier
as actor (``web:<username>``) and books the recoveries in the funds' ledger.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Response

from equicover.auth.roles import Role
from equicover.claims import service as claims_service
from equicover.claims.models import Claim
from equicover.claims.scoping import ensure_claim_visible
from equicover.errors import EquicoverError, NotFound
from equicover.verification import service as verification_service
from equicover.verification.models import ClaimReview
from equicover.web import queries
from equicover.web.i18n import AmountRefused, parse_amount
from equicover.web.pages import N_, Page, PageDep, RecordId, WebRoute, label_of, redirect
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


@router.get("/verification")
def queue_page(
    page: PageDep,
    district: str = "",
    status: str = "",
    selection: str = "",
    care_type: str = "",
    done: str = "",
    decision: str = "",
) -> Response:
    page.require(*VERIFIER_ROLES)
    district_ids = _district_ids(page)
    districts = queries.districts_of(session=page.session, user=page.current_user)
    chosen = [d.id for d in districts if d.code == district] if district else district_ids
    items = verification_service.verifier_queue(session=page.session, district_ids=chosen)
    if status:
        items = [item for item in items if item.status == status]
    if selection:
        items = [item for item in items if item.selection == selection]
    if care_type:
        items = [item for item in items if item.care_type == care_type]
    if done and decision in DECISION_MESSAGES:
        page.flashes.append(("ok", page.lang.gettext(DECISION_MESSAGES[decision], claim=done)))
    district_names = {d.id: d.name for d in districts}
    return page.render(
        "verification_queue.html",
        items=items,
        districts=districts,
        district_names=district_names,
        filters={"district": district, "status": status, "selection": selection, "care_type": care_type},
        care_types=sorted({item.care_type for item in items} | ({care_type} if care_type else set())),
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
    if decision == "disallow" and amount.strip():
        try:
            amount_minor = parse_amount(amount, page.lang.locale, context["minor_digits"])
        except AmountRefused:
            page.error(
                page.lang.gettext(
                    "The amount is not an amount (at most %(digits)s decimals).", digits=context["minor_digits"]
                )
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
        page.error_of(error)
        return page.render(
            "verification_review.html", status_code=error.status, **_review_context(page, review_id), form=form
        )
    return redirect(f"/verification?done={claim_id}&decision={decision}")
