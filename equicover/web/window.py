"""The one-stop settlement window: the hospital clerk's page.

Find the patient (national ID, card number or name), see their cover and what is left of each
annual cap, enter the bill, and see at once how it splits among the payers and what the patient
pays, with the rule that each payer applied; print the receipt (HTML print view or PDF).

Settlement is the claims service's (``equicover.claims.service.submit_claim``): the page only
turns the form into a :class:`~equicover.claims.schemas.ClaimIn`. The bill number is generated
when the form is drawn and sent back hidden, so a double click or a reload settles the bill once
(the facility and its bill number are the service's idempotency key): the second post answers
with the first one's settlement.

The form is read in the page's language: amounts with Babel's parser for the page's locale
("12,000.50", "12 000,50", Arabic and Persian digits), refused with the reason rather than
rounded. Every refusal is shown in the clerk's language and nothing is stored. Two clerks
settling at the same moment wait for each other: a transient conflict between the two
transactions (SQLite's "database is locked") is retried (``equicover.db.retry``), and one that
outlasts the retries is answered with the form again (503), never with an error page.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from equicover.auth.roles import Role
from equicover.claims import service as claims_service
from equicover.claims.models import Claim, PolicyVersion
from equicover.claims.schemas import MAX_AMOUNT, ClaimIn
from equicover.claims.scoping import ensure_claim_visible
from equicover.claims.settle_and_store import NO_POLICY_ON_DATE, SERVICE_DATE_AFTER_TODAY
from equicover.db.retry import with_retries
from equicover.enrolment.models import Scheme
from equicover.errors import Conflict, EquicoverError, NotFound, RecordError, ValidationFailed
from equicover.payments import corrections
from equicover.providers.models import Provider
from equicover.registry.scoping import ensure_person_visible
from equicover.settlement.claims_file import ICD10_PATTERN
from equicover.settlement.model import Policy
from equicover.web import queries
from equicover.web.i18n import (
    LOCAL_DIGITS,
    NEGATIVE_AMOUNT,
    NOT_AN_AMOUNT,
    TOO_MANY_DECIMALS,
    AmountRefused,
    parse_amount,
)
from equicover.web.pages import FIELD_NOT_ACCEPTED, N_, Page, PageDep, RecordId, WebRoute, redirect
from equicover.web.receipt_pdf import receipt_pdf
from equicover.web.scheme_names import name_enrolments

router = APIRouter(route_class=WebRoute)
CLERK_ROLES = (Role.CLERK,)

# What each token of a settlement trail means (see format_trail in settlement/model.py).
CAP_LABELS = {
    "cap_per_claim": N_("capped by the limit per bill"),
    "cap_per_year": N_("capped by the annual limit"),
    "max_cumulative_share": N_("capped by its share of the bill"),
    "max_share": N_("patient share limited to its ceiling"),
    "max_per_year": N_("patient share limited by the annual ceiling"),
}
CARE_TYPE_LABELS = {
    "outpatient": N_("Outpatient"),
    "chronic_outpatient": N_("Chronic disease outpatient"),
    "inpatient": N_("Inpatient"),
    "emergency": N_("Emergency"),
    "maternity": N_("Maternity"),
    "preventive": N_("Preventive care"),
}
# The claims service's adjustment reasons and causes (equicover.claims.adjustments).
ADJUSTMENT_REASONS = {
    "payer_top_up": N_("The fund pays more"),
    "payer_recovery": N_("The fund pays less (recovered from the facility)"),
    "member_refund": N_("Refund to the patient"),
    "member_owes_more": N_("The patient pays more"),
}
ADJUSTMENT_CAUSES = {
    "reversal": N_("This bill was reversed after payment"),
    "resettlement": N_("An earlier bill of the year was reversed"),
    "reconciliation": N_("Year-end reconciliation"),
}
GRIEVANCE_UPHELD = N_("A complaint was upheld")


def adjustment_cause(line: Any) -> str:
    """Why an adjustment was made, as the catalogue says it. A re-settlement with no reversed claim
    behind it is a grievance's refund (``claims.adjustments.member_refund``; the case's step names it)."""
    if line.cause == "resettlement" and line.cause_claim_pk is None:
        return GRIEVANCE_UPHELD
    return ADJUSTMENT_CAUSES[line.cause]


ZERO_REASON_LABELS = {  # the claims service's zero_reason codes (equicover.claims.settle_and_store)
    "not_covered": N_("Not covered on the date of care"),
    "no_contract": N_("This facility has no contract with the scheme on that date"),
    "service_not_designated": N_("The facility's contract does not cover this service"),
    "no_policy": N_("No policy in force on the date of care"),
}


# Why an amount typed in the window cannot be read (equicover.web.i18n.parse_amount), per field.
AMOUNT_REFUSALS = {
    ("total", NOT_AN_AMOUNT): N_("The total is not an amount."),
    ("total", NEGATIVE_AMOUNT): N_("The total must not be negative."),
    ("total", TOO_MANY_DECIMALS): N_("The total has more than %(digits)s decimals for the currency."),
    ("eligible", NOT_AN_AMOUNT): N_("The in-scope amount is not an amount."),
    ("eligible", NEGATIVE_AMOUNT): N_("The in-scope amount must not be negative."),
    ("eligible", TOO_MANY_DECIMALS): N_("The in-scope amount has more than %(digits)s decimals for the currency."),
}
# The claims service's refusals of a bill, by (field, reason); by field alone when the reason varies.
SERVICE_REFUSALS = {
    ("service_date", SERVICE_DATE_AFTER_TODAY): N_("The date of care is after today."),
    ("service_date", NO_POLICY_ON_DATE): N_("No policy of the scheme is in force on the date of care."),
    ("service_date", "outside the person's lifetime"): N_("The date of care is outside the person's lifetime."),
    ("days", None): N_("The days of stay do not fit this type of care under the scheme's policy."),
    ("care_type", None): N_("This type of care is not one of the scheme's policy."),
    # The letter the bill carries (equicover.referrals.service.letter_refusal).
    ("referral_letter", "no referral letter"): N_("No referral letter has this number."),
    ("referral_letter", "the letter is for another patient"): N_("This letter is for another patient."),
    ("referral_letter", "the letter was cancelled"): N_("This letter was cancelled."),
    ("referral_letter", "the care is dated before the letter"): N_("The care is dated before the letter."),
    ("referral_letter", "the letter was valid until"): N_("The letter has expired for this date of care."),
    ("referral_letter", "the patient was sent back"): N_("The patient was sent back before this date of care."),
    ("referral_letter", "the letter refers the patient to another facility"): N_(
        "The letter refers the patient to another facility."
    ),
    ("referral_letter", "the letter refers the patient to level"): N_(
        "The letter refers the patient to another level of care."
    ),
}
DATE_NOT_A_DATE = N_("The date of care is not a date.")
TOTAL_NOT_POSITIVE = N_("The total must be more than zero.")
TOTAL_TOO_LARGE = N_("The total is larger than any bill can be (at most %(largest)s).")
NOT_AN_ICD10_CODE = N_("The diagnosis is not an ICD-10 code (such as K35 or K35.8).")
DAYS_NOT_A_NUMBER = N_("The days of stay must be a whole number from 0 to 3660.")
ELIGIBLE_ABOVE_TOTAL = N_("The in-scope amount must not be more than the total.")
SETTLING_BUSY = N_("Another bill was being settled at the same moment. Please send the bill again.")
# A field of the bill the checks above leave to the claim's schema (ClaimIn), by its name.
FORM_REFUSALS = {
    "claim_id": N_("The bill number is not valid: draw the form again."),
    "service_date": DATE_NOT_A_DATE,
    "total": TOTAL_NOT_POSITIVE,
    "diagnosis": NOT_AN_ICD10_CODE,
    "days": DAYS_NOT_A_NUMBER,
    "referral_letter": N_("No referral letter has this number."),
}


def policy_of_version(page: Page, version_id: int | None) -> Policy | None:
    if version_id is None:
        return None
    version = page.session.get(PolicyVersion, version_id)
    if version is None:
        return None
    return claims_service.loaded_policy(version)


@dataclass
class TrailStep:
    layer_id: str
    payer: str
    amount: int
    applied: bool
    detail: list[str]


def trail_steps(page: Page, claim: Claim, policy: Policy | None, payments: list[Any]) -> list[TrailStep]:
    """Each layer of the cascade in order: who pays, how much, and in words which rule applied."""
    _ = page.lang.gettext
    paid = {(payment.kind, payment.item_id): payment for payment in payments}
    tokens: dict[str, str] = {}
    for token in filter(None, (part.strip() for part in (claim.trail or "").split(";"))):
        key, _sep, value = token.partition("=")
        tokens[key] = value
    steps: list[TrailStep] = []
    layers = list(policy.layers) if policy is not None else []
    layer_ids = [layer.id for layer in layers] or [item for kind, item in paid if kind == "layer"]
    payers = {layer.id: layer.payer_in(page.lang.language) for layer in layers}
    for layer_id in layer_ids:
        payment = paid.get(("layer", layer_id))
        value = tokens.get(layer_id, "-")
        detail: list[str] = []
        applied = value not in ("-", "")
        if not applied:
            detail.append(_("does not apply to this bill"))
        else:
            for part in value.split():
                if part.startswith("v") and part[1:].isdigit():
                    detail.append(_("rule %(n)s of the layer", n=page.lang.number(int(part[1:]))))
                elif part.startswith("b"):
                    if part == "b-":
                        detail.append(_("below the threshold: no band reached"))
                    else:
                        first, _dash, last = part[1:].partition("-")
                        detail.append(
                            _(
                                "bands %(first)s to %(last)s",
                                first=page.lang.number(int(first)),
                                last=page.lang.number(int(last)),
                            )
                            if first != last
                            else _("band %(n)s", n=page.lang.number(int(first)))
                        )
                elif part in CAP_LABELS:
                    detail.append(_(CAP_LABELS[part]))
        steps.append(
            TrailStep(
                layer_id=layer_id,
                # The policy's name of the payer in the reader's language (the stored payment row
                # carries the file's own, perhaps shortened).
                payer=payers.get(layer_id) or (payment.payer if payment is not None else layer_id),
                amount=payment.amount if payment is not None else 0,
                applied=applied,
                detail=detail,
            )
        )
    for (kind, item_id), payment in paid.items():
        if kind == "allowance":
            steps.append(TrailStep(item_id, payment.payer, payment.amount, payment.amount > 0, [_("allowance")]))
    return steps


def _payer_of(page: Page, policy: Policy | None, kind: str, item_id: str, stored: str) -> str:
    """A payment or adjustment row's payer in the reader's language, as its policy names the layer."""
    if policy is not None and kind == "layer":
        for layer in policy.layers:
            if layer.id == item_id:
                return layer.payer_in(page.lang.language)
    return stored


def _new_bill_number(provider_code: str) -> str:
    return f"{provider_code}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


def _person_context(page: Page, person_id: int, on: dt.date) -> dict[str, Any]:
    person = queries.person_row(session=page.session, person_id=person_id)
    if person is None:
        raise NotFound(f"person {person_id}", "id", "unknown person")
    eligibility = claims_service.eligibility(session=page.session, person_id=person_id, on=on)
    enrolments = queries.enrolment_views(session=page.session, person_ids=[person_id], on=on)[person_id]
    name_enrolments(session=page.session, views=enrolments, language=page.lang.language, on=on)
    holdings = queries.category_holdings(session=page.session, person_ids=[person_id], on=on)[person_id]
    schemes = {scheme.code: scheme for scheme in page.session.scalars(select(Scheme))}
    caps = []
    care_types: list[str] = []
    currency, minor_digits = None, 2
    for scheme_eligibility in eligibility.schemes:
        scheme = schemes.get(scheme_eligibility.scheme_code)
        if scheme is not None:
            currency, minor_digits = scheme.currency, scheme.minor_digits
        policy = policy_of_version(page, scheme_eligibility.policy_version_id)
        if policy is not None:
            care_types = list(dict.fromkeys([*care_types, *policy.care_types]))
            minor_digits = policy.minor_digits
            currency = policy.currency
        names = {layer.id: layer.payer_in(page.lang.language) for layer in policy.layers} if policy else {}
        for layer in scheme_eligibility.layers:
            caps.append(
                {
                    "scheme": scheme_eligibility.scheme_code,
                    "layer": layer,
                    "payer": names.get(layer.layer_id, layer.payer),
                    "currency": currency,
                    "minor_digits": minor_digits,
                }
            )
    if currency is None and schemes:
        fallback = next(iter(schemes.values()))
        currency, minor_digits = fallback.currency, fallback.minor_digits
    if not care_types:
        care_types = list(CARE_TYPE_LABELS)[:4]
    return {
        "person": person,
        "eligibility": eligibility,
        "enrolments": enrolments,
        "holdings": holdings,
        "caps": caps,
        "care_types": care_types,
        "care_type_label": lambda code: page.lang.gettext(CARE_TYPE_LABELS[code]) if code in CARE_TYPE_LABELS else code,
        "currency": currency,
        "minor_digits": minor_digits,
        "on": on,
        "history": queries.claims_of_person(session=page.session, user=page.current_user, person_id=person_id),
    }


@router.get("/window")
def window_search(page: PageDep, q: str = "") -> Response:
    page.require(*CLERK_ROLES)
    found = (
        queries.search_persons(session=page.session, user=page.current_user, text=q, limit=queries.SEARCH_LIMIT + 1)
        if q.strip()
        else []
    )
    # One row more than shown says honestly that there are more, without counting a province.
    results, more = found[: queries.SEARCH_LIMIT], len(found) > queries.SEARCH_LIMIT
    if len(results) == 1 and q.strip():
        return redirect(f"/window/persons/{results[0].id}")
    card_status = (
        queries.card_out_of_use(session=page.session, text=q.strip(), today=dt.date.today())
        if q.strip() and not results
        else None
    )
    return page.render(
        "window_search.html", q=q, results=results, more=more, searched=bool(q.strip()), card_status=card_status
    )


def _parse_date(text: str | None, fallback: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(text) if text else fallback
    except ValueError:
        return fallback


@router.get("/window/persons/{person_id}")
def window_person(page: PageDep, person_id: RecordId, on: str | None = None) -> Response:
    page.require(*CLERK_ROLES)
    ensure_person_visible(session=page.session, user=page.current_user, person_id=person_id)
    day = _parse_date(on, page.data_day.day)
    provider = clerk_provider(page)
    context = _person_context(page, person_id, day)
    form = {
        "service_date": day.isoformat(),
        "claim_id": _new_bill_number(provider.code if provider else "W"),
        "days": "0",
    }
    return page.render("window_person.html", **context, form=form, provider=provider)


def clerk_provider(page: Page) -> Provider | None:
    """The facility the signed-in clerk's account belongs to, if any."""
    provider_id = page.current_user.provider_id
    return page.session.get(Provider, provider_id) if provider_id is not None else None


@router.post("/window/persons/{person_id}/bill")
def window_settle(
    page: PageDep,
    person_id: RecordId,
    claim_id: Annotated[str, Form(max_length=64)],
    service_date: Annotated[str, Form(max_length=10)],
    care_type: Annotated[str, Form(max_length=32)],
    diagnosis: Annotated[str, Form(max_length=16)],
    total: Annotated[str, Form(max_length=32)],
    eligible: Annotated[str, Form(max_length=32)] = "",
    days: Annotated[str, Form(max_length=6)] = "0",
    referred: Annotated[str | None, Form()] = None,
    referral_letter: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Settle the bill; on success show the split (redirect), else the form again with the reason."""
    page.require(*CLERK_ROLES)
    ensure_person_visible(session=page.session, user=page.current_user, person_id=person_id)
    _ = page.lang.gettext
    form = {
        "claim_id": claim_id,
        "service_date": service_date,
        "care_type": care_type,
        "diagnosis": diagnosis,
        "total": total,
        "eligible": eligible,
        "days": days,
        "referred": referred is not None,
        "referral_letter": referral_letter,
    }
    _refused_date = None
    try:
        day = dt.date.fromisoformat(service_date.strip())
    except ValueError:
        day, _refused_date = page.data_day.day, _(DATE_NOT_A_DATE)
    provider = clerk_provider(page)
    context = _person_context(page, person_id, day)
    minor_digits = context["minor_digits"]

    def again(message: str, status_code: int = 422, field: str | None = None) -> Response:
        page.error(message, field=field)
        return page.render("window_person.html", status_code=status_code, **context, form=form, provider=provider)

    if provider is None:
        return again(_("Your account is not attached to a facility."))
    if _refused_date is not None:
        return again(_refused_date, field="service_date")
    amounts: dict[str, int | None] = {"total": None, "eligible": None}
    for name, text in (("total", total), ("eligible", eligible)):
        if name == "eligible" and not text.strip():
            continue
        try:
            amounts[name] = parse_amount(text, page.lang.locale, minor_digits)
        except AmountRefused as refused:
            return again(
                _(AMOUNT_REFUSALS[(name, refused.reason)], digits=page.lang.number(refused.digits)), field=name
            )
    total_minor, eligible_minor = amounts["total"], amounts["eligible"]
    assert total_minor is not None
    if total_minor <= 0:
        return again(_(TOTAL_NOT_POSITIVE), field="total")
    if total_minor > MAX_AMOUNT:
        # In the clerk's units (yuan, not fen), as typed.
        return again(_(TOTAL_TOO_LARGE, largest=page.lang.money(MAX_AMOUNT, minor_digits)), field="total")
    if eligible_minor is not None and eligible_minor > total_minor:
        return again(_(ELIGIBLE_ABOVE_TOTAL), field="eligible")
    code = diagnosis.strip().upper()
    if not ICD10_PATTERN.match(code):
        return again(_(NOT_AN_ICD10_CODE), field="diagnosis")
    days_text = (days or "0").strip().translate(LOCAL_DIGITS)
    if not (days_text.isascii() and days_text.isdigit()) or int(days_text) > 3660:
        return again(_(DAYS_NOT_A_NUMBER), field="days")
    try:
        claim_in = ClaimIn(
            claim_id=claim_id,
            person_id=person_id,
            provider_code=provider.code,
            service_date=day,
            care_type=care_type,
            diagnosis=code,
            days=int(days_text),
            total=total_minor,
            eligible=eligible_minor,
            referred=referred is not None,
            referral_letter=referral_letter.strip().upper() or None,
        )
    except ValidationError as error:
        first = error.errors(include_input=False)[0]
        field_name = str(first.get("loc", ("form",))[0])
        return again(_(FORM_REFUSALS.get(field_name, FIELD_NOT_ACCEPTED), field=field_name), field=field_name)
    actor = page.actor

    def work() -> Any:
        return claims_service.submit_claim(session=page.session, claim=claim_in, actor=actor)

    try:
        claim, _created = with_retries(page.session, work)
    except EquicoverError as error:
        page.undo_refused(error)
        context = _person_context(page, person_id, day)
        known = _service_refusal(error) if isinstance(error, RecordError) else None
        if known is not None:
            return again(_(known), status_code=error.status, field=getattr(error, "field", None))
        page.error_of(error)
        return page.render("window_person.html", status_code=error.status, **context, form=form, provider=provider)
    except DBAPIError:
        # A conflict that outlasted the retries (or a lost race the service could not resolve):
        # nothing was stored; the clerk sends the same bill number again and gets one claim.
        page.session.rollback()
        context = _person_context(page, person_id, day)
        return again(_(SETTLING_BUSY), status_code=503)
    return redirect(f"/window/claims/{claim.claim_id}")


def _service_refusal(error: RecordError) -> str | None:
    """The catalogue message of a service refusal the window knows, else None (shown as it is)."""
    known = SERVICE_REFUSALS.get((error.field, error.reason)) or SERVICE_REFUSALS.get((error.field, None))
    if known is None and error.field == "referral_letter":  # a letter's reasons may end with a date
        for (field, start), text in SERVICE_REFUSALS.items():
            if field == error.field and start is not None and error.reason.startswith(start):
                return text
    return known


def _claim_context(page: Page, claim_id: str, provider_code: str | None = None) -> dict[str, Any]:
    # A bill number is unique per facility: a clerk reads its own facility's bill; anyone else
    # names the facility (?provider=CODE) when two facilities use the number.
    provider_id = page.current_user.provider_id
    if provider_code is not None:
        provider_id = claims_service.provider_id_of(session=page.session, provider_code=provider_code)
    try:
        claim_row = claims_service.get_claim(session=page.session, claim_id=claim_id, provider_id=provider_id)
    except Conflict as error:
        raise ValidationFailed(error.record, error.field, error.reason) from None
    ensure_claim_visible(session=page.session, user=page.current_user, claim_pk=claim_row.id)
    payments = queries.claim_payments(session=page.session, claim_pk=claim_row.id)
    policy = policy_of_version(page, claim_row.policy_version_id)
    person = queries.person_row(session=page.session, person_id=claim_row.person_id)
    provider, district = queries.provider_with_district(session=page.session, provider_id=claim_row.provider_id)
    # A claim nothing covered has no version: its amounts are in the money of the schemes around it.
    currency, minor_digits = claims_service.money_of_claim(session=page.session, claim=claim_row) or ("", 0)
    payers_total = sum(payment.amount for payment in payments)
    adjustments = claims_service.adjustments_of(session=page.session, claim_pk=claim_row.id)
    return {
        "claim": claim_row,
        "payments": payments,
        "adjustments": adjustments,
        # What the patient pays once the adjustments are counted (a refund lowers it).
        "member_now": claim_row.member_oop + sum(line.amount for line in adjustments if line.kind == "member"),
        "adjustment_reason": lambda line: page.lang.gettext(ADJUSTMENT_REASONS[line.reason]),
        "adjustment_cause": lambda line: page.lang.gettext(adjustment_cause(line)),
        "steps": trail_steps(page, claim_row, policy, payments),
        "policy": policy,
        "policy_name": policy.name_in(page.lang.language) if policy is not None else None,
        "adjustment_payer": lambda line: _payer_of(page, policy, line.kind, line.item_id, line.payer),
        "person": person,
        "provider": provider,
        "district": district,
        "minor_digits": minor_digits,
        "currency": currency,
        "payers_total": payers_total,
        "care_type_label": lambda code: page.lang.gettext(CARE_TYPE_LABELS[code]) if code in CARE_TYPE_LABELS else code,
        "zero_reason_label": lambda code: (
            page.lang.gettext(ZERO_REASON_LABELS[code]) if code in ZERO_REASON_LABELS else code
        ),
    }


ProviderCode = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get("/window/claims/{claim_id}")
def window_claim(
    page: PageDep,
    claim_id: str,
    provider: ProviderCode = None,
    reversed: str = "",
    resettled: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    page.require(*CLERK_ROLES)
    context = _claim_context(page, claim_id, provider)
    if reversed in REVERSAL_PAYMENT and context["claim"].status == "reversed":
        _ = page.lang.gettext
        said = [_(REVERSAL_DONE, bill=claim_id), _(REVERSAL_PAYMENT[reversed])]
        if resettled:
            said.append(
                page.lang.ngettext(
                    "%(num)s later bill of the patient was settled again.",
                    "%(num)s later bills of the patient were settled again.",
                    resettled,
                )
            )
        page.flashes.append(("ok", " ".join(said)))
    return page.render("window_claim.html", **context)


REVERSAL_NEEDS_REASON = N_("Say why the bill is reversed.")
REVERSAL_DONE = N_("Bill %(bill)s reversed.")
REVERSAL_PAYMENT = {
    "paid": N_("It had been paid to the facility: what the funds paid is recovered from its next payment."),
    "draft": N_("It was taken out of the payment batch being prepared: it will not be paid."),
    "unpaid": N_("It had not been paid yet: it will not be paid."),
}


@router.post("/window/claims/{claim_id}/reversal")
def window_reversal(
    page: PageDep,
    claim_id: str,
    reason: Annotated[str, Form(max_length=500)] = "",
    provider: ProviderCode = None,
) -> Response:
    """Reverse a bill of the clerk's facility with a reason: the payments service takes it out of a
    draft batch or recovers it from the facility when paid, and settles the patient's later bills
    of the year again; the page says which happened."""
    page.require(*CLERK_ROLES)
    context = _claim_context(page, claim_id, provider)
    claim_row = context["claim"]
    _ = page.lang.gettext
    if not reason.strip():
        page.error(_(REVERSAL_NEEDS_REASON), field="reason")
        return page.render("window_claim.html", status_code=422, **context, reversal_reason=reason)
    actor, own = page.actor, page.current_user.provider_id if page.current_user.role == Role.CLERK else None

    def work() -> corrections.Reversal:
        return corrections.reverse_claim(
            session=page.session,
            claim_id=claim_id,
            reason=reason,
            actor=actor,
            only_provider_id=own,
            provider_id=claim_row.provider_id,
        )

    try:
        reversal = with_retries(page.session, work)
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, {("status", "the claim is already reversed"): N_("This bill was reversed.")})
        return page.render("window_claim.html", status_code=error.status, **_claim_context(page, claim_id, provider))
    state = "paid" if reversal.paid else ("draft" if reversal.batch_id is not None else "unpaid")
    resettled = len({line.claim_pk for line in reversal.resettled})
    query = {"reversed": state, "resettled": resettled, **({"provider": provider} if provider else {})}
    return redirect(f"/window/claims/{quote(claim_id, safe='')}?{urlencode(query)}")


@router.get("/window/claims/{claim_id}/receipt")
def window_receipt(page: PageDep, claim_id: str, provider: ProviderCode = None) -> Response:
    page.require(*CLERK_ROLES)
    context = _claim_context(page, claim_id, provider)
    return page.render("receipt.html", **context, printed_at=dt.datetime.now(dt.UTC))


@router.get("/window/claims/{claim_id}/receipt.pdf")
def window_receipt_pdf(page: PageDep, claim_id: str, provider: ProviderCode = None) -> Response:
    page.require(*CLERK_ROLES)
    context = _claim_context(page, claim_id, provider)
    content = receipt_pdf(page.lang, context, printed_at=dt.datetime.now(dt.UTC))
    safe_name = "".join(char if char.isalnum() or char in "-_." else "_" for char in claim_id)
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="receipt-{safe_name}.pdf"', "Cache-Control": "no-store"},
    )
