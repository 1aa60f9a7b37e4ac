"""The claims service: policy versions, eligibility, real-time settlement, reversal, reports.

The only door to ``policy_versions``, ``claims``, ``claim_payments``, ``accumulators`` and
``claim_accumulator_deltas``. Keyword-only functions, never commit.

Settling claims (:func:`submit_claim`, :func:`submit_claims`) lives in
:mod:`equicover.claims.settle_and_store` and is exported from here; its docstring says how a claim is
settled, locked, made idempotent and written.

Reversal (:func:`reverse_claim`) takes the claim's deltas back out of the accumulators under
the same member lock; the accumulators again equal the sum over the member's settled claims.
Adjustments (:mod:`equicover.claims.adjustments`, exported from here): the member's claims that
arrived after a reversed one are settled again (:func:`resettle_later_claims`), a year is
reconciled in service-date order (:func:`reconcile_year`); differences are ``claim_adjustments``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.claims.adjustments import MEMBER as MEMBER
from equicover.claims.adjustments import Reconciliation as Reconciliation
from equicover.claims.adjustments import adjustments_of as adjustments_of
from equicover.claims.adjustments import current_amounts as current_amounts
from equicover.claims.adjustments import engine_claim as engine_claim
from equicover.claims.adjustments import reconcile_year as reconcile_year
from equicover.claims.adjustments import resettle_later_claims as resettle_later_claims
from equicover.claims.adjustments import reversal_adjustments as reversal_adjustments
from equicover.claims.deltas import ClaimAccumulatorDelta
from equicover.claims.models import Claim, ClaimPayment, PolicyVersion, StoredAccumulator
from equicover.claims.schemas import EligibilityOut, LayerEligibility, SchemeEligibility

# Settling is the service's: re-exported (`name as name`), callers import it from here.
from equicover.claims.settle_and_store import ALLOWANCE_PAYER as ALLOWANCE_PAYER
from equicover.claims.settle_and_store import NO_POLICY_ON_DATE as NO_POLICY_ON_DATE
from equicover.claims.settle_and_store import SERVICE_DATE_AFTER_TODAY as SERVICE_DATE_AFTER_TODAY
from equicover.claims.settle_and_store import ZERO_NO_CONTRACT as ZERO_NO_CONTRACT
from equicover.claims.settle_and_store import ZERO_NO_POLICY as ZERO_NO_POLICY
from equicover.claims.settle_and_store import ZERO_NOT_COVERED as ZERO_NOT_COVERED
from equicover.claims.settle_and_store import ZERO_SERVICE_NOT_DESIGNATED as ZERO_SERVICE_NOT_DESIGNATED
from equicover.claims.settle_and_store import ClaimSubmission as ClaimSubmission
from equicover.claims.settle_and_store import ConcurrentClaimIds as ConcurrentClaimIds
from equicover.claims.settle_and_store import DatabaseAccumulatorStore as DatabaseAccumulatorStore
from equicover.claims.settle_and_store import SettledClaim as SettledClaim
from equicover.claims.settle_and_store import SettledPayment as SettledPayment
from equicover.claims.settle_and_store import SubmitResult as SubmitResult
from equicover.claims.settle_and_store import _stored_claim
from equicover.claims.settle_and_store import loaded_policy as loaded_policy
from equicover.claims.settle_and_store import submit_claim as submit_claim
from equicover.claims.settle_and_store import submit_claims as submit_claims
from equicover.enrolment.models import Enrolment, Scheme
from equicover.errors import Conflict, Forbidden, NotFound, ValidationFailed
from equicover.providers.models import Contract, Provider
from equicover.registry.models import Location, Person
from equicover.registry.service import categories_at
from equicover.settlement.loader import load_policy_text
from equicover.settlement.model import DEFAULT_REFERRAL_LETTER_VALID_DAYS


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------------------------
# Policy versions


def _overlaps(start: dt.date, end: dt.date | None) -> ColumnElement[bool]:
    return and_(
        PolicyVersion.effective_from <= (end or dt.date.max),
        or_(PolicyVersion.effective_to.is_(None), PolicyVersion.effective_to >= start),
    )


def store_policy_version(
    *, session: Session, source_text: str, scheme_code: str, actor: str = SYSTEM_ACTOR
) -> PolicyVersion:
    """Validate a policy file with the loader and store it as a version of its policy for a scheme.

    Refused: a file the loader rejects (422, every problem listed), an unknown scheme, a currency
    other than the scheme's, a period overlapping another version of the same policy id or
    another policy attached to the same scheme (409): one set of rules per scheme and day.
    """
    policy = load_policy_text(source_text, path="uploaded policy")
    record = f"policy {policy.id}"
    scheme = session.scalar(select(Scheme).where(Scheme.code == scheme_code))
    if scheme is None:
        raise ValidationFailed(record, "scheme_code", "unknown scheme")
    if scheme.currency != policy.currency:
        raise ValidationFailed(record, "currency", f"is {policy.currency}, the scheme pays in {scheme.currency}")
    if scheme.minor_digits != policy.minor_digits:
        # Contributions are kept in the scheme's digits and claims in the policy's: one fund
        # cannot hold both.
        raise ValidationFailed(
            record,
            "minor_digits",
            f"the policy counts {policy.currency} in {policy.minor_digits} minor digits, "
            f"the scheme in {scheme.minor_digits}",
        )
    clash = session.scalars(
        select(PolicyVersion)
        .where(
            or_(PolicyVersion.policy_id == policy.id, PolicyVersion.scheme_id == scheme.id),
            _overlaps(policy.effective_from, policy.effective_to),
        )
        .order_by(PolicyVersion.effective_from)
    ).first()
    if clash is not None:
        end = clash.effective_to.isoformat() if clash.effective_to else "open"
        raise Conflict(
            record,
            "effective_from",
            f"the period overlaps stored version {clash.id} of policy {clash.policy_id} "
            f"({clash.effective_from.isoformat()} to {end}); one set of rules per scheme and day",
        )
    row = PolicyVersion(
        policy_id=policy.id,
        name=policy.name,
        currency=policy.currency,
        minor_digits=policy.minor_digits,
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
        scheme_id=scheme.id,
        source_text=source_text,
        sha256=hashlib.sha256(source_text.encode("utf-8")).hexdigest(),
        uploaded_at=_now(),
        uploaded_by=actor,
    )
    session.add(row)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="policy_versions",
        entity_id=row.id,
        action="create",
        after={
            "policy_id": row.policy_id,
            "scheme_id": scheme.id,
            "effective_from": row.effective_from,
            "effective_to": row.effective_to,
            "sha256": row.sha256,
        },
    )
    return row


def list_policy_versions(
    *, session: Session, policy_id: str | None = None, scheme_code: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[PolicyVersion], int]:
    conditions: list[Any] = []
    if policy_id is not None:
        conditions.append(PolicyVersion.policy_id == policy_id)
    if scheme_code is not None:
        conditions.append(PolicyVersion.scheme_id.in_(select(Scheme.id).where(Scheme.code == scheme_code)))
    total = session.scalar(select(func.count(PolicyVersion.id)).where(*conditions)) or 0
    rows = session.scalars(
        select(PolicyVersion)
        .where(*conditions)
        .order_by(PolicyVersion.policy_id, PolicyVersion.effective_from)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def get_policy_version(*, session: Session, version_id: int) -> PolicyVersion:
    row = session.get(PolicyVersion, version_id)
    if row is None:
        raise NotFound(f"policy version {version_id}", "id", "unknown policy version")
    return row


def policy_in_force(*, session: Session, scheme_id: int, on: dt.date) -> PolicyVersion | None:
    """The version of the scheme's policy in force on ``on`` (at most one: uploads refuse overlaps)."""
    return session.scalars(
        select(PolicyVersion)
        .where(
            PolicyVersion.scheme_id == scheme_id,
            PolicyVersion.effective_from <= on,
            or_(PolicyVersion.effective_to.is_(None), PolicyVersion.effective_to >= on),
        )
        .order_by(PolicyVersion.effective_from.desc())
    ).first()


def money_in_force(
    *, session: Session, starts: dt.date, ends: dt.date, scheme_ids: Sequence[int] | None = None
) -> list[tuple[str, int]]:
    """The (currency, minor digits) of the stored policy versions in force some day of
    ``starts``..``ends`` (of ``scheme_ids`` only, if given), each pair once, in currency order."""
    query = select(PolicyVersion.currency, PolicyVersion.minor_digits).where(_overlaps(starts, ends))
    if scheme_ids is not None:
        query = query.where(PolicyVersion.scheme_id.in_(scheme_ids))
    return sorted({(currency, int(digits)) for currency, digits in session.execute(query).all()})


def money_of_version(*, session: Session, version_id: int | None, record: str) -> tuple[str, int]:
    """The currency and minor digits a claim's amounts are counted in: its policy version's.

    A claim settled under no version (nothing covered it) has no currency of its own: refused
    (409) rather than printed in a guessed unit."""
    row = None
    if version_id is not None:
        row = session.execute(
            select(PolicyVersion.currency, PolicyVersion.minor_digits).where(PolicyVersion.id == version_id)
        ).first()
    if row is None:
        raise Conflict(record, "policy_version_id", "settled under no policy: its amounts have no currency")
    return str(row[0]), int(row[1])


def money_of_claim(*, session: Session, claim: Claim) -> tuple[str, int] | None:
    """The currency and minor digits of a stored claim's amounts: its policy version's; for a
    claim nothing covered (no version), those of a scheme the person was enrolled in, else of a
    scheme the provider has a contract with (lowest ids: a stable answer); None if neither."""
    if claim.policy_version_id is not None:
        return money_of_version(session=session, version_id=claim.policy_version_id, record=f"claim {claim.id}")
    for scheme_ids in (
        select(Enrolment.scheme_id).where(Enrolment.person_id == claim.person_id),
        select(Contract.scheme_id).where(Contract.provider_id == claim.provider_id),
    ):
        row = session.execute(
            select(Scheme.currency, Scheme.minor_digits).where(Scheme.id.in_(scheme_ids)).order_by(Scheme.id).limit(1)
        ).first()
        if row is not None:
            return str(row[0]), int(row[1])
    return None


# --------------------------------------------------------------------------------------------
# Accumulators in the database


def move_claims(*, session: Session, from_person_id: int, to_person_id: int) -> list[int]:
    """Give a person's stored claims to another, for a merge of duplicates; the claim row ids moved.

    What each claim added to the accumulators moves with it (:func:`merge_accumulators` adds the
    amounts themselves), so that reversing it takes them out of the accumulators that now hold them."""
    moved = list(session.scalars(select(Claim.id).where(Claim.person_id == from_person_id).order_by(Claim.id)))
    if moved:
        session.execute(update(Claim).where(Claim.id.in_(moved)).values(person_id=to_person_id))
        session.execute(
            update(ClaimAccumulatorDelta)
            .where(ClaimAccumulatorDelta.claim_pk.in_(moved))
            .values(member_id=str(to_person_id))
        )
    return moved


def merge_accumulators(*, session: Session, from_member_id: str, to_member_id: str) -> int:
    """Add a member's accumulated amounts into another's (same policy, layer and year), so that
    ceilings and deductibles count what both records used; the number of rows merged.

    The merged member's own rows are zeroed, not deleted: its history stays readable."""
    rows = list(session.scalars(select(StoredAccumulator).where(StoredAccumulator.member_id == from_member_id)))
    for row in rows:
        target = session.get(StoredAccumulator, (row.policy_id, to_member_id, row.layer_id, row.benefit_year))
        if target is None:
            session.add(
                StoredAccumulator(
                    policy_id=row.policy_id,
                    member_id=to_member_id,
                    layer_id=row.layer_id,
                    benefit_year=row.benefit_year,
                    position=row.position,
                    paid=row.paid,
                    member_share=row.member_share,
                )
            )
        else:
            target.position += row.position
            target.paid += row.paid
            target.member_share += row.member_share
        row.position = row.paid = row.member_share = 0
    session.flush()
    return len(rows)


def accumulators_of(*, session: Session, member_id: str, policy_id: str | None = None) -> list[StoredAccumulator]:
    conditions = [StoredAccumulator.member_id == member_id]
    if policy_id is not None:
        conditions.append(StoredAccumulator.policy_id == policy_id)
    return list(
        session.scalars(
            select(StoredAccumulator)
            .where(*conditions)
            .order_by(StoredAccumulator.policy_id, StoredAccumulator.benefit_year, StoredAccumulator.layer_id)
            .execution_options(populate_existing=True)  # claims write accumulators with Core statements
        )
    )


# --------------------------------------------------------------------------------------------
# Claims


def _lock_member(session: Session, person_id: int, record: str) -> Person:
    person = session.scalars(select(Person).where(Person.id == person_id).with_for_update()).first()
    if person is None:
        raise ValidationFailed(record, "person_id", "unknown person")
    return person


def get_claim(*, session: Session, claim_id: str, provider_id: int | None = None) -> Claim:
    """A claim by its bill number, of the facility ``provider_id`` when given.

    A bill number is unique per facility only: without the facility, a number two facilities use
    is refused (409) rather than answered with one of them."""
    query = select(Claim).where(Claim.claim_id == claim_id)
    if provider_id is not None:
        query = query.where(Claim.provider_id == provider_id)
    rows = session.scalars(query.order_by(Claim.id).limit(2)).all()
    if not rows:
        raise NotFound(f"claim {claim_id}", "claim_id", "unknown claim")
    if len(rows) > 1:
        raise Conflict(f"claim {claim_id}", "provider", "several facilities use this bill number: name the facility")
    return rows[0]


def get_claim_by_pk(*, session: Session, claim_pk: int) -> Claim:
    """A claim by its stored id (``claims.id``)."""
    row = session.get(Claim, claim_pk)
    if row is None:
        raise NotFound(f"claim {claim_pk}", "id", "unknown claim")
    return row


def provider_id_of(*, session: Session, provider_code: str) -> int:
    """The id of the facility with this code; refused (404) when there is none."""
    provider_id = session.scalar(select(Provider.id).where(Provider.code == provider_code))
    if provider_id is None:
        raise NotFound(f"provider {provider_code}", "provider", "unknown provider")
    return provider_id


def payments_of(*, session: Session, claim_pk: int) -> list[ClaimPayment]:
    return list(
        session.scalars(select(ClaimPayment).where(ClaimPayment.claim_pk == claim_pk).order_by(ClaimPayment.id))
    )


def reverse_claim(
    *,
    session: Session,
    claim_id: str,
    reason: str,
    actor: str = SYSTEM_ACTOR,
    only_provider_id: int | None = None,
    provider_id: int | None = None,
) -> Claim:
    """Reverse a settled claim: its accumulator deltas are taken back out; payments rows stay as history."""
    record = f"claim {claim_id}"
    if not reason or not reason.strip():
        raise ValidationFailed(record, "reason", "a reversal needs a reason")
    row = get_claim(session=session, claim_id=claim_id, provider_id=provider_id or only_provider_id)
    if only_provider_id is not None and row.provider_id != only_provider_id:
        raise Forbidden(record, "claim_id", "this claim belongs to another facility")
    _lock_member(session, row.person_id, record)
    # Re-read under the lock: a concurrent reversal may have won.
    locked = _stored_claim(session, claim_id, row.provider_id)
    assert locked is not None
    row = locked
    if row.status == "reversed":
        raise Conflict(record, "status", "the claim is already reversed")
    deltas = session.scalars(select(ClaimAccumulatorDelta).where(ClaimAccumulatorDelta.claim_pk == row.id)).all()
    for delta in deltas:
        accumulator = session.get(
            StoredAccumulator,
            (delta.policy_id, delta.member_id, delta.layer_id, delta.benefit_year),
            populate_existing=True,
        )
        if accumulator is None:  # pragma: no cover - deltas are written with their accumulators
            raise Conflict(record, "accumulators", "an accumulator of this claim is missing")
        accumulator.position -= delta.position
        accumulator.paid -= delta.paid
        accumulator.member_share -= delta.member_share
    row.status = "reversed"
    row.reversed_at = _now()
    row.reversed_by = actor
    row.reversal_reason = reason.strip()
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="claims",
        entity_id=row.id,
        action="reverse",
        before={"status": "settled"},
        after={"status": "reversed"},
    )
    return row


def claim_conditions(
    *,
    person_id: int | None = None,
    provider_code: str | None = None,
    status: str | None = None,
    zero_reason: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    location_code: str | None = None,
    category: str | None = None,
) -> list[ColumnElement[bool]]:
    """SQL filters on ``claims`` for the list and report endpoints.

    ``location_code``: claims of providers located in that location or below it.
    ``category``: claims whose member held the category on the service date (as stored on the claim).
    """
    conditions: list[ColumnElement[bool]] = []
    if person_id is not None:
        conditions.append(Claim.person_id == person_id)
    if provider_code is not None:
        conditions.append(Claim.provider_id.in_(select(Provider.id).where(Provider.code == provider_code)))
    if status is not None:
        conditions.append(Claim.status == status)
    if zero_reason is not None:
        conditions.append(Claim.zero_reason == zero_reason)
    if date_from is not None:
        conditions.append(Claim.service_date >= date_from)
    if date_to is not None:
        conditions.append(Claim.service_date <= date_to)
    if location_code is not None:
        area = aliased(Location)
        inside = (
            select(Location.id)
            .join(area, area.code == location_code)
            .where(or_(Location.id == area.id, Location.province_id == area.id, Location.district_id == area.id))
        )
        conditions.append(Claim.provider_id.in_(select(Provider.id).where(Provider.location_id.in_(inside))))
    if category is not None:
        joined = ";" + Claim.categories + ";"
        conditions.append(joined.contains(f";{category};", autoescape=True))
    return conditions


def list_claims(
    *, session: Session, conditions: Sequence[ColumnElement[bool]] = (), limit: int = 50, offset: int = 0
) -> tuple[list[Claim], int]:
    """Claims matching every condition (scope filters first), newest service date first, and the total count."""
    total = session.scalar(select(func.count(Claim.id)).where(*conditions)) or 0
    rows = session.scalars(
        select(Claim)
        .where(*conditions)
        .order_by(Claim.service_date.desc(), Claim.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def settlement_report(*, session: Session, conditions: Sequence[ColumnElement[bool]] = ()) -> dict[str, Any]:
    """Totals over the settled (not reversed) claims matching the conditions: counts, amounts, by
    payer, zero reasons."""
    settled = [*conditions, Claim.status == "settled"]
    totals = session.execute(
        select(
            func.count(Claim.id),
            func.coalesce(func.sum(Claim.total), 0),
            func.coalesce(func.sum(Claim.allowed), 0),
            func.coalesce(func.sum(Claim.provider_writeoff), 0),
            func.coalesce(func.sum(Claim.member_oop), 0),
            func.coalesce(func.sum(case((Claim.zero_reason.is_not(None), 1), else_=0)), 0),
        ).where(*settled)
    ).one()
    by_payer = session.execute(
        select(ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.payer, func.sum(ClaimPayment.amount))
        .join(Claim, Claim.id == ClaimPayment.claim_pk)
        .where(*settled)
        .group_by(ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.payer)
        .order_by(ClaimPayment.kind.desc(), ClaimPayment.item_id)
    ).all()
    zero = session.execute(
        select(Claim.zero_reason, func.count(Claim.id))
        .where(*settled, Claim.zero_reason.is_not(None))
        .group_by(Claim.zero_reason)
    ).all()
    reversed_count = session.scalar(select(func.count(Claim.id)).where(*conditions, Claim.status == "reversed")) or 0
    return {
        "claims": int(totals[0]),
        "reversed_claims": int(reversed_count),
        "total": int(totals[1]),
        "allowed": int(totals[2]),
        "provider_writeoff": int(totals[3]),
        "member_oop": int(totals[4]),
        "zero_payment_claims": int(totals[5]),
        "zero_reasons": {reason: int(count) for reason, count in zero},
        "payments": [
            {"kind": kind, "item_id": item_id, "payer": payer, "amount": int(amount or 0)}
            for kind, item_id, payer, amount in by_payer
        ],
    }


# --------------------------------------------------------------------------------------------
# Eligibility


def letter_valid_days(*, session: Session, person_id: int, on: dt.date) -> int:
    """The days a referral letter written on ``on`` holds: ``[referral] letter_valid_days`` of the
    policy covering its patient that day (the first scheme's, as settlement settles with it), else
    the programme's default."""
    try:
        covered = eligibility(session=session, person_id=person_id, on=on)
    except NotFound:
        return DEFAULT_REFERRAL_LETTER_VALID_DAYS
    for scheme in covered.schemes:
        version = session.get(PolicyVersion, scheme.policy_version_id) if scheme.policy_version_id else None
        if version is not None:
            return loaded_policy(version).referral_letter_valid_days
    return DEFAULT_REFERRAL_LETTER_VALID_DAYS


def eligibility(*, session: Session, person_id: int, on: dt.date) -> EligibilityOut:
    """Is the person covered on ``on``: by which schemes, under which policy version, with what
    is left of each layer's annual cap (cap_per_year of band layers, max_per_year of oop_cap
    layers) for the benefit year of ``on``."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id}", "id", "unknown person")
    enrolments = session.execute(
        select(Enrolment, Scheme.code)
        .join(Scheme, Scheme.id == Enrolment.scheme_id)
        .where(
            Enrolment.person_id == person_id, Enrolment.status == "active", Enrolment.starts <= on, Enrolment.ends >= on
        )
        .order_by(Enrolment.scheme_id)
    ).all()
    schemes: list[SchemeEligibility] = []
    for enrolment, scheme_code in enrolments:
        version = policy_in_force(session=session, scheme_id=enrolment.scheme_id, on=on)
        layers: list[LayerEligibility] = []
        if version is not None:
            policy = loaded_policy(version)
            year = policy.benefit_year(on)
            stored = {
                row.layer_id: row
                for row in session.scalars(
                    select(StoredAccumulator)
                    .where(
                        StoredAccumulator.policy_id == policy.id,
                        StoredAccumulator.member_id == str(person_id),
                        StoredAccumulator.benefit_year == year,
                    )
                    .execution_options(populate_existing=True)
                )
            }
            for layer in policy.layers:
                row = stored.get(layer.id)
                if layer.kind == "oop_cap":
                    cap, used = layer.max_per_year, (row.member_share if row else 0)
                else:
                    cap, used = layer.cap_per_year, (row.paid if row else 0)
                layers.append(
                    LayerEligibility(
                        layer_id=layer.id,
                        payer=layer.payer,
                        kind=layer.kind,
                        benefit_year=year,
                        annual_cap=cap,
                        used=used,
                        remaining=None if cap is None else max(0, cap - used),
                        paid=row.paid if row else 0,
                    )
                )
        schemes.append(
            SchemeEligibility(
                scheme_code=scheme_code,
                enrolment_id=enrolment.id,
                enrolled_from=enrolment.starts,
                enrolled_to=enrolment.ends,
                policy_version_id=version.id if version else None,
                policy_id=version.policy_id if version else None,
                layers=layers,
            )
        )
    return EligibilityOut(
        person_id=person_id,
        on=on,
        covered=any(scheme.policy_version_id is not None for scheme in schemes),
        categories=categories_at(session=session, person_id=person_id, on=on),
        schemes=schemes,
    )
