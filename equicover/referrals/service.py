"""Referral letters: the only door to ``referral_letters`` and ``referral_letter_uses``.

- :func:`issue_letter`: a facility refers a patient to a level of care or to one facility, with
  a diagnosis (ICD-10) and a reason, on a date.
- :func:`letter_refusal`: the rule a claim's letter must meet, the same for every path that
  settles claims: the letter is the patient's, not cancelled, the care is dated from the letter's
  date to the last day of its validity (``[referral] letter_valid_days`` of the policy settling the
  claim) and not after the counter-referral, at the facility or level the letter names.
- :func:`counter_refer`: the receiving facility sends the patient back, with a note.
- :func:`cancel_letter`: the issuing facility withdraws a letter no claim has used.
- :func:`letter_for_claims` and :func:`record_uses`: the claims write path reads a letter and
  links the stored claim to it in the same transaction (``referral_letter_uses``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.providers.models import Provider
from equicover.referrals.models import ReferralLetter, ReferralLetterUse
from equicover.registry.models import Person
from equicover.settlement.claims_file import ICD10_PATTERN, NOT_AN_ICD10_CODE

NUMBER_PREFIX = "R"
NUMBER_DIGITS = 10
# Refusal reasons of a claim's letter (field referral_letter).
UNKNOWN_LETTER = "no referral letter has this number"
ANOTHER_PATIENT = "the letter is for another patient"
CANCELLED = "the letter was cancelled"
BEFORE_LETTER = "the care is dated before the letter"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record(letter: ReferralLetter) -> str:
    return f"referral letter {letter.id}"


def _snapshot(letter: ReferralLetter) -> dict[str, object]:
    return {
        "person_id": letter.person_id,
        "from_provider_id": letter.from_provider_id,
        "to_level": letter.to_level,
        "to_provider_id": letter.to_provider_id,
        "issued_on": letter.issued_on,
        "status": letter.status,
        "counter_by_provider_id": letter.counter_by_provider_id,
        "counter_on": letter.counter_on,
    }


def _provider(session: Session, code: str, record: str, field: str) -> Provider:
    row = session.scalar(select(Provider).where(Provider.code == code))
    if row is None:
        raise ValidationFailed(record, field, "unknown provider")
    return row


def _unused_number(session: Session) -> str:
    while True:
        digits = 10 ** (NUMBER_DIGITS - 1) + secrets.randbelow(9 * 10 ** (NUMBER_DIGITS - 1))
        number = f"{NUMBER_PREFIX}{digits}"
        if session.scalar(select(ReferralLetter.id).where(ReferralLetter.number == number)) is None:
            return number


def issue_letter(
    *,
    session: Session,
    person_id: int,
    from_provider_code: str,
    diagnosis: str,
    reason: str,
    issued_on: dt.date,
    to_level: str | None = None,
    to_provider_code: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> ReferralLetter:
    """A referral letter from a facility, to a level or to a facility (exactly one)."""
    record = "referral letter"
    if (to_level is None) == (to_provider_code is None):
        raise ValidationFailed(record, "to", "name a level of care or a facility, not both")
    code = diagnosis.strip().upper()
    if not ICD10_PATTERN.match(code):
        raise ValidationFailed(record, "diagnosis", NOT_AN_ICD10_CODE)
    if not reason.strip():
        raise ValidationFailed(record, "reason", "required")
    person = session.get(Person, person_id)
    if person is None:
        raise ValidationFailed(record, "person_id", "unknown person")
    if person.merged_into_id is not None:
        raise ValidationFailed(record, "person_id", f"merged into person {person.merged_into_id}: use that record")
    if issued_on < person.birth_date or (person.death_date is not None and issued_on > person.death_date):
        raise ValidationFailed(record, "issued_on", "outside the person's lifetime")
    source = _provider(session, from_provider_code, record, "from_provider_code")
    destination = _provider(session, to_provider_code, record, "to_provider_code") if to_provider_code else None
    if destination is not None and destination.id == source.id:
        raise ValidationFailed(record, "to_provider_code", "a facility does not refer a patient to itself")
    now = _now()
    letter = ReferralLetter(
        number=_unused_number(session),
        person_id=person_id,
        from_provider_id=source.id,
        to_level=to_level,
        to_provider_id=destination.id if destination is not None else None,
        diagnosis=code,
        reason=reason.strip(),
        issued_on=issued_on,
        status="issued",
        issued_at=now,
        issued_by=actor,
    )
    session.add(letter)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="referral_letters",
        entity_id=letter.id,
        action="create",
        after=_snapshot(letter),
    )
    return letter


def get_letter(*, session: Session, number: str) -> ReferralLetter:
    letter = session.scalar(select(ReferralLetter).where(ReferralLetter.number == number.strip().upper()))
    if letter is None:
        raise NotFound("referral letter", "number", UNKNOWN_LETTER)
    return letter


def letter_by_id(*, session: Session, letter_id: int) -> ReferralLetter:
    letter = session.get(ReferralLetter, letter_id)
    if letter is None:
        raise NotFound(f"referral letter {letter_id}", "id", UNKNOWN_LETTER)
    return letter


def letter_of_claim(*, session: Session, claim_pk: int) -> int | None:
    """The id of the letter a stored claim carried, if it carried one."""
    return session.scalar(select(ReferralLetterUse.letter_id).where(ReferralLetterUse.claim_pk == claim_pk))


def letters_of(*, session: Session, person_id: int) -> list[ReferralLetter]:
    return list(
        session.scalars(
            select(ReferralLetter).where(ReferralLetter.person_id == person_id).order_by(ReferralLetter.issued_on)
        )
    )


def valid_until(letter: ReferralLetter, valid_days: int) -> dt.date:
    return letter.issued_on + dt.timedelta(days=valid_days - 1)


def letter_refusal(
    letter: ReferralLetter,
    *,
    person_id: int,
    provider_id: int,
    provider_level: str,
    service_date: dt.date,
    valid_days: int,
) -> str | None:
    """Why this letter does not refer this care, or None when it does."""
    if letter.person_id != person_id:
        return ANOTHER_PATIENT
    if letter.status == "cancelled":
        return CANCELLED
    if service_date < letter.issued_on:
        return BEFORE_LETTER
    last_day = valid_until(letter, valid_days)
    if service_date > last_day:
        return f"the letter was valid until {last_day.isoformat()}"
    if letter.counter_on is not None and service_date > letter.counter_on:
        return f"the patient was sent back on {letter.counter_on.isoformat()}"
    if letter.to_provider_id is not None and letter.to_provider_id != provider_id:
        return "the letter refers the patient to another facility"
    if letter.to_level is not None and letter.to_level != provider_level:
        return f"the letter refers the patient to level {letter.to_level}"
    return None


def counter_refer(
    *,
    session: Session,
    letter: ReferralLetter,
    by_provider_code: str,
    on: dt.date,
    note: str,
    actor: str = SYSTEM_ACTOR,
) -> ReferralLetter:
    """The facility that received the patient sends them back: the letter refers no care after ``on``."""
    record = _record(letter)
    if letter.status != "issued":
        raise Conflict(record, "status", f"a {letter.status.replace('_', '-')} letter cannot be counter-referred")
    receiver = _provider(session, by_provider_code, record, "by_provider_code")
    if letter.to_provider_id is not None and receiver.id != letter.to_provider_id:
        raise ValidationFailed(record, "by_provider_code", "the letter referred the patient to another facility")
    if letter.to_level is not None and receiver.level != letter.to_level:
        raise ValidationFailed(
            record, "by_provider_code", f"the letter referred the patient to level {letter.to_level}"
        )
    if on < letter.issued_on:
        raise ValidationFailed(record, "on", "before the letter was issued")
    if not note.strip():
        raise ValidationFailed(record, "note", "required")
    before = _snapshot(letter)
    letter.status = "counter_referred"
    letter.counter_by_provider_id = receiver.id
    letter.counter_on = on
    letter.counter_note = note.strip()
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="referral_letters",
        entity_id=letter.id,
        action="counter_refer",
        before=before,
        after=_snapshot(letter),
    )
    return letter


def claims_using(*, session: Session, letter_id: int) -> list[int]:
    """The stored claims (their ids) that carried the letter."""
    return list(
        session.scalars(
            select(ReferralLetterUse.claim_pk)
            .where(ReferralLetterUse.letter_id == letter_id)
            .order_by(ReferralLetterUse.claim_pk)
        )
    )


def cancel_letter(*, session: Session, letter: ReferralLetter, actor: str = SYSTEM_ACTOR) -> ReferralLetter:
    """Withdraw a letter issued by mistake; one that a claim used stays (the claim relied on it)."""
    record = _record(letter)
    if letter.status != "issued":
        raise Conflict(record, "status", f"a {letter.status.replace('_', '-')} letter cannot be cancelled")
    if claims_using(session=session, letter_id=letter.id):
        raise Conflict(record, "status", "a claim used this letter")
    before = _snapshot(letter)
    letter.status = "cancelled"
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="referral_letters",
        entity_id=letter.id,
        action="cancel",
        before=before,
        after=_snapshot(letter),
    )
    return letter


def letter_for_claims(connection: Connection, number: str) -> ReferralLetter | None:
    """The letter with this number, read on the claims write path's connection (not kept in a session)."""
    row = connection.execute(
        select(ReferralLetter.__table__).where(ReferralLetter.number == number.strip().upper())
    ).first()
    return ReferralLetter(**row._mapping) if row is not None else None


def record_uses(connection: Connection, uses: Sequence[tuple[int, int]]) -> None:
    """Link stored claims to the letters they carried: (claim id, letter id) pairs."""
    if uses:
        connection.execute(
            insert(ReferralLetterUse.__table__), [{"claim_pk": claim, "letter_id": letter} for claim, letter in uses]
        )


def move_letters(*, session: Session, from_person_id: int, to_person_id: int) -> list[int]:
    """Give a person's referral letters to another (a registry merge of duplicates): the survivor's
    claims may then carry them. Returns the ids moved; never commits; the merge records the change."""
    letters = list(session.scalars(select(ReferralLetter).where(ReferralLetter.person_id == from_person_id)))
    for letter in letters:
        letter.person_id = to_person_id
    session.flush()
    return [letter.id for letter in letters]
