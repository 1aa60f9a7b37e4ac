"""Member cards: the only door to ``member_cards``.

- :func:`issue_card`: a card for a person or a household (as the scheme's policy says, ``[card]
  per``; default a person), to a holder enrolled in the scheme on the issue date. It is valid
  from that date for the policy's ``[card] valid_days`` (default 365), never past the enrolment
  that covers it: renewal follows enrolment. One live card (issued, active or suspended, not yet
  past its validity) per holder and scheme; a card past its validity is marked expired when the
  next one is issued.
- :func:`set_status` moves a card along :data:`TRANSITIONS`; anything else is refused (409).
- :func:`replace_card`: a lost, damaged or stale card is replaced by a new number.
- :func:`verify_payload`: the signature and dates of a QR payload, then the card's stored status.
- :func:`suspend_unpaid`: the cards of vulnerable members whose own contribution is unpaid past
  the grace of ``suspension.toml`` are suspended, with the reason; those paid since are active
  again.
- :func:`cards_after_merge`: the live cards of a person merged into another are cancelled and the
  survivor keeps its card or gets one.

Every change is written to the change log (ids, dates and statuses, no names).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.cards import keys, payload
from equicover.cards.models import MemberCard
from equicover.cards.numbers import new_card_number, normalise, number_problem
from equicover.claims.service import policy_in_force
from equicover.claims.settle_and_store import loaded_policy
from equicover.enrolment.models import Contribution, Enrolment, Scheme
from equicover.enrolment.service import get_scheme
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.registry.models import STANDARD_CATEGORIES, Household, Location, Person, PersonCategory
from equicover.registry.service import holds_on
from equicover.settlement.model import DEFAULT_CARD_VALID_DAYS

LIVE_STATUSES = ("issued", "active", "suspended")
# Status -> the statuses a card may move to by set_status. "replaced" is reached by replace_card
# only (a new card is issued at the same time); "expired" only once the validity has passed.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "issued": ("active", "lost", "expired"),
    "active": ("suspended", "lost", "expired"),
    "suspended": ("active", "lost", "expired"),
    "lost": (),
    "replaced": (),
    "expired": (),
    "cancelled": (),
}
REPLACEABLE = ("issued", "active", "suspended", "lost", "expired")
# The category printed on a card: the first the holder holds in this order (the registry's own).
CATEGORY_ORDER = tuple(STANDARD_CATEGORIES)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record(card: MemberCard) -> str:
    return f"card {card.id}"


@dataclass(frozen=True, slots=True)
class CardRules:
    per: str
    valid_days: int


def card_rules(*, session: Session, scheme_id: int, on: dt.date) -> CardRules:
    """The scheme's ``[card]`` rules in force on ``on`` (the defaults without a stored policy)."""
    version = policy_in_force(session=session, scheme_id=scheme_id, on=on)
    if version is None:
        return CardRules("person", DEFAULT_CARD_VALID_DAYS)
    policy = loaded_policy(version)
    return CardRules(policy.card_per, policy.card_valid_days)


def _holder(card: MemberCard) -> str:
    return f"P{card.person_id}" if card.person_id is not None else f"H{card.household_id}"


def _first_category(held: set[str]) -> str | None:
    for code in CATEGORY_ORDER:
        if code in held:
            return code
    return min(held) if held else None


def _enrolled_until(session: Session, person_ids: list[int], scheme_id: int, on: dt.date) -> dt.date | None:
    return session.scalar(
        select(func.max(Enrolment.ends)).where(
            Enrolment.person_id.in_(person_ids),
            Enrolment.scheme_id == scheme_id,
            Enrolment.status == "active",
            Enrolment.starts <= on,
            Enrolment.ends >= on,
        )
    )


def _unused_number(session: Session) -> str:
    while True:
        number = new_card_number()
        if session.scalar(select(MemberCard.id).where(MemberCard.number == number)) is None:
            return number


def _live_card(session: Session, *, scheme_id: int, household_id: int, person_id: int | None) -> MemberCard | None:
    holder = MemberCard.person_id == person_id if person_id is not None else MemberCard.person_id.is_(None)
    return session.scalars(
        select(MemberCard)
        .where(
            MemberCard.scheme_id == scheme_id,
            MemberCard.household_id == household_id,
            holder,
            MemberCard.status.in_(LIVE_STATUSES),
        )
        .order_by(MemberCard.id.desc())
    ).first()


def _change(session: Session, card: MemberCard, actor: str, action: str, before: Mapping[str, object] | None) -> None:
    record_change(
        session=session,
        actor=actor,
        entity="member_cards",
        entity_id=card.id,
        action=action,
        before=before,
        after={
            "scheme_id": card.scheme_id,
            "holder": _holder(card),
            "status": card.status,
            "valid_from": card.valid_from,
            "valid_to": card.valid_to,
            "replaces_id": card.replaces_id,
            "status_reason": card.status_reason,
        },
    )


def issue_card(
    *,
    session: Session,
    scheme_code: str,
    on: dt.date,
    person_id: int | None = None,
    household_id: int | None = None,
    actor: str = SYSTEM_ACTOR,
    key_directory: Path | None = None,
    replaces: MemberCard | None = None,
) -> MemberCard:
    """Issue a card to a person or a household (exactly one given) enrolled in the scheme on ``on``."""
    scheme = get_scheme(session=session, code=scheme_code)
    rules = card_rules(session=session, scheme_id=scheme.id, on=on)
    if (person_id is None) == (household_id is None):
        raise ValidationFailed("card", "holder", "give a person or a household, not both")
    if person_id is not None:
        record = f"person {person_id}"
        if rules.per != "person":
            raise ValidationFailed(record, "person_id", f"scheme {scheme.code} issues cards per household")
        person = session.get(Person, person_id)
        if person is None:
            raise NotFound(record, "person_id", "unknown person")
        if person.merged_into_id is not None:
            raise ValidationFailed(record, "person_id", f"merged into person {person.merged_into_id}: use that record")
        if person.death_date is not None and person.death_date <= on:
            raise ValidationFailed(record, "person_id", "deceased")
        members = [person_id]
        home = person.household_id
    else:
        assert household_id is not None
        record = f"household {household_id}"
        if rules.per != "household":
            raise ValidationFailed(record, "household_id", f"scheme {scheme.code} issues cards per person")
        if session.get(Household, household_id) is None:
            raise NotFound(record, "household_id", "unknown household")
        members = list(
            session.scalars(
                select(Person.id).where(
                    Person.household_id == household_id,
                    Person.merged_into_id.is_(None),
                    or_(Person.death_date.is_(None), Person.death_date > on),
                )
            )
        )
        home = household_id
    enrolled_until = _enrolled_until(session, members, scheme.id, on) if members else None
    if enrolled_until is None:
        raise ValidationFailed(record, "enrolment", f"not enrolled in scheme {scheme.code} on {on.isoformat()}")
    live = _live_card(session, scheme_id=scheme.id, household_id=home, person_id=person_id)
    if live is not None and live is not replaces:
        if live.valid_to >= on:
            raise Conflict(record, "card", f"already holds card {live.id} ({live.status}): replace it instead")
        before = {"status": live.status}
        live.status = "expired"
        live.status_changed_at = _now()
        _change(session, live, actor, "expire", before)
    held = set(
        session.scalars(select(PersonCategory.category).where(PersonCategory.person_id.in_(members), *holds_on(on)))
    )
    signing_key = keys.scheme_key(scheme.code, key_directory)
    now = _now()
    card = MemberCard(
        number=_unused_number(session),
        scheme_id=scheme.id,
        holder_kind="person" if person_id is not None else "household",
        person_id=person_id,
        household_id=home,
        category=_first_category(held),
        valid_from=on,
        valid_to=min(on + dt.timedelta(days=rules.valid_days - 1), enrolled_until),
        status="issued",
        key_id=signing_key.key_id,
        replaces_id=replaces.id if replaces is not None else None,
        issued_at=now,
        issued_by=actor,
        status_changed_at=now,
    )
    session.add(card)
    session.flush()
    _change(session, card, actor, "create", None)
    return card


def get_card(*, session: Session, number: str) -> MemberCard:
    """The card with this number: 422 for a mistyped number (check digits), 404 for an unknown one."""
    problem = number_problem(number)
    if problem is not None:
        raise ValidationFailed("card", "number", problem)
    card = session.scalar(select(MemberCard).where(MemberCard.number == normalise(number)))
    if card is None:
        raise NotFound("card", "number", "no card has this number")
    return card


def set_status(
    *,
    session: Session,
    card: MemberCard,
    status: str,
    on: dt.date,
    actor: str = SYSTEM_ACTOR,
    reason: str | None = None,
) -> MemberCard:
    """Move the card to ``status`` if :data:`TRANSITIONS` allows it (409 otherwise); ``reason``
    (no personal data) says why, for the window; a new status without one clears the old reason."""
    record = _record(card)
    if status not in TRANSITIONS:
        raise ValidationFailed(record, "status", f"must be one of {', '.join(TRANSITIONS)}")
    if status == card.status:
        return card
    if status == "replaced":
        raise Conflict(record, "status", "a card is replaced by issuing its replacement")
    if status not in TRANSITIONS[card.status]:
        raise Conflict(record, "status", f"a {card.status} card cannot become {status}")
    if status == "expired" and card.valid_to >= on:
        raise Conflict(record, "status", f"valid until {card.valid_to.isoformat()}: not expired yet")
    before = {"status": card.status, "status_reason": card.status_reason}
    card.status = status
    card.status_reason = reason.strip()[:200] if reason and reason.strip() else None
    card.status_changed_at = _now()
    session.flush()
    _change(session, card, actor, "update", before)
    return card


def replace_card(
    *, session: Session, card: MemberCard, on: dt.date, actor: str = SYSTEM_ACTOR, key_directory: Path | None = None
) -> MemberCard:
    """A new card for the same holder and scheme; the old one becomes ``replaced``."""
    record = _record(card)
    if card.status not in REPLACEABLE:
        raise Conflict(record, "status", f"a {card.status} card cannot be replaced")
    scheme_code = session.scalar(select(Scheme.code).where(Scheme.id == card.scheme_id))
    assert scheme_code is not None
    before = {"status": card.status}
    card.status = "replaced"
    card.status_changed_at = _now()
    session.flush()
    _change(session, card, actor, "replace", before)
    return issue_card(
        session=session,
        scheme_code=scheme_code,
        on=on,
        person_id=card.person_id,
        household_id=card.household_id if card.person_id is None else None,
        actor=actor,
        key_directory=key_directory,
        replaces=card,
    )


def scheme_code_of(*, session: Session, card: MemberCard) -> str:
    code = session.scalar(select(Scheme.code).where(Scheme.id == card.scheme_id))
    assert code is not None
    return code


def payload_of(*, session: Session, card: MemberCard, key_directory: Path | None = None) -> str:
    """The signed QR payload of a card (signing is deterministic: the same card, the same text)."""
    scheme_code = scheme_code_of(session=session, card=card)
    signing_key = keys.scheme_key(scheme_code, key_directory)
    if signing_key.key_id != card.key_id:
        raise Conflict(_record(card), "key_id", "the scheme's key changed since issue: replace the card")
    face = payload.CardFace(
        key_id=card.key_id,
        number=card.number,
        holder=_holder(card),
        scheme=scheme_code,
        category=card.category or "",
        valid_from=card.valid_from,
        valid_to=card.valid_to,
    )
    return payload.sign(face, signing_key.private_key)


def published_key(scheme_code: str, key_id: str, key_directory: Path | None = None) -> Ed25519PublicKey | None:
    """The scheme's public key if it has one with this id; never creates a key for an unknown scheme."""
    try:
        path = keys.key_path(scheme_code, key_directory)
    except ValidationFailed:
        return None
    if not path.exists():
        return None
    found = keys.scheme_key(scheme_code, key_directory)
    return found.public_key if found.key_id == key_id else None


@dataclass(frozen=True, slots=True)
class Verification:
    check: payload.CardCheck
    card: MemberCard | None  # the stored card the payload names, when the signature holds


def verify_payload(*, session: Session, text: str, on: dt.date, key_directory: Path | None = None) -> Verification:
    """The offline check of the payload, then what the register says of the card: a lost,
    suspended, replaced or expired card is refused even with a good signature."""
    check = payload.verify(
        text, on=on, public_key_of=lambda scheme, key_id: published_key(scheme, key_id, key_directory)
    )
    if check.face is None:
        return Verification(check, None)
    card = session.scalar(select(MemberCard).where(MemberCard.number == check.face.number))
    if card is None:
        return Verification(payload.CardCheck("invalid", "signed, but no card with this number is registered"), None)
    if check.verdict == "valid" and card.status not in ("issued", "active"):
        return Verification(payload.CardCheck("invalid", f"the card is {card.status}", check.face), card)
    return Verification(check, card)


def card_number_for(*, session: Session, person_id: int, scheme_id: int, on: dt.date) -> str | None:
    """The number of the live card that covers the person in the scheme on ``on`` or later (a card
    issued during an enrolment names the whole enrolment): their own, else their household's (a
    suspended card still names them: the counter refuses it)."""
    household_id = session.scalar(select(Person.household_id).where(Person.id == person_id))
    if household_id is None:
        return None
    return session.scalar(
        select(MemberCard.number)
        .where(
            MemberCard.scheme_id == scheme_id,
            or_(
                MemberCard.person_id == person_id,
                (MemberCard.person_id.is_(None)) & (MemberCard.household_id == household_id),
            ),
            MemberCard.status.in_(LIVE_STATUSES),
            MemberCard.valid_to >= on,
        )
        .order_by(MemberCard.person_id.is_(None), MemberCard.id.desc())
        .limit(1)
    )


def holders_of(*, session: Session, number: str) -> tuple[int, list[int]] | None:
    """The scheme and the persons a card number stands for (a household card: its members not
    merged away); None for a number no card has (or one mistyped)."""
    if number_problem(number) is not None:
        return None
    card = session.scalar(select(MemberCard).where(MemberCard.number == normalise(number)))
    if card is None:
        return None
    if card.person_id is not None:
        return card.scheme_id, [card.person_id]
    members = session.scalars(
        select(Person.id)
        .where(Person.household_id == card.household_id, Person.merged_into_id.is_(None))
        .order_by(Person.id)
    )
    return card.scheme_id, list(members)


def cards_to_issue(*, session: Session, area_code: str, scheme_code: str, on: dt.date) -> list[tuple[str, int]]:
    """The holders in the area (and below) enrolled in the scheme on ``on`` without a live card
    valid that day, as (``person`` or ``household``, id), in id order."""
    scheme = get_scheme(session=session, code=scheme_code)
    area = session.scalar(select(Location).where(Location.code == area_code))
    if area is None:
        raise NotFound(f"location {area_code}", "area", "unknown location")
    in_area = select(Location.id).where(
        or_(Location.id == area.id, Location.province_id == area.id, Location.district_id == area.id)
    )
    enrolled = (
        select(Person.id, Person.household_id)
        .join(Enrolment, Enrolment.person_id == Person.id)
        .where(
            Person.location_id.in_(in_area),
            Person.merged_into_id.is_(None),
            or_(Person.death_date.is_(None), Person.death_date > on),
            Enrolment.scheme_id == scheme.id,
            Enrolment.status == "active",
            Enrolment.starts <= on,
            Enrolment.ends >= on,
        )
        .distinct()
    )
    live = select(MemberCard.person_id, MemberCard.household_id).where(
        MemberCard.scheme_id == scheme.id, MemberCard.status.in_(LIVE_STATUSES), MemberCard.valid_to >= on
    )
    carded_persons = {person for person, _ in session.execute(live) if person is not None}
    carded_households = {household for person, household in session.execute(live) if person is None}
    rows = session.execute(enrolled.order_by(Person.id)).all()
    if card_rules(session=session, scheme_id=scheme.id, on=on).per == "household":
        households = sorted({household for _, household in rows} - carded_households)
        return [("household", household) for household in households]
    return [("person", person) for person, _ in rows if person not in carded_persons]


def issue_for_area(
    *,
    session: Session,
    area_code: str,
    scheme_code: str,
    on: dt.date,
    actor: str = SYSTEM_ACTOR,
    key_directory: Path | None = None,
) -> list[MemberCard]:
    """Issue a card to every holder of the area who needs one (see :func:`cards_to_issue`)."""
    return [
        issue_card(
            session=session,
            scheme_code=scheme_code,
            on=on,
            person_id=holder_id if kind == "person" else None,
            household_id=holder_id if kind == "household" else None,
            actor=actor,
            key_directory=key_directory,
        )
        for kind, holder_id in cards_to_issue(session=session, area_code=area_code, scheme_code=scheme_code, on=on)
    ]


@dataclass(frozen=True, slots=True)
class PrintedCard:
    """What a card sheet prints for one card."""

    number: str
    holder_name: str
    household_code: str
    scheme_code: str
    scheme_name: str
    category: str | None
    valid_from: dt.date
    valid_to: dt.date
    payload: str


def printed_cards(*, session: Session, cards: list[MemberCard], key_directory: Path | None = None) -> list[PrintedCard]:
    """The faces of cards to print: a person's card shows their name, a household's its first member's."""
    printed = []
    for card in cards:
        scheme = session.get(Scheme, card.scheme_id)
        household = session.get(Household, card.household_id)
        assert scheme is not None and household is not None
        if card.person_id is not None:
            name = session.scalar(select(Person.full_name).where(Person.id == card.person_id))
        else:
            name = session.scalar(
                select(Person.full_name).where(Person.household_id == card.household_id).order_by(Person.id).limit(1)
            )
        printed.append(
            PrintedCard(
                number=card.number,
                holder_name=name or "",
                household_code=household.code,
                scheme_code=scheme.code,
                scheme_name=scheme.name,
                category=card.category,
                valid_from=card.valid_from,
                valid_to=card.valid_to,
                payload=payload_of(session=session, card=card, key_directory=key_directory),
            )
        )
    return printed


# --------------------------------------------------------------------------------------------
# Suspension for an unpaid contribution

SUSPENSION_FILE = Path(__file__).with_name("suspension.toml")
UNPAID = "unpaid_contribution"  # the reason code of a suspension this module lifts by itself


@dataclass(frozen=True, slots=True)
class SuspensionRules:
    grace_days: int
    categories: tuple[str, ...]
    payer_kinds: tuple[str, ...]


@cache
def suspension_rules(path: Path = SUSPENSION_FILE) -> SuspensionRules:
    """The rules of the file, checked: a broken file stops the command, not a card."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    rules = SuspensionRules(int(document["grace_days"]), tuple(document["categories"]), tuple(document["payer_kinds"]))
    if not 1 <= rules.grace_days <= 366 or not rules.categories or not rules.payer_kinds:
        raise ValueError(f"{path.name}: grace_days out of range, or no category or payer kind")
    return rules


def _unpaid_since(
    session: Session, on: dt.date, rules: SuspensionRules, among: list[int] | None = None
) -> dict[tuple[int, int], dt.date]:
    """(person, scheme) -> the oldest period start of the person's own contribution still due past
    the grace on ``on``, for members holding one of the rules' categories that day (only the
    persons ``among``, when given)."""
    late = on - dt.timedelta(days=rules.grace_days)
    vulnerable = select(PersonCategory.person_id).where(PersonCategory.category.in_(rules.categories), *holds_on(on))
    query = (
        select(Enrolment.person_id, Enrolment.scheme_id, func.min(Contribution.period_starts))
        .join(Contribution, Contribution.enrolment_id == Enrolment.id)
        .where(
            Contribution.status == "due",
            Contribution.payer_kind.in_(rules.payer_kinds),
            Contribution.amount_minor > 0,
            Contribution.period_starts < late,
            Enrolment.status == "active",
            Enrolment.person_id.in_(vulnerable),
        )
        .group_by(Enrolment.person_id, Enrolment.scheme_id)
    )
    if among is not None:
        query = query.where(Enrolment.person_id.in_(among))
    rows = session.execute(query).all()
    return {(person, scheme): since for person, scheme, since in rows}


@dataclass(frozen=True, slots=True)
class SuspensionRun:
    suspended: list[int]  # card ids
    reactivated: list[int]


def suspend_unpaid(
    *, session: Session, on: dt.date, actor: str = SYSTEM_ACTOR, person_id: int | None = None
) -> SuspensionRun:
    """Suspend the live cards whose holder (a person, or a member of the household) owes their own
    contribution past the grace (``suspension.toml``), with the reason; make active again the cards
    this suspended whose contributions are paid (or waived) since. Run it again: nothing changes.

    With ``person_id``, only the cards that person's contributions bear on: their own card and
    their household's card (judged on every member of the household). A shell that records a
    contribution calls it so, in the same unit of work, and the member's card follows the payment
    at once instead of waiting for the next run."""
    rules = suspension_rules()
    scope: list[int] | None = None
    home: int | None = None
    if person_id is not None:
        home = session.scalar(select(Person.household_id).where(Person.id == person_id))
        if home is None:
            raise NotFound(f"person {person_id}", "person_id", "unknown person")
        scope = list(session.scalars(select(Person.id).where(Person.household_id == home)))
    unpaid = _unpaid_since(session, on, rules, scope)
    households: dict[tuple[int, int], dt.date] = {}
    if unpaid:
        homes = dict(
            session.execute(
                select(Person.id, Person.household_id).where(Person.id.in_({person for person, _ in unpaid}))
            ).all()
        )
        for (person, scheme), owed_since in unpaid.items():
            key = (homes[person], scheme)
            households[key] = min(owed_since, households.get(key, owed_since))
    suspended: list[int] = []
    reactivated: list[int] = []
    cards = list(
        session.scalars(
            select(MemberCard)
            .where(
                MemberCard.status.in_(LIVE_STATUSES),
                MemberCard.valid_to >= on,
                true()
                if person_id is None
                else or_(
                    MemberCard.person_id == person_id,
                    and_(MemberCard.person_id.is_(None), MemberCard.household_id == home),
                ),
            )
            .order_by(MemberCard.id)
        )
    )
    for card in cards:
        since: dt.date | None = None
        if card.person_id is not None:
            since = unpaid.get((card.person_id, card.scheme_id))
        else:
            since = households.get((card.household_id, card.scheme_id))
        before = {"status": card.status, "status_reason": card.status_reason}
        if since is not None and card.status in ("issued", "active"):
            card.status = "suspended"
            card.status_reason = f"{UNPAID}: due since {since.isoformat()}"
            suspended.append(card.id)
        elif since is None and card.status == "suspended" and (card.status_reason or "").startswith(UNPAID):
            card.status = "active"
            card.status_reason = None
            reactivated.append(card.id)
        else:
            continue
        card.status_changed_at = _now()
        _change(session, card, actor, "update", before)
    session.flush()
    return SuspensionRun(suspended, reactivated)


# --------------------------------------------------------------------------------------------
# Cards after a merge of duplicates


@dataclass(frozen=True, slots=True)
class MergedCards:
    cancelled: list[int]  # the merged-away person's cards
    issued: list[int]  # cards given to the survivor in their place


def cards_after_merge(
    *,
    session: Session,
    from_person_id: int,
    to_person_id: int,
    on: dt.date,
    actor: str = SYSTEM_ACTOR,
    key_directory: Path | None = None,
) -> MergedCards:
    """The merged-away person's live person cards are cancelled (the record no longer stands for
    anyone); for each scheme of those cards the survivor keeps its live card or, when enrolled in
    the scheme on ``on``, is issued one. A household card stays with its household. Never commits;
    call it once the enrolments have moved to the survivor."""
    cancelled: list[int] = []
    issued: list[int] = []
    cards = list(
        session.scalars(
            select(MemberCard)
            .where(MemberCard.person_id == from_person_id, MemberCard.status.in_(LIVE_STATUSES))
            .order_by(MemberCard.id)
        )
    )
    for card in cards:
        before = {"status": card.status, "status_reason": card.status_reason}
        card.status = "cancelled"
        card.status_reason = f"merged into person {to_person_id}"
        card.status_changed_at = _now()
        cancelled.append(card.id)
        session.flush()
        _change(session, card, actor, "cancel", before)
    survivor = session.get(Person, to_person_id)
    if survivor is None:
        raise NotFound(f"person {to_person_id}", "survivor_id", "unknown person")
    for scheme_id in sorted({card.scheme_id for card in cards}):
        live = _live_card(session, scheme_id=scheme_id, household_id=survivor.household_id, person_id=survivor.id)
        if live is not None and live.valid_to >= on:
            continue
        if _enrolled_until(session, [survivor.id], scheme_id, on) is None:
            continue  # not covered by the scheme: no card to give
        scheme_code = session.scalar(select(Scheme.code).where(Scheme.id == scheme_id))
        assert scheme_code is not None
        if card_rules(session=session, scheme_id=scheme_id, on=on).per != "person":
            continue
        card = issue_card(
            session=session, scheme_code=scheme_code, on=on, person_id=survivor.id, actor=actor,
            key_directory=key_directory,
        )  # fmt: skip
        issued.append(card.id)
    return MergedCards(cancelled, issued)
