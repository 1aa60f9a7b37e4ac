"""Grievances and appeals: the only door to ``grievance_cases`` and ``grievance_steps``.

- :func:`open_case`: a member or a provider complains about one record; the case takes its
  area and facility from that record, its handler role and deadline from the category
  (``deadlines.toml``).
- :func:`assign`, :func:`add_step`: a handler of the case's area takes it, notes and calls.
- :func:`decide`: a handler of the case's area (anyone else is refused) decides with reasons; an
  upheld decision acts in the same unit of work: a refund to the member through the claims'
  adjustments (``claims.adjustments.member_refund``), a category corrected in the registry
  (``registry.service.set_category``), a provider's verification finding reversed
  (``verification.service.reverse_finding``: its recoveries cancelled, or repaid in the next
  payment batch when a batch already netted them), a payment batch corrected by an amount in the
  provider's next batch (``payments.corrections.record_correction``). Each act is a step of the
  case and in the change log.
- :func:`appeal`: one appeal of a decided first-instance case, to the next level up (the
  district's province), with the appeal deadline.
- :func:`cases_query`: the cases a user may list, open or overdue, by area and facility.

The change log holds ids, categories, outcomes and dates, never the description, the reasons or
the complainant's contact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.scoping import sees_everything
from equicover.claims.adjustments import member_refund
from equicover.claims.models import Claim
from equicover.errors import Conflict, Forbidden, NotFound, ValidationFailed
from equicover.grievances.models import OUTCOMES, GrievanceCase, GrievanceStep
from equicover.grievances.rules import CategoryRule, grievance_rules
from equicover.payments import corrections as payment_corrections
from equicover.payments.models import PaymentBatch
from equicover.providers.models import Provider
from equicover.registry.models import Location, Person
from equicover.registry.scoping import area_location_ids
from equicover.registry.service import end_category, set_category
from equicover.verification import service as verification
from equicover.verification.models import ClaimReview

REFUND_CATEGORIES = ("refused_bill", "overcharged")
CATEGORY_CORRECTIONS = ("category_decision", "identification_decision")
FINDING_REVERSALS = ("verification_finding",)  # upheld: the finding is reversed
BATCH_CORRECTIONS = ("payment_batch",)
NOTE_KINDS = ("note", "call")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record(case: GrievanceCase) -> str:
    return f"grievance {case.id}"


def _rule(category: str, record: str) -> CategoryRule:
    rule = grievance_rules().categories.get(category)
    if rule is None:
        known = ", ".join(grievance_rules().categories)
        raise ValidationFailed(record, "category", f"unknown category (known: {known})")
    return rule


def _snapshot(case: GrievanceCase) -> dict[str, object]:
    return {
        "category": case.category,
        "subject": f"{case.subject_kind} {case.subject_id}",
        "location_id": case.location_id,
        "provider_id": case.provider_id,
        "handler_role": case.handler_role,
        "assigned_to": case.assigned_to,
        "level": case.level,
        "appeal_of_id": case.appeal_of_id,
        "status": case.status,
        "deadline": case.deadline,
        "outcome": case.outcome,
        "decided_on": case.decided_on,
    }


def _step(session: Session, case: GrievanceCase, kind: str, by: str, note: str | None = None) -> None:
    session.add(GrievanceStep(case_id=case.id, kind=kind, note=note, at=_now(), by=by))


@dataclass(frozen=True, slots=True)
class _Subject:
    location_id: int
    provider_id: int | None
    person_id: int | None  # the member the record is about, when it is a member's


def _subject(session: Session, kind: str, subject_id: int, record: str) -> _Subject:
    if kind == "person":
        person = session.get(Person, subject_id)
        if person is None:
            raise ValidationFailed(record, "subject_id", "unknown person")
        return _Subject(person.location_id, None, person.id)
    if kind == "claim":
        claim = session.get(Claim, subject_id)
        if claim is None:
            raise ValidationFailed(record, "subject_id", "unknown claim")
        provider_id, person_id = claim.provider_id, claim.person_id
    elif kind == "claim_review":
        review = session.get(ClaimReview, subject_id)
        if review is None:
            raise ValidationFailed(record, "subject_id", "unknown claim review")
        provider_id, person_id = review.provider_id, None
    else:
        batch = session.get(PaymentBatch, subject_id)
        if batch is None:
            raise ValidationFailed(record, "subject_id", "unknown payment batch")
        provider_id, person_id = batch.provider_id, None
    location_id = session.scalar(select(Provider.location_id).where(Provider.id == provider_id))
    assert location_id is not None
    return _Subject(location_id, provider_id, person_id)


def open_case(
    *,
    session: Session,
    category: str,
    subject_id: int,
    description: str,
    opened_on: dt.date,
    channel: str = "window",
    complainant_person_id: int | None = None,
    complainant_provider_code: str | None = None,
    complainant_contact: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> GrievanceCase:
    """Open a first-instance case about the record ``subject_id`` of the category's kind."""
    record = "grievance"
    rule = _rule(category, record)
    if channel not in ("window", "web", "phone"):
        raise ValidationFailed(record, "channel", "must be window, web or phone")
    if not description.strip():
        raise ValidationFailed(record, "description", "required")
    subject = _subject(session, rule.subject, subject_id, record)
    provider_id = None
    if rule.complainant == "member":
        if complainant_person_id is None or complainant_provider_code is not None:
            raise ValidationFailed(record, "complainant_person_id", f"a {category} case is a member's")
        if session.get(Person, complainant_person_id) is None:
            raise ValidationFailed(record, "complainant_person_id", "unknown person")
        if subject.person_id is not None and subject.person_id != complainant_person_id:
            raise ValidationFailed(record, "subject_id", "the record is another member's")
    else:
        if complainant_provider_code is None or complainant_person_id is not None:
            raise ValidationFailed(record, "complainant_provider_code", f"a {category} case is a provider's")
        provider_id = session.scalar(select(Provider.id).where(Provider.code == complainant_provider_code))
        if provider_id is None:
            raise ValidationFailed(record, "complainant_provider_code", "unknown provider")
        if provider_id != subject.provider_id:
            raise ValidationFailed(record, "subject_id", "the record is another provider's")
    case = GrievanceCase(
        category=category,
        complainant_kind=rule.complainant,
        complainant_person_id=complainant_person_id,
        complainant_provider_id=provider_id,
        complainant_contact=(complainant_contact or "").strip() or None,
        channel=channel,
        subject_kind=rule.subject,
        subject_id=subject_id,
        location_id=subject.location_id,
        provider_id=subject.provider_id,
        handler_role=rule.handler,
        assigned_to=None,
        level=1,
        appeal_of_id=None,
        description=description.strip(),
        opened_on=opened_on,
        deadline=opened_on + dt.timedelta(days=rule.days),
        status="open",
        opened_at=_now(),
        opened_by=actor,
    )
    session.add(case)
    session.flush()
    _step(session, case, "opened", actor)
    record_change(
        session=session, actor=actor, entity="grievance_cases", entity_id=case.id, action="create",
        after=_snapshot(case),
    )  # fmt: skip
    return case


def get_case(*, session: Session, case_id: int) -> GrievanceCase:
    case = session.get(GrievanceCase, case_id)
    if case is None:
        raise NotFound(f"grievance {case_id}", "id", "unknown case")
    return case


def _in_area(session: Session, user: User, location_id: int) -> bool:
    if user.location_id is None:
        return True
    inside = session.scalar(
        select(Location.id).where(Location.id == location_id, Location.id.in_(area_location_ids(user)))
    )
    return inside is not None


def handles(*, session: Session, user: User, case: GrievanceCase) -> bool:
    """Whether the user is one of the case's handlers: an admin, or the case's role in its area."""
    if not user.active:
        return False
    if user.role == Role.ADMIN:
        return True
    return user.role == case.handler_role and _in_area(session, user, case.location_id)


def _ensure_handler(session: Session, user: User, case: GrievanceCase, field: str) -> None:
    if user.role != case.handler_role and user.role != Role.ADMIN:
        raise Forbidden(_record(case), field, f"a {case.category} case is handled by a {case.handler_role}")
    if not handles(session=session, user=user, case=case):
        raise Forbidden(_record(case), field, "the case is outside your area")


def assign(*, session: Session, case: GrievanceCase, user: User, assignee: str) -> GrievanceCase:
    """A handler gives the case to a handler of its area (themselves included)."""
    _ensure_handler(session, user, case, "assigned_to")
    if case.status != "open":
        raise Conflict(_record(case), "status", "the case is decided")
    chosen = session.scalar(select(User).where(User.username == assignee))
    if chosen is None or not handles(session=session, user=chosen, case=case):
        raise ValidationFailed(_record(case), "assigned_to", "not a handler of this case's area and role")
    before = _snapshot(case)
    case.assigned_to = chosen.username
    session.flush()
    _step(session, case, "assigned", user.username, chosen.username)
    record_change(
        session=session, actor=user.username, entity="grievance_cases", entity_id=case.id, action="assign",
        before=before, after=_snapshot(case),
    )  # fmt: skip
    return case


def add_step(*, session: Session, case: GrievanceCase, user: User, kind: str, note: str) -> GrievanceStep:
    """A note or a telephone call on an open case, by one of its handlers."""
    _ensure_handler(session, user, case, "steps")
    if kind not in NOTE_KINDS:
        raise ValidationFailed(_record(case), "kind", "must be note or call")
    if case.status != "open":
        raise Conflict(_record(case), "status", "the case is decided")
    if not note.strip():
        raise ValidationFailed(_record(case), "note", "required")
    step = GrievanceStep(case_id=case.id, kind=kind, note=note.strip(), at=_now(), by=user.username)
    session.add(step)
    session.flush()
    return step


@dataclass(frozen=True, slots=True)
class Refund:
    amount: int  # minor units
    layer_id: str  # the policy layer that pays what the member no longer does


@dataclass(frozen=True, slots=True)
class CategoryCorrection:
    """The category the member holds from ``valid_from`` (to ``valid_to``, inclusive; None: open),
    and the category found wrong, ended the day before (``replaces``), when there is one."""

    category: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    replaces: str | None = None


@dataclass(frozen=True, slots=True)
class BatchCorrection:
    """What the provider is owed more (negative: less) than a contested batch paid, from a fund."""

    amount: int  # minor units
    fund_code: str


def _reverse_finding(session: Session, case: GrievanceCase, on: dt.date, actor: str) -> list[dict[str, object]]:
    """The finding of the case's review undone; what a batch already took back is repaid in the next."""
    recoveries = verification.recoveries_of(session=session, review_id=case.subject_id)
    batch_ids = {recovery.payment_batch_id for recovery in recoveries if recovery.payment_batch_id is not None}
    drafts = [
        batch_id
        for batch_id in sorted(batch_ids)
        if session.scalar(select(PaymentBatch.status).where(PaymentBatch.id == batch_id)) == "draft"
    ]
    reversed_ = verification.reverse_finding(
        session=session, review_id=case.subject_id, reason=f"grievance {case.id} upheld", on=on,
        draft_batch_ids=drafts, actor=actor,
    )  # fmt: skip
    acts: list[dict[str, object]] = []
    if reversed_.cancelled:
        acts.append({"amount": reversed_.cancelled, "note": f"review {case.subject_id}: recovery cancelled"})
    repaid: dict[str, int] = {}
    for fund, amount in reversed_.to_repay:
        repaid[fund] = repaid.get(fund, 0) + amount
    for fund, amount in sorted(repaid.items()):
        payment_corrections.record_correction(
            session=session, provider_id=reversed_.review.provider_id, fund_code=fund, amount=amount,
            source=f"grievance {case.id}", on=on, actor=actor, post_in_ledger=False,
        )  # fmt: skip
        acts.append({"amount": amount, "note": f"review {case.subject_id}: repaid in the next batch ({fund})"})
    return acts


def _act(
    session: Session,
    case: GrievanceCase,
    user: User,
    outcome: str,
    on: dt.date,
    refund: Refund | None,
    correction: CategoryCorrection | None,
    batch_correction: BatchCorrection | None,
) -> list[dict[str, object]]:
    """What an upheld decision does, each act as the fields of its step."""
    record = _record(case)
    acts: list[dict[str, object]] = []
    if refund is not None:
        lines = member_refund(
            session=session, claim_pk=case.subject_id, amount=refund.amount, layer_id=refund.layer_id,
            actor=user.username,
        )  # fmt: skip
        acts += [{"amount": line.amount, "claim_adjustment_id": line.id} for line in lines]
    if correction is not None:
        if correction.replaces is not None:
            try:
                ended = end_category(
                    session=session, person_id=case.subject_id, category=correction.replaces,
                    valid_to=correction.valid_from - dt.timedelta(days=1), actor=user.username,
                )  # fmt: skip
            except NotFound as missing:
                raise ValidationFailed(record, "replaces", missing.reason) from None
            acts.append({"person_category_id": ended.id, "note": f"{correction.replaces} ended"})
        held = set_category(
            session=session,
            person_id=case.subject_id,
            category=correction.category,
            valid_from=correction.valid_from,
            valid_to=correction.valid_to,
            source=f"grievance {case.id}",
            actor=user.username,
        )
        acts.append({"person_category_id": held.id})
    if outcome == "upheld" and case.category in FINDING_REVERSALS:
        acts += _reverse_finding(session, case, on, user.username)
    if batch_correction is not None:
        assert case.provider_id is not None  # a payment batch case is about its provider's batch
        contested = session.get(PaymentBatch, case.subject_id)
        assert contested is not None  # the case was opened on it
        owed = payment_corrections.record_correction(
            session=session, provider_id=case.provider_id, fund_code=batch_correction.fund_code,
            amount=batch_correction.amount, source=f"grievance {case.id}", on=on, actor=user.username,
            paid_in=(contested.currency, contested.minor_digits),
        )  # fmt: skip
        acts.append({"amount": owed.amount, "note": f"payment batch {case.subject_id}: corrected in the next batch"})

    return acts


def decide(
    *,
    session: Session,
    case: GrievanceCase,
    user: User,
    outcome: str,
    reasons: str,
    on: dt.date,
    refund: Refund | None = None,
    correction: CategoryCorrection | None = None,
    batch_correction: BatchCorrection | None = None,
) -> GrievanceCase:
    """Decide an open case with reasons; an upheld decision's act is done in the same unit of work.

    An upheld verification finding case reverses the finding; an upheld payment batch case needs
    the ``batch_correction`` the provider's next batch pays (a partly upheld one may give one)."""
    record = _record(case)
    _ensure_handler(session, user, case, "decision")
    if case.status != "open":
        raise Conflict(record, "status", "the case is decided")
    if outcome not in OUTCOMES:
        raise ValidationFailed(record, "outcome", f"must be one of {', '.join(OUTCOMES)}")
    if not reasons.strip():
        raise ValidationFailed(record, "reasons", "a decision gives its reasons")
    if on < case.opened_on:
        raise ValidationFailed(record, "on", "before the case was opened")
    if (refund is not None or correction is not None) and outcome == "rejected":
        raise ValidationFailed(record, "outcome", "a rejected case does not act")
    if refund is not None and case.category not in REFUND_CATEGORIES:
        raise ValidationFailed(record, "refund", f"a {case.category} case does not refund a bill")
    if correction is not None and case.category not in CATEGORY_CORRECTIONS:
        raise ValidationFailed(record, "category", f"a {case.category} case does not correct a category")
    if batch_correction is not None and case.category not in BATCH_CORRECTIONS:
        raise ValidationFailed(record, "batch_correction", f"a {case.category} case does not correct a payment batch")
    if batch_correction is not None and outcome == "rejected":
        raise ValidationFailed(record, "outcome", "a rejected case does not act")
    if case.category in BATCH_CORRECTIONS and outcome == "upheld" and batch_correction is None:
        raise ValidationFailed(record, "batch_correction", "an upheld payment batch case says what is owed")
    # The acts first, in a savepoint: one refused undoes those before it and leaves the case open.
    with session.begin_nested():
        acts = _act(session, case, user, outcome, on, refund, correction, batch_correction)
    before = _snapshot(case)
    case.status, case.outcome, case.decision_reasons = "decided", outcome, reasons.strip()
    case.decided_on, case.decided_by = on, user.username
    _step(session, case, "decided", user.username)
    session.add_all(GrievanceStep(case_id=case.id, kind="action", at=_now(), by=user.username, **act) for act in acts)
    session.flush()
    record_change(
        session=session, actor=user.username, entity="grievance_cases", entity_id=case.id, action="decide",
        before=before,
        after={**_snapshot(case), "refund": refund.amount if refund else None,
               "category": correction.category if correction else case.category,
               "acts": len(acts)},
    )  # fmt: skip
    return case


def _next_level_up(session: Session, location_id: int) -> int:
    """The province above a district or a commune; a province or the country stays where it is."""
    location = session.get(Location, location_id)
    assert location is not None
    if location.level in ("country", "province"):
        return location.id
    return location.province_id or location.id


def appeal(
    *, session: Session, case: GrievanceCase, description: str, on: dt.date, actor: str = SYSTEM_ACTOR
) -> GrievanceCase:
    """One appeal of a decided first-instance case, heard at the next level up."""
    record = _record(case)
    if case.level != 1:
        raise Conflict(record, "level", "an appeal's decision is final: one appeal only")
    if case.status != "decided":
        raise Conflict(record, "status", "only a decided case is appealed")
    if session.scalar(select(GrievanceCase.id).where(GrievanceCase.appeal_of_id == case.id)) is not None:
        raise Conflict(record, "appeal", "the case was appealed already: one appeal only")
    if not description.strip():
        raise ValidationFailed(record, "description", "required")
    assert case.decided_on is not None
    if on < case.decided_on:
        raise ValidationFailed(record, "on", "before the decision")
    appealed = GrievanceCase(
        category=case.category,
        complainant_kind=case.complainant_kind,
        complainant_person_id=case.complainant_person_id,
        complainant_provider_id=case.complainant_provider_id,
        complainant_contact=case.complainant_contact,
        channel=case.channel,
        subject_kind=case.subject_kind,
        subject_id=case.subject_id,
        location_id=_next_level_up(session, case.location_id),
        provider_id=case.provider_id,
        handler_role=case.handler_role,
        assigned_to=None,
        level=2,
        appeal_of_id=case.id,
        description=description.strip(),
        opened_on=on,
        deadline=on + dt.timedelta(days=grievance_rules().appeal_days),
        status="open",
        opened_at=_now(),
        opened_by=actor,
    )
    session.add(appealed)
    session.flush()
    _step(session, appealed, "opened", actor)
    _step(session, case, "appealed", actor, f"appeal {appealed.id}")
    record_change(
        session=session, actor=actor, entity="grievance_cases", entity_id=appealed.id, action="appeal",
        after=_snapshot(appealed),
    )  # fmt: skip
    return appealed


def steps_of(*, session: Session, case_id: int) -> list[GrievanceStep]:
    return list(
        session.scalars(select(GrievanceStep).where(GrievanceStep.case_id == case_id).order_by(GrievanceStep.id))
    )


def cases_filter(user: User) -> ColumnElement[bool]:
    """The cases a user may read: everything for an admin or a fund manager, the cases of its
    area for a registrar or a verifier, those about its own facility for a clerk."""
    if sees_everything(user):
        return true()
    if user.role == Role.CLERK:
        return GrievanceCase.provider_id == user.provider_id if user.provider_id is not None else false()
    return GrievanceCase.location_id.in_(area_location_ids(user))


def cases_query(
    *,
    user: User,
    today: dt.date,
    status: str | None = None,
    overdue: bool = False,
    area_ids: Sequence[int] | None = None,
    provider_id: int | None = None,
) -> Select[GrievanceCase]:
    """The visible cases matching the filters, the nearest deadline first; overdue: open past its deadline."""
    conditions: list[ColumnElement[bool]] = [cases_filter(user)]
    if status is not None:
        conditions.append(GrievanceCase.status == status)
    if overdue:
        conditions.append(and_(GrievanceCase.status == "open", GrievanceCase.deadline < today))
    if area_ids is not None:
        conditions.append(GrievanceCase.location_id.in_(area_ids))
    if provider_id is not None:
        conditions.append(GrievanceCase.provider_id == provider_id)
    return select(GrievanceCase).where(*conditions).order_by(GrievanceCase.deadline, GrievanceCase.id)


def move_cases(*, session: Session, from_person_id: int, to_person_id: int) -> list[int]:
    """Give a person's cases to another (a registry merge of duplicates): those they brought and
    those about their record. Returns the ids of the cases changed; never commits."""
    cases = list(
        session.scalars(
            select(GrievanceCase).where(
                or_(
                    GrievanceCase.complainant_person_id == from_person_id,
                    and_(GrievanceCase.subject_kind == "person", GrievanceCase.subject_id == from_person_id),
                )
            )
        )
    )
    for case in cases:
        if case.complainant_person_id == from_person_id:
            case.complainant_person_id = to_person_id
        if case.subject_kind == "person" and case.subject_id == from_person_id:
            case.subject_id = to_person_id
    session.flush()
    return [case.id for case in cases]
