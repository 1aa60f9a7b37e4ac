"""Referral letters at the window (the clerk's pages).

From the patient's page the clerk issues a letter from the clerk's facility to a level of care or
to one facility, prints it (the PDF the patient carries), lists the patient's letters and checks a
letter presented at the window by its number: valid until when, expired, cancelled, sent back, for
another patient (and already used by that patient's bills), or for another facility, each said in
words. The receiving facility records the counter-referral on the letter's page.

The letters are the referrals service's (``equicover.referrals.service``); the validity of a
letter is the ``[referral] letter_valid_days`` of the policy that covers its patient on the day
of care, the rule the settlement applies when a bill carries the letter's number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Response
from sqlalchemy import select

from equicover.auth.deps import now_of
from equicover.claims import service as claims_service
from equicover.errors import EquicoverError, NotFound
from equicover.providers.models import Provider
from equicover.referrals import service as referrals
from equicover.referrals.letter_pdf import letter_pdf
from equicover.referrals.models import ReferralLetter
from equicover.registry.scoping import ensure_person_visible
from equicover.web import queries
from equicover.web.pages import N_, Page, PageDep, RecordId, Refusals, WebRoute, label_of, redirect
from equicover.web.window import CLERK_ROLES, NOT_AN_ICD10_CODE, clerk_provider

router = APIRouter(route_class=WebRoute)


LEVEL_LABELS = {
    "commune": N_("Commune health station"),
    "district": N_("District hospital"),
    "province": N_("Provincial hospital"),
    "central": N_("Central hospital"),
    "national": N_("National hospital"),
}
STATUS_LABELS = {
    "issued": N_("issued"),
    "counter_referred": N_("sent back"),
    "cancelled": N_("cancelled"),
}
NO_FACILITY = N_("Your account is not attached to a facility.")
UNKNOWN_LEVEL = N_("Choose a level of care that facilities have.")
DATE_NOT_A_DATE = N_("The date is not a date (YYYY-MM-DD).")
DATE_AFTER_TODAY = N_("The date is after today.")
ISSUED = N_("Referral letter %(number)s issued.")
COUNTER_REFERRED = N_("The patient was sent back: the counter-referral is recorded.")
# The referrals service's refusals of a letter or a counter-referral, as the clerk reads them.
LETTER_REFUSALS: Refusals = {
    ("to", None): N_("Name a level of care or a facility, not both."),
    ("diagnosis", None): NOT_AN_ICD10_CODE,
    ("reason", None): N_("Say why the patient is referred."),
    ("issued_on", None): N_("The letter's date is outside the patient's lifetime."),
    ("to_provider_code", "unknown provider"): N_("No facility has this code."),
    ("to_provider_code", "a facility does not refer"): N_("A facility does not refer a patient to itself."),
    ("person_id", None): N_("This record was merged into another: use that record."),
}
COUNTER_REFUSALS: Refusals = {
    ("status", None): N_("This letter was sent back or cancelled already."),
    ("by_provider_code", "the letter referred the patient to another facility"): N_(
        "The letter referred the patient to another facility: that facility sends them back."
    ),
    ("by_provider_code", "the letter referred the patient to level"): N_(
        "The letter referred the patient to another level of care: a facility of that level sends them back."
    ),
    ("on", None): N_("The patient cannot be sent back before the letter was issued."),
    ("note", None): N_("Say what was done and the advice for the referring facility."),
}
# What a check of a letter says, by the referrals service's reason (letter_refusal).
UNKNOWN_NUMBER = N_("No referral letter has this number.")
ANOTHER_PATIENT = N_("This letter is for another patient.")
USED_BY_ANOTHER = N_("This letter is another patient's and was used for that patient's bills.")
CANCELLED = N_("This letter was cancelled.")
BEFORE_LETTER = N_("The care is dated before the letter.")
EXPIRED = N_("The letter has expired: it was valid until %(date)s.")
SENT_BACK = N_("The patient was sent back on %(date)s: the letter refers no care after that day.")
OTHER_FACILITY = N_("The letter refers the patient to another facility.")
OTHER_LEVEL = N_("The letter refers the patient to another level of care (%(level)s).")
VALID = N_("The letter is valid for this care until %(date)s.")


@dataclass(frozen=True, slots=True)
class LetterRow:
    letter: ReferralLetter
    source: str
    destination: str
    valid_until: dt.date
    used: int


def _provider(page: Page, provider_id: int | None) -> Provider | None:
    return page.session.get(Provider, provider_id) if provider_id is not None else None


def _level_label(page: Page, level: str) -> str:
    return label_of(page.lang, LEVEL_LABELS)(level)


def _row(page: Page, letter: ReferralLetter) -> LetterRow:
    source = _provider(page, letter.from_provider_id)
    destination = _provider(page, letter.to_provider_id)
    return LetterRow(
        letter=letter,
        source=f"{source.name} ({source.code})" if source is not None else "—",
        destination=(
            f"{destination.name} ({destination.code})"
            if destination is not None
            else _level_label(page, letter.to_level or "")
        ),
        valid_until=referrals.valid_until(
            letter,
            claims_service.letter_valid_days(session=page.session, person_id=letter.person_id, on=letter.issued_on),
        ),
        used=len(referrals.claims_using(session=page.session, letter_id=letter.id)),
    )


def _levels(page: Page) -> list[str]:
    return sorted(set(page.session.scalars(select(Provider.level).distinct())))


def _form_date(page: Page, text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class _Refused:
    message: str
    field: str | None


def _clerk_and_day(page: Page, text: str, field: str) -> tuple[Provider, dt.date] | _Refused:
    """The clerk's facility and the day typed in ``field`` (today at the latest), or why the form is refused."""
    _ = page.lang.gettext
    provider = clerk_provider(page)
    if provider is None:
        return _Refused(_(NO_FACILITY), None)
    day = _form_date(page, text)
    if day is None:
        return _Refused(_(DATE_NOT_A_DATE), field)
    if day > now_of(page.request).date():
        return _Refused(_(DATE_AFTER_TODAY), field)
    return provider, day


def _person_page(page: Page, person_id: int, form: dict[str, str], status_code: int = 200) -> Response:
    person = queries.person_row(session=page.session, person_id=person_id)
    if person is None:
        raise NotFound(f"person {person_id}", "id", "unknown person")
    rows = [_row(page, letter) for letter in reversed(referrals.letters_of(session=page.session, person_id=person_id))]
    return page.render(
        "referral_person.html",
        status_code=status_code,
        person=person,
        letters=rows,
        levels=_levels(page),
        level_label=lambda level: _level_label(page, level),
        status_label=label_of(page.lang, STATUS_LABELS),
        provider=clerk_provider(page),
        form=form,
    )


@router.get("/window/persons/{person_id}/referrals")
def person_letters(page: PageDep, person_id: RecordId) -> Response:
    page.require(*CLERK_ROLES)
    ensure_person_visible(session=page.session, user=page.current_user, person_id=person_id)
    form = {"issued_on": page.data_day.day.isoformat(), "destination": "level"}
    return _person_page(page, person_id, form)


@router.post("/window/persons/{person_id}/referrals")
def issue_letter(
    page: PageDep,
    person_id: RecordId,
    diagnosis: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    issued_on: Annotated[str, Form(max_length=10)] = "",
    destination: Annotated[str, Form(max_length=8)] = "level",
    to_level: Annotated[str, Form(max_length=32)] = "",
    to_provider_code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Issue a letter from the clerk's facility; on success its page, else the form again with the reason."""
    page.require(*CLERK_ROLES)
    ensure_person_visible(session=page.session, user=page.current_user, person_id=person_id)
    _ = page.lang.gettext
    form = {
        "diagnosis": diagnosis,
        "reason": reason,
        "issued_on": issued_on,
        "destination": destination,
        "to_level": to_level,
        "to_provider_code": to_provider_code,
    }

    def again(message: str, field: str | None, status_code: int = 422) -> Response:
        page.error(message, field=field)
        return _person_page(page, person_id, form, status_code)

    acting = _clerk_and_day(page, issued_on, "issued_on")
    if isinstance(acting, _Refused):
        return again(acting.message, acting.field)
    source, day = acting
    level = to_level.strip() if destination == "level" else ""
    code = to_provider_code.strip() if destination == "facility" else ""
    if level and level not in _levels(page):
        return again(_(UNKNOWN_LEVEL), "to")
    try:
        letter = referrals.issue_letter(
            session=page.session,
            person_id=person_id,
            from_provider_code=source.code,
            diagnosis=diagnosis,
            reason=reason,
            issued_on=day,
            to_level=level or None,
            to_provider_code=code or None,
            actor=page.actor,
        )
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, LETTER_REFUSALS)
        return _person_page(page, person_id, form, error.status)
    return redirect(f"/window/referrals/{quote(letter.number, safe='')}?issued=1")


def _visible_letter(page: Page, number: str) -> ReferralLetter:
    letter = referrals.get_letter(session=page.session, number=number)
    ensure_person_visible(session=page.session, user=page.current_user, person_id=letter.person_id)
    return letter


def check_letter(page: Page, letter: ReferralLetter, person_id: int | None, on: dt.date) -> tuple[bool, str]:
    """Whether the letter refers this care at the clerk's facility, and why, in the clerk's language."""
    _ = page.lang.gettext
    if person_id is not None and letter.person_id != person_id:
        used = referrals.claims_using(session=page.session, letter_id=letter.id)
        return False, _(USED_BY_ANOTHER) if used else _(ANOTHER_PATIENT)
    provider = clerk_provider(page)
    valid_days = claims_service.letter_valid_days(session=page.session, person_id=letter.person_id, on=on)
    refusal = referrals.letter_refusal(
        letter,
        person_id=letter.person_id,
        provider_id=provider.id if provider is not None else -1,
        provider_level=provider.level if provider is not None else "",
        service_date=on,
        valid_days=valid_days,
    )
    last_day = referrals.valid_until(letter, valid_days)
    if refusal is None:
        return True, _(VALID, date=page.lang.date(min(last_day, letter.counter_on or last_day)))
    if refusal == referrals.CANCELLED:
        return False, _(CANCELLED)
    if refusal == referrals.BEFORE_LETTER:
        return False, _(BEFORE_LETTER)
    if refusal.startswith("the letter was valid until"):
        return False, _(EXPIRED, date=page.lang.date(last_day))
    if refusal.startswith("the patient was sent back"):
        return False, _(SENT_BACK, date=page.lang.date(letter.counter_on))
    if refusal.startswith("the letter refers the patient to level"):
        return False, _(OTHER_LEVEL, level=_level_label(page, letter.to_level or ""))
    return False, _(OTHER_FACILITY)


@router.get("/window/referrals")
def letter_check(
    page: PageDep,
    number: Annotated[str, Query(max_length=32)] = "",
    person: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    on: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """Check a letter presented at the window: for this patient, this facility and this day of care."""
    page.require(*CLERK_ROLES)
    _ = page.lang.gettext
    if person is not None:
        ensure_person_visible(session=page.session, user=page.current_user, person_id=person)
    day = _form_date(page, on) if on.strip() else page.data_day.day
    verdict: tuple[bool, str] | None = None
    letter = None
    if day is None:
        page.error(_(DATE_NOT_A_DATE), field="on")
        day = page.data_day.day
    elif number.strip():
        try:
            letter = referrals.get_letter(session=page.session, number=number)
        except NotFound:
            page.error(_(UNKNOWN_NUMBER), field="number")
        else:
            verdict = check_letter(page, letter, person, day)
            if person is None:
                # Without a patient named, the page shows nothing of another area's patient.
                ensure_person_visible(session=page.session, user=page.current_user, person_id=letter.person_id)
    return page.render(
        "referral_check.html",
        status_code=422 if page.flashes else 200,
        number=number,
        person_id=person,
        on=day,
        verdict=verdict,
        letter=letter,
    )


@router.get("/window/referrals/{number}")
def letter_page(page: PageDep, number: str, issued: int = 0, sent_back: int = 0) -> Response:
    page.require(*CLERK_ROLES)
    letter = _visible_letter(page, number)
    if issued:
        page.flashes.append(("ok", page.lang.gettext(ISSUED, number=letter.number)))
    if sent_back:
        page.flashes.append(("ok", page.lang.gettext(COUNTER_REFERRED)))
    return _render_letter(page, letter, {"on": page.data_day.day.isoformat()})


def _render_letter(page: Page, letter: ReferralLetter, form: dict[str, str], status_code: int = 200) -> Response:
    person = queries.person_row(session=page.session, person_id=letter.person_id)
    receiver = _provider(page, letter.counter_by_provider_id)
    return page.render(
        "referral_letter.html",
        status_code=status_code,
        row=_row(page, letter),
        letter=letter,
        person=person,
        receiver=f"{receiver.name} ({receiver.code})" if receiver is not None else None,
        status_label=label_of(page.lang, STATUS_LABELS),
        provider=clerk_provider(page),
        form=form,
    )


@router.get("/window/referrals/{number}/letter.pdf")
def letter_document(page: PageDep, number: str) -> Response:
    page.require(*CLERK_ROLES)
    letter = _visible_letter(page, number)
    return Response(
        letter_pdf(session=page.session, letter=letter),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="referral-{letter.number}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/window/referrals/{number}/counter-referral")
def counter_referral(
    page: PageDep,
    number: str,
    on: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The clerk's facility, having received the patient, sends them back with a note."""
    page.require(*CLERK_ROLES)
    letter = _visible_letter(page, number)
    form = {"on": on, "note": note}

    def again(message: str, field: str | None, status_code: int = 422) -> Response:
        page.error(message, field=field)
        return _render_letter(page, letter, form, status_code)

    acting = _clerk_and_day(page, on, "on")
    if isinstance(acting, _Refused):
        return again(acting.message, acting.field)
    receiver, day = acting
    try:
        referrals.counter_refer(
            session=page.session, letter=letter, by_provider_code=receiver.code, on=day, note=note, actor=page.actor
        )
    except EquicoverError as error:
        page.undo_refused(error)
        letter = _visible_letter(page, number)
        page.error_of(error, COUNTER_REFUSALS)
        return _render_letter(page, letter, form, error.status)
    return redirect(f"/window/referrals/{quote(letter.number, safe='')}?sent_back=1")
