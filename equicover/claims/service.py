"""The claims service: policy versions, eligibility, real-time settlement, reversal, reports.

The only module that writes ``policy_versions``, ``claims``, ``claim_payments``,
``accumulators`` and ``claim_accumulator_deltas``. Keyword-only functions, never commit.

Settling one claim (:func:`submit_claim`):

1. The member's row in ``persons`` is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
   has one writer at a time anyway). Every submission and reversal of the same member goes
   through that lock, so two claims of one member settled at the same moment are applied one
   after the other and the second sees the first's accumulators: an annual cap or deductible is
   never overrun.
2. Idempotency: after the lock, a stored claim with the same ``claim_id`` is returned as it is
   (``created=False``) and nothing is paid twice. A concurrent first submission of the same
   ``claim_id`` for *another* member loses on the unique constraint of ``claims.claim_id``
   (``INSERT ... ON CONFLICT DO NOTHING``) before any accumulator is written, and returns the
   winner's result.
3. The engine's claim is built from the stored records, never from what the caller asserts:
   the member's categories valid on the service date, the provider's level and designation, and
   ``in_area`` = the provider lies in the same district as the member's location.
4. Coverage: the member's active enrolments on the date (in ``scheme_code`` if given; else the
   first scheme by id that pays); the scheme's policy version in force on the date; a contract
   between the scheme and the provider on the date. Missing any of those is not an error: the
   claim is stored settled with zero payments, the member owing the whole bill, and
   ``zero_reason`` = ``not_covered`` (no enrolment), ``no_policy`` (no policy version in force)
   or ``no_contract`` (the provider has no contract with the scheme).
5. :class:`equicover.settlement.realtime.RealtimeEngine` settles it against a
   :class:`DatabaseAccumulatorStore`; the claim, one ``claim_payments`` row per layer and
   allowance, the new accumulators and this claim's accumulator deltas are written, and one
   ``change_log`` row (ids and amounts only, no personal data).

Reversal (:func:`reverse_claim`) takes the claim's deltas back out of the accumulators under
the same member lock. Claims settled after the reversed one keep their settlement (it was
correct when made); the accumulators again equal the sum over the member's settled claims.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased, make_transient_to_detached

from equicover.claims.deltas import ClaimAccumulatorDelta
from equicover.claims.models import Claim, ClaimPayment, PolicyVersion, StoredAccumulator
from equicover.claims.schemas import (
    ClaimIn,
    EligibilityOut,
    LayerEligibility,
    SchemeEligibility,
)
from equicover.enrolment.models import Enrolment, Scheme
from equicover.errors import Conflict, Forbidden, NotFound, ValidationFailed
from equicover.providers.models import Contract, Provider
from equicover.registry.models import Location, Person
from equicover.registry.service import SYSTEM_ACTOR, categories_at, record_change
from equicover.settlement import model
from equicover.settlement.loader import load_policy_text
from equicover.settlement.realtime import NO_ACCUMULATION, Accumulator, RealtimeEngine

ALLOWANCE_PAYER = "allowance"  # payer recorded on allowance rows (the programme pays them beside the bill)
ZERO_NOT_COVERED = "not_covered"
ZERO_NO_POLICY = "no_policy"
ZERO_NO_CONTRACT = "no_contract"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --------------------------------------------------------------------------------------------
# Policy versions


_policy_cache: dict[int, tuple[str, model.Policy]] = {}
_policy_cache_lock = threading.Lock()


def loaded_policy(version: PolicyVersion) -> model.Policy:
    """The parsed policy of a stored version (parsed once per process, keyed by id and hash)."""
    cached = _policy_cache.get(version.id)
    if cached is not None and cached[0] == version.sha256:
        return cached[1]
    policy = load_policy_text(version.source_text, path=f"policy version {version.id}")
    with _policy_cache_lock:
        _policy_cache[version.id] = (version.sha256, policy)
    return policy


def _overlaps(start: dt.date, end: dt.date | None) -> ColumnElement[bool]:
    return and_(
        PolicyVersion.effective_from <= (end or dt.date.max),
        or_(PolicyVersion.effective_to.is_(None), PolicyVersion.effective_to >= start),
    )


def store_policy_version(*, session: Session, source_text: str, scheme_code: str, actor: str = SYSTEM_ACTOR) -> PolicyVersion:
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
        select(PolicyVersion).where(*conditions).order_by(PolicyVersion.policy_id, PolicyVersion.effective_from).limit(limit).offset(offset)
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


# --------------------------------------------------------------------------------------------
# Accumulators in the database


class DatabaseAccumulatorStore:
    """The accumulators of one member, one policy and one benefit year, as the engine's store.

    Read once at construction (the caller holds the member lock, so they cannot move under us);
    the engine's ``put`` calls are kept in memory and :meth:`write` stores them with the claim's
    deltas, so a claim refused half-way writes nothing.
    """

    def __init__(self, session: Session, policy_id: str, member_id: str, benefit_year: int) -> None:
        self.session = session
        self.policy_id = policy_id
        self.member_id = member_id
        self.benefit_year = benefit_year
        self._rows = {
            row.layer_id: row
            for row in session.scalars(
                select(StoredAccumulator).where(
                    StoredAccumulator.policy_id == policy_id,
                    StoredAccumulator.member_id == member_id,
                    StoredAccumulator.benefit_year == benefit_year,
                )
            )
        }
        self._updates: dict[str, Accumulator] = {}

    def _check(self, member_id: str, benefit_year: int) -> None:
        if member_id != self.member_id or benefit_year != self.benefit_year:  # pragma: no cover - engine contract
            raise RuntimeError("the accumulator store holds one member and one benefit year")

    def get(self, member_id: str, layer_id: str, benefit_year: int) -> Accumulator:
        self._check(member_id, benefit_year)
        if layer_id in self._updates:
            return self._updates[layer_id]
        row = self._rows.get(layer_id)
        return NO_ACCUMULATION if row is None else Accumulator(row.position, row.paid, row.member_share)

    def put(self, member_id: str, layer_id: str, benefit_year: int, accumulator: Accumulator) -> None:
        self._check(member_id, benefit_year)
        self._updates[layer_id] = accumulator

    def write(self, claim_pk: int) -> None:
        for layer_id, new in self._updates.items():
            row = self._rows.get(layer_id)
            old = NO_ACCUMULATION if row is None else Accumulator(row.position, row.paid, row.member_share)
            if row is None:
                row = StoredAccumulator(
                    policy_id=self.policy_id, member_id=self.member_id, layer_id=layer_id, benefit_year=self.benefit_year
                )
                self.session.add(row)
                self._rows[layer_id] = row
            row.position, row.paid, row.member_share = new.position, new.paid, new.member_share
            self.session.add(
                ClaimAccumulatorDelta(
                    claim_pk=claim_pk,
                    policy_id=self.policy_id,
                    member_id=self.member_id,
                    layer_id=layer_id,
                    benefit_year=self.benefit_year,
                    position=new.position - old.position,
                    paid=new.paid - old.paid,
                    member_share=new.member_share - old.member_share,
                )
            )


def accumulators_of(*, session: Session, member_id: str, policy_id: str | None = None) -> list[StoredAccumulator]:
    conditions = [StoredAccumulator.member_id == member_id]
    if policy_id is not None:
        conditions.append(StoredAccumulator.policy_id == policy_id)
    return list(
        session.scalars(
            select(StoredAccumulator).where(*conditions).order_by(
                StoredAccumulator.policy_id, StoredAccumulator.benefit_year, StoredAccumulator.layer_id
            )
        )
    )


# --------------------------------------------------------------------------------------------
# Claims


def _lock_member(session: Session, person_id: int, record: str) -> Person:
    person = session.scalars(select(Person).where(Person.id == person_id).with_for_update()).first()
    if person is None:
        raise ValidationFailed(record, "person_id", "unknown person")
    return person


def _stored_claim(session: Session, claim_id: str) -> Claim | None:
    return session.scalars(select(Claim).where(Claim.claim_id == claim_id).execution_options(populate_existing=True)).first()


@dataclass(slots=True)
class _Coverage:
    scheme_id: int | None
    version: PolicyVersion | None
    zero_reason: str | None


def _coverage(session: Session, person_id: int, provider_id: int, on: dt.date, scheme_code: str | None, record: str) -> _Coverage:
    """The scheme, policy version and zero-payment reason of a claim, in one query.

    One row per scheme the member is actively enrolled in on ``on`` (in ``scheme_code`` if
    given), with the scheme's policy version in force and whether the provider holds a contract
    with it on that day. The first scheme (by id) with both wins; else the reason of the best one.
    """
    scheme_id_wanted = None
    if scheme_code is not None:
        scheme_id_wanted = session.scalar(select(Scheme.id).where(Scheme.code == scheme_code))
        if scheme_id_wanted is None:
            raise ValidationFailed(record, "scheme_code", "unknown scheme")
    in_force = and_(
        PolicyVersion.scheme_id == Enrolment.scheme_id,
        PolicyVersion.effective_from <= on,
        or_(PolicyVersion.effective_to.is_(None), PolicyVersion.effective_to >= on),
    )
    contracted = (
        select(Contract.id)
        .where(Contract.scheme_id == Enrolment.scheme_id, Contract.provider_id == provider_id, Contract.starts <= on, Contract.ends >= on)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(Enrolment.scheme_id, PolicyVersion, contracted)
        .outerjoin(PolicyVersion, in_force)
        .where(Enrolment.person_id == person_id, Enrolment.status == "active", Enrolment.starts <= on, Enrolment.ends >= on)
        .order_by(Enrolment.scheme_id, PolicyVersion.effective_from.desc())
    )
    if scheme_id_wanted is not None:
        query = query.where(Enrolment.scheme_id == scheme_id_wanted)
    rows = session.execute(query).all()
    if not rows:
        return _Coverage(None, None, ZERO_NOT_COVERED)
    best = _Coverage(rows[0][0], None, ZERO_NO_POLICY)
    for scheme_id, version, contract_id in rows:
        if version is None:
            continue
        if contract_id is not None:
            return _Coverage(scheme_id, version, None)
        if best.zero_reason == ZERO_NO_POLICY:
            best = _Coverage(scheme_id, version, ZERO_NO_CONTRACT)
    return best


def _district_of(location: type[Location]) -> ColumnElement[int]:
    """The district of a location (itself for locations above district level)."""
    return func.coalesce(location.district_id, location.id)


def _lock_member_for_claim(session: Session, person_id: int, claim_id: str, record: str) -> tuple[Person, int, Claim | None]:
    """Lock the member (see the module docstring); return it, the district of its location and
    the stored claim with this ``claim_id`` if any (read after the lock is granted), in one query.

    ``in_area`` of a claim = the provider lies in the member's district (for a location above
    district level: the same location).
    """
    found = session.execute(
        select(Person, _district_of(Location), Claim)
        .join(Location, Location.id == Person.location_id)
        .outerjoin(Claim, Claim.claim_id == claim_id)
        .where(Person.id == person_id)
        .with_for_update(of=Person)
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise ValidationFailed(record, "person_id", "unknown person")
    return found[0], found[1], found[2]


def submit_claim(
    *, session: Session, claim: ClaimIn, actor: str = SYSTEM_ACTOR, only_provider_id: int | None = None
) -> tuple[Claim, bool]:
    """Settle and store a claim; returns (stored claim, created). See the module docstring.

    ``only_provider_id``: the caller may only submit (and see) claims of this provider (a clerk's
    facility): another provider's code, or an existing claim of another provider, gives 403.
    """
    record = f"claim {claim.claim_id}"
    found = session.execute(
        select(Provider, _district_of(Location)).join(Location, Location.id == Provider.location_id).where(Provider.code == claim.provider_code)
    ).first()
    if found is None:
        raise ValidationFailed(record, "provider_code", "unknown provider")
    provider, provider_district = found
    if only_provider_id is not None and provider.id != only_provider_id:
        raise Forbidden(record, "provider_code", "you may submit claims of your own facility only")
    person, person_district, existing = _lock_member_for_claim(session, claim.person_id, claim.claim_id, record)
    if existing is not None:
        if only_provider_id is not None and existing.provider_id != only_provider_id:
            raise Forbidden(record, "claim_id", "this claim belongs to another facility")
        return existing, False

    on = claim.service_date
    if on < person.birth_date or (person.death_date is not None and on > person.death_date):
        raise ValidationFailed(record, "service_date", "outside the person's lifetime")
    categories = categories_at(session=session, person_id=person.id, on=on)
    coverage = _coverage(session, person.id, provider.id, on, claim.scheme_code, record)
    eligible = claim.total if claim.eligible is None else claim.eligible
    row = Claim(
        claim_id=claim.claim_id,
        person_id=person.id,
        provider_id=provider.id,
        policy_version_id=coverage.version.id if coverage.version is not None else None,
        service_date=on,
        provider_level=provider.level,
        designated=provider.designated,
        in_area=person_district == provider_district,
        referred=claim.referred,
        care_type=claim.care_type,
        diagnosis=claim.diagnosis,
        days=claim.days,
        total=claim.total,
        eligible=eligible,
        categories=";".join(categories),
        status="settled",
        fixed_fee=None,
        zero_reason=None,
        submitted_at=_now(),
        submitted_by=actor,
        reversed_at=None,
        reversed_by=None,
        reversal_reason=None,
    )

    settlement: model.ClaimSettlement | None = None
    store: DatabaseAccumulatorStore | None = None
    policy: model.Policy | None = None
    if coverage.zero_reason is None and coverage.version is not None:
        policy = loaded_policy(coverage.version)
        if claim.care_type not in policy.care_types:
            raise ValidationFailed(record, "care_type", f"not a care type of policy {policy.id}: {', '.join(policy.care_types)}")
        if provider.level not in policy.provider_levels:
            raise ValidationFailed(record, "provider_code", f"the provider's level is not a level of policy {policy.id}")
        member_id = str(person.id)
        store = DatabaseAccumulatorStore(session, policy.id, member_id, policy.benefit_year(on))
        engine_claim = model.Claim(
            claim_id=claim.claim_id,
            member_id=member_id,
            service_date=on,
            provider_id=provider.code,
            provider_level=provider.level,
            designated=provider.designated,
            in_area=row.in_area,
            referred=claim.referred,
            care_type=claim.care_type,
            diagnosis=claim.diagnosis,
            days=claim.days,
            total=claim.total,
            eligible=eligible,
            categories=frozenset(categories),
        )
        settlement = RealtimeEngine(policy, store).settle(engine_claim)
        row.allowed = settlement.allowed
        row.provider_writeoff = settlement.provider_writeoff
        row.member_oop = settlement.member_oop
        row.fixed_fee = settlement.fixed_fee
        row.trail = settlement.trail
    else:
        row.allowed = claim.total
        row.provider_writeoff = 0
        row.member_oop = claim.total
        row.trail = ""
        row.zero_reason = coverage.zero_reason

    # Insert the claim first; losing a race on claim_id (another member's claim with the same id,
    # committed meanwhile) inserts nothing and leaves nothing else written.
    row_pk = _insert_claim_row(session, row)
    if row_pk is None:
        winner = _stored_claim(session, claim.claim_id)
        if winner is None:  # pragma: no cover - the conflicting row is committed when ON CONFLICT reports it
            raise Conflict(record, "claim_id", "a concurrent submission with this claim_id failed, retry")
        if only_provider_id is not None and winner.provider_id != only_provider_id:
            raise Forbidden(record, "claim_id", "this claim belongs to another facility")
        return winner, False

    if settlement is not None and store is not None and policy is not None:
        layers = {layer.id: layer for layer in policy.layers}
        payments = [
            ClaimPayment(claim_pk=row.id, kind="layer", item_id=layer_id, payer=layers[layer_id].payer, amount=amount)
            for layer_id, amount in settlement.paid.items()
        ] + [
            ClaimPayment(claim_pk=row.id, kind="allowance", item_id=allowance_id, payer=ALLOWANCE_PAYER, amount=amount)
            for allowance_id, amount in settlement.allowances.items()
        ]
        session.add_all(payments)
        row.settled_payments = payments  # type: ignore[attr-defined]  # spares payments_of() a query
        store.write(row.id)
    else:
        row.settled_payments = []  # type: ignore[attr-defined]
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="claims",
        entity_id=row.id,
        action="submit",
        after={
            "claim_id": row.claim_id,
            "person_id": row.person_id,
            "provider_id": row.provider_id,
            "policy_version_id": row.policy_version_id,
            "total": row.total,
            "allowed": row.allowed,
            "member_oop": row.member_oop,
            "zero_reason": row.zero_reason,
        },
    )
    return row, True


def _insert_claim_row(session: Session, row: Claim) -> int | None:
    """INSERT ... ON CONFLICT (claim_id) DO NOTHING RETURNING id; the row's id, or None if the
    claim_id exists. On success ``row`` joins the session as the persistent object of that row."""
    values = {column.key: getattr(row, column.key) for column in Claim.__table__.columns if column.key != "id"}
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(Claim).values(**values).on_conflict_do_nothing(index_elements=["claim_id"]).returning(Claim.id)
    row_pk = session.execute(statement).scalar()
    if row_pk is not None:
        row.id = row_pk
        make_transient_to_detached(row)
        session.add(row)
    return row_pk


def get_claim(*, session: Session, claim_id: str) -> Claim:
    row = session.scalar(select(Claim).where(Claim.claim_id == claim_id))
    if row is None:
        raise NotFound(f"claim {claim_id}", "claim_id", "unknown claim")
    return row


def payments_of(*, session: Session, claim_pk: int) -> list[ClaimPayment]:
    return list(session.scalars(select(ClaimPayment).where(ClaimPayment.claim_pk == claim_pk).order_by(ClaimPayment.id)))


def reverse_claim(
    *, session: Session, claim_id: str, reason: str, actor: str = SYSTEM_ACTOR, only_provider_id: int | None = None
) -> Claim:
    """Reverse a settled claim: its accumulator deltas are taken back out; payments rows stay as history."""
    record = f"claim {claim_id}"
    if not reason or not reason.strip():
        raise ValidationFailed(record, "reason", "a reversal needs a reason")
    row = get_claim(session=session, claim_id=claim_id)
    if only_provider_id is not None and row.provider_id != only_provider_id:
        raise Forbidden(record, "claim_id", "this claim belongs to another facility")
    _lock_member(session, row.person_id, record)
    row = _stored_claim(session, claim_id)  # re-read under the lock: a concurrent reversal may have won
    assert row is not None
    if row.status == "reversed":
        raise Conflict(record, "status", "the claim is already reversed")
    deltas = session.scalars(select(ClaimAccumulatorDelta).where(ClaimAccumulatorDelta.claim_pk == row.id)).all()
    for delta in deltas:
        accumulator = session.get(
            StoredAccumulator, (delta.policy_id, delta.member_id, delta.layer_id, delta.benefit_year), populate_existing=True
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
        conditions.append(joined.contains(f";{category};"))
    return conditions


def list_claims(
    *, session: Session, conditions: Sequence[ColumnElement[bool]] = (), limit: int = 50, offset: int = 0
) -> tuple[list[Claim], int]:
    """Claims matching every condition (scope filters first), newest service date first, and the total count."""
    total = session.scalar(select(func.count(Claim.id)).where(*conditions)) or 0
    rows = session.scalars(
        select(Claim).where(*conditions).order_by(Claim.service_date.desc(), Claim.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def settlement_report(*, session: Session, conditions: Sequence[ColumnElement[bool]] = ()) -> dict[str, Any]:
    """Totals over the settled (not reversed) claims matching the conditions: counts, amounts, by payer, zero reasons."""
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
        select(Claim.zero_reason, func.count(Claim.id)).where(*settled, Claim.zero_reason.is_not(None)).group_by(Claim.zero_reason)
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
            {"kind": kind, "item_id": item_id, "payer": payer, "amount": int(amount or 0)} for kind, item_id, payer, amount in by_payer
        ],
    }


# --------------------------------------------------------------------------------------------
# Eligibility


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
        .where(Enrolment.person_id == person_id, Enrolment.status == "active", Enrolment.starts <= on, Enrolment.ends >= on)
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
                    select(StoredAccumulator).where(
                        StoredAccumulator.policy_id == policy.id,
                        StoredAccumulator.member_id == str(person_id),
                        StoredAccumulator.benefit_year == year,
                    )
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
