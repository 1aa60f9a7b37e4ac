"""Adjustments of settled claims: re-settlement after a reversal, and year-end reconciliation.

The claims service (:mod:`equicover.claims.service`) exposes these functions; this module is its
only writer of ``claim_adjustments`` and ``reconciliation_runs``, and rewrites the accumulators and
accumulator deltas of the claims it re-settles.

A stored claim's ``claim_payments`` stay as they were settled: what a claim pays *now* is its
payments plus its adjustments, per payer, and its member's share is ``member_oop`` plus its
``member`` lines. An adjustment line is the difference between what the claim should pay and what
it pays now, so re-settling a claim twice against the same rules adds nothing the second time.

- **Re-settlement after a reversal** (:func:`resettle_later_claims`). In real time claims are
  settled in order of arrival, each against the accumulators the earlier ones left. When a claim
  is reversed, the member's claims that arrived after it, under the same policy and benefit year,
  were settled against accumulators that counted it: they are settled again, in arrival order,
  from the accumulators as they stood before them without the reversed claim.
- **Year-end reconciliation** (:func:`reconcile_year`). The binding order at year end is the
  service-date order: the batch engine settles the scheme's stored year in (member, service date,
  claim id) order, and each claim's difference is stored.

Either way the claims' accumulator deltas and the members' accumulators are rewritten to the new
settlement, so a later reversal takes out exactly what the claim now counts for.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.claims.deltas import ClaimAccumulatorDelta
from equicover.claims.models import (
    AdjustmentCause,
    AdjustmentKind,
    Claim,
    ClaimAdjustment,
    ClaimPayment,
    PolicyVersion,
    ReconciliationRun,
    StoredAccumulator,
)
from equicover.claims.settle_and_store import ALLOWANCE_PAYER, DatabaseAccumulatorStore, _compiled, _CompiledPolicy
from equicover.enrolment.models import Scheme
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.registry.models import Person
from equicover.settlement import model
from equicover.settlement.batch_engine import settle_records
from equicover.settlement.realtime_engine import NO_ACCUMULATION, Accumulator

MEMBER = "member"  # item id and payer of the member's line

# (kind, item id) -> (payer, amount): what a claim pays, per payer, and the member's share.
Amounts = dict[tuple[str, str], tuple[str, int]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def reason_of(kind: str, amount: int) -> str:
    """What an adjustment line is, from its kind and sign."""
    if kind == MEMBER:
        return "member_refund" if amount < 0 else "member_owes_more"
    return "payer_top_up" if amount > 0 else "payer_recovery"


def adjustments_of(*, session: Session, claim_pk: int) -> list[ClaimAdjustment]:
    return list(
        session.scalars(
            select(ClaimAdjustment).where(ClaimAdjustment.claim_pk == claim_pk).order_by(ClaimAdjustment.id)
        )
    )


def current_amounts(*, session: Session, claims: Sequence[Claim]) -> dict[int, Amounts]:
    """What each claim pays now: its payments plus its adjustments per payer, and the member's share."""
    pks = [claim.id for claim in claims]
    amounts: dict[int, dict[tuple[str, str], tuple[str, int]]] = {
        claim.id: {(MEMBER, MEMBER): (MEMBER, claim.member_oop)} for claim in claims
    }
    for start in range(0, len(pks), 500):  # IN lists of a bounded size for either database
        part = pks[start : start + 500]
        for claim_pk, kind, item_id, payer, amount in session.execute(
            select(
                ClaimPayment.claim_pk, ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.payer, ClaimPayment.amount
            ).where(ClaimPayment.claim_pk.in_(part))
        ).all():
            amounts[claim_pk][(kind, item_id)] = (payer, int(amount))
        for claim_pk, line_kind, item_id, payer, amount in session.execute(
            select(
                ClaimAdjustment.claim_pk,
                ClaimAdjustment.kind,
                ClaimAdjustment.item_id,
                ClaimAdjustment.payer,
                ClaimAdjustment.amount,
            ).where(ClaimAdjustment.claim_pk.in_(part))
        ).all():
            known, before = amounts[claim_pk].get((line_kind, item_id), (payer, 0))
            amounts[claim_pk][(line_kind, item_id)] = (known, before + int(amount))
    return amounts


def _store_differences(
    session: Session,
    claims: Sequence[Claim],
    targets: dict[int, Amounts],
    *,
    cause: AdjustmentCause,
    actor: str,
    cause_claim_pk: int | None = None,
    run_id: int | None = None,
) -> list[ClaimAdjustment]:
    """One adjustment line per claim and payer (and member) whose target differs from what it pays now."""
    now = current_amounts(session=session, claims=claims)
    created = _now()
    lines: list[ClaimAdjustment] = []
    for claim in claims:
        target = targets.get(claim.id)
        if target is None:
            continue
        paid = now[claim.id]
        for key in sorted(target):  # a target names every payer it settles
            kind, item_id = key
            payer, should = target[key]
            difference = should - paid.get(key, (payer, 0))[1]
            if difference == 0:
                continue
            adjustment_kind: AdjustmentKind = (
                "member" if kind == MEMBER else ("layer" if kind == "layer" else "allowance")
            )
            lines.append(
                ClaimAdjustment(
                    claim_pk=claim.id,
                    kind=adjustment_kind,
                    item_id=item_id,
                    payer=payer,
                    amount=difference,
                    reason=reason_of(kind, difference),
                    cause=cause,
                    cause_claim_pk=cause_claim_pk,
                    run_id=run_id,
                    created_at=created,
                    created_by=actor,
                )
            )
    session.add_all(lines)
    session.flush()
    return lines


def _targets(settlement: model.ClaimSettlement, payers: dict[str, str]) -> Amounts:
    amounts: Amounts = {("layer", layer_id): (payers[layer_id], paid) for layer_id, paid in settlement.paid.items()}
    amounts.update({("allowance", item): (ALLOWANCE_PAYER, paid) for item, paid in settlement.allowances.items()})
    amounts[(MEMBER, MEMBER)] = (MEMBER, settlement.member_oop)
    return amounts


def engine_claim(row: Claim, claim_key: str | None = None) -> model.Claim:
    """The engine's claim for a stored one, as it was settled (the stored levels, flags and categories)."""
    return model.Claim(
        claim_id=claim_key or row.claim_id,
        member_id=str(row.person_id),
        service_date=row.service_date,
        provider_id=str(row.provider_id),
        provider_level=row.provider_level,
        designated=row.designated,
        in_area=row.in_area,
        referred=row.referred,
        care_type=row.care_type,
        diagnosis=row.diagnosis,
        days=row.days,
        total=row.total,
        eligible=row.eligible,
        categories=frozenset(filter(None, row.categories.split(";"))),
    )


def _write_deltas_and_accumulators(
    session: Session,
    policy_id: str,
    year: int,
    claim_pks: Iterable[int],
    deltas: dict[int, dict[str, Accumulator]],
    accumulators: dict[str, dict[str, Accumulator]],
) -> None:
    """Replace the claims' deltas for (policy, year) and set the members' accumulators of that year."""
    pks = list(claim_pks)
    for start in range(0, len(pks), 500):
        session.execute(
            delete(ClaimAccumulatorDelta).where(
                ClaimAccumulatorDelta.claim_pk.in_(pks[start : start + 500]),
                ClaimAccumulatorDelta.policy_id == policy_id,
                ClaimAccumulatorDelta.benefit_year == year,
            )
        )
    claim_members = dict(session.execute(select(Claim.id, Claim.person_id).where(Claim.id.in_(list(deltas)))).all())
    session.add_all(
        ClaimAccumulatorDelta(
            claim_pk=claim_pk,
            policy_id=policy_id,
            member_id=str(claim_members[claim_pk]),
            layer_id=layer_id,
            benefit_year=year,
            position=delta.position,
            paid=delta.paid,
            member_share=delta.member_share,
        )
        for claim_pk, moved in deltas.items()
        for layer_id, delta in moved.items()
    )
    for member_id, layers in accumulators.items():
        for layer_id, value in layers.items():
            row = session.get(StoredAccumulator, (policy_id, member_id, layer_id, year), populate_existing=True)
            if row is None:
                session.add(
                    StoredAccumulator(
                        policy_id=policy_id,
                        member_id=member_id,
                        layer_id=layer_id,
                        benefit_year=year,
                        position=value.position,
                        paid=value.paid,
                        member_share=value.member_share,
                    )
                )
            else:
                row.position, row.paid, row.member_share = value.position, value.paid, value.member_share
    session.flush()


def resettle_later_claims(
    *, session: Session, reversed_claim_pk: int, actor: str = SYSTEM_ACTOR
) -> list[ClaimAdjustment]:
    """Settle again, in arrival order, the member's claims that arrived after a reversed claim
    under the same policy and benefit year; store what each now pays more or less.

    Called under the member lock, after :func:`equicover.claims.service.reverse_claim` took the
    reversed claim's deltas out of the accumulators."""
    reversed_row = session.get(Claim, reversed_claim_pk)
    if reversed_row is None:
        raise NotFound(f"claim row {reversed_claim_pk}", "id", "unknown claim")
    if reversed_row.status != "reversed":
        raise Conflict(f"claim {reversed_row.claim_id}", "status", "only a reversed claim frees what it used")
    moved = session.scalars(
        select(ClaimAccumulatorDelta).where(ClaimAccumulatorDelta.claim_pk == reversed_claim_pk)
    ).first()
    if moved is None:  # it moved no accumulator: no later claim counted it
        return []
    policy_id, year, member_id = moved.policy_id, moved.benefit_year, str(reversed_row.person_id)
    versions = {
        version.id: version
        for version in session.scalars(select(PolicyVersion).where(PolicyVersion.policy_id == policy_id))
    }
    candidates = session.scalars(
        select(Claim)
        .where(
            Claim.person_id == reversed_row.person_id,
            Claim.status == "settled",
            Claim.id > reversed_claim_pk,
            Claim.policy_version_id.in_(list(versions)),
            Claim.zero_reason.is_(None),
        )
        .order_by(Claim.id)
    ).all()
    compiled: dict[int, _CompiledPolicy] = {}
    later: list[Claim] = []
    for claim in candidates:
        assert claim.policy_version_id is not None
        version = versions[claim.policy_version_id]
        entry = _compiled(version.id, version.sha256, version.source_text)
        assert entry is not None
        compiled[claim.id] = entry
        if entry.policy.benefit_year(claim.service_date) == year:
            later.append(claim)
    if not later:
        return []
    # Where the later claims started: today's accumulators without what they added.
    running: dict[str, Accumulator] = {
        row.layer_id: Accumulator(row.position, row.paid, row.member_share)
        for row in session.scalars(
            select(StoredAccumulator)
            .where(
                StoredAccumulator.policy_id == policy_id,
                StoredAccumulator.member_id == member_id,
                StoredAccumulator.benefit_year == year,
            )
            .execution_options(populate_existing=True)
        )
    }
    for delta in session.scalars(
        select(ClaimAccumulatorDelta).where(
            ClaimAccumulatorDelta.claim_pk.in_([claim.id for claim in later]),
            ClaimAccumulatorDelta.policy_id == policy_id,
            ClaimAccumulatorDelta.benefit_year == year,
        )
    ):
        value = running.get(delta.layer_id, NO_ACCUMULATION)
        running[delta.layer_id] = Accumulator(
            value.position - delta.position, value.paid - delta.paid, value.member_share - delta.member_share
        )
    targets: dict[int, Amounts] = {}
    deltas: dict[int, dict[str, Accumulator]] = {}
    for claim in later:
        entry = compiled[claim.id]
        store = DatabaseAccumulatorStore(policy_id, member_id, year, dict(running))
        settlement = entry.engine.with_store(store).settle(engine_claim(claim))
        targets[claim.id] = _targets(settlement, entry.payers)
        deltas[claim.id] = {}
        for layer_id, old, new in store.changes():
            running[layer_id] = new
            deltas[claim.id][layer_id] = Accumulator(
                new.position - old.position, new.paid - old.paid, new.member_share - old.member_share
            )
    _write_deltas_and_accumulators(session, policy_id, year, deltas, deltas, {member_id: running})
    lines = _store_differences(
        session, later, targets, cause="resettlement", actor=actor, cause_claim_pk=reversed_claim_pk
    )
    if lines:
        record_change(
            session=session,
            actor=actor,
            entity="claims",
            entity_id=reversed_claim_pk,
            action="resettle",
            after={"claims": len({line.claim_pk for line in lines}), "adjustments": len(lines)},
        )
    return lines


def reversal_adjustments(
    *, session: Session, claim_pk: int, paid_to_provider: bool, actor: str = SYSTEM_ACTOR
) -> list[ClaimAdjustment]:
    """Lines that bring what a reversed claim's payers owe its provider to zero: what they paid
    (``paid_to_provider``: the claim was in an approved batch) and every earlier adjustment."""
    claim = session.get(Claim, claim_pk)
    if claim is None:
        raise NotFound(f"claim row {claim_pk}", "id", "unknown claim")
    if claim.status != "reversed":
        raise Conflict(f"claim {claim.claim_id}", "status", "only a reversed claim is recovered")
    targets: Amounts = {}
    for (kind, item_id), (payer, amount) in current_amounts(session=session, claims=[claim])[claim.id].items():
        if kind != "layer":
            continue
        adjusted = amount if paid_to_provider else amount - _paid(session, claim.id, item_id)
        targets[(kind, item_id)] = (payer, amount - adjusted)
    return _store_differences(session, [claim], {claim.id: targets}, cause="reversal", actor=actor,
                              cause_claim_pk=claim.id)  # fmt: skip


def member_refund(
    *, session: Session, claim_pk: int, amount: int, layer_id: str, actor: str = SYSTEM_ACTOR
) -> list[ClaimAdjustment]:
    """A decided grievance re-settles a claim's member share: the member's share falls by
    ``amount`` (a ``member_refund`` line) and the layer ``layer_id`` pays it instead (a
    ``payer_top_up``), so the claim's payments and the member's share still add up to its bill.
    Refused: a reversed claim, an amount not above zero or above the member's share, a layer the
    claim's policy does not settle with. The lines carry the cause ``resettlement`` with no reversed
    claim behind them (``cause_claim_pk`` empty): that is how a refund by decision reads apart from a
    re-settlement after a reversal; the grievance's step names the line."""
    claim = session.get(Claim, claim_pk)
    if claim is None:
        raise NotFound(f"claim row {claim_pk}", "id", "unknown claim")
    record = f"claim {claim.claim_id}"
    if claim.status != "settled":
        raise Conflict(record, "status", "a reversed claim is not refunded")
    now = current_amounts(session=session, claims=[claim])[claim.id]
    _, share = now[(MEMBER, MEMBER)]
    if amount <= 0 or amount > share:
        raise ValidationFailed(
            record, "amount", f"must be above 0 and at most the member's share ({share} minor units)"
        )
    if claim.policy_version_id is None:
        raise ValidationFailed(record, "layer_id", "the claim was settled without a policy: no layer pays it")
    version = session.get(PolicyVersion, claim.policy_version_id)
    assert version is not None
    compiled = _compiled(version.id, version.sha256, version.source_text)
    assert compiled is not None
    if layer_id not in compiled.payers:
        raise ValidationFailed(record, "layer_id", f"not a layer of policy {version.policy_id}")
    payer, paid = now.get(("layer", layer_id), (compiled.payers[layer_id], 0))
    targets: Amounts = {("layer", layer_id): (payer, paid + amount), (MEMBER, MEMBER): (MEMBER, share - amount)}
    return _store_differences(session, [claim], {claim.id: targets}, cause="resettlement", actor=actor)


def _paid(session: Session, claim_pk: int, item_id: str) -> int:
    amount = session.scalar(
        select(ClaimPayment.amount).where(
            ClaimPayment.claim_pk == claim_pk, ClaimPayment.kind == "layer", ClaimPayment.item_id == item_id
        )
    )
    return int(amount or 0)


# --------------------------------------------------------------------------------------------
# Year-end reconciliation


@dataclass(slots=True)
class Reconciliation:
    """What one reconciliation found: the run, the claims re-settled, the lines stored."""

    run: ReconciliationRun
    scheme_code: str
    claims: int
    adjustments: list[ClaimAdjustment] = field(default_factory=list)


def _year_bounds(year: int) -> tuple[dt.date, dt.date]:
    # A benefit year starts on its year_start (any month-day): its dates lie within these two years.
    return dt.date(year, 1, 1), dt.date(year + 1, 12, 31)


def reconcile_year(*, session: Session, scheme_code: str, year: int, actor: str = SYSTEM_ACTOR) -> Reconciliation:
    """Settle a scheme's stored benefit year again with the batch engine, in service-date order,
    and store what each claim pays more or less per payer and for its member.

    Reversed claims and claims settled with zero payments (not covered, no contract ...) are not
    re-settled. Refused: an unknown scheme, a year outside 1900-9999, a year settled under more than
    one version of a policy (the batch engine settles a file with one set of rules)."""
    record = f"scheme {scheme_code}"
    if not 1900 <= year <= 9998:
        raise ValidationFailed(record, "year", "a benefit year between 1900 and 9998")
    scheme = session.scalar(select(Scheme).where(Scheme.code == scheme_code))
    if scheme is None:
        raise NotFound(record, "scheme_code", "unknown scheme")
    versions = {
        version.id: version
        for version in session.scalars(select(PolicyVersion).where(PolicyVersion.scheme_id == scheme.id))
    }
    starts, ends = _year_bounds(year)
    settled = (
        Claim.policy_version_id.in_(list(versions)),
        Claim.status == "settled",
        Claim.zero_reason.is_(None),
        Claim.service_date >= starts,
        Claim.service_date <= ends,
    )
    # Real-time submissions of these members wait until the year is reconciled.
    session.execute(
        select(Person.id)
        .where(Person.id.in_(select(Claim.person_id).where(*settled)))
        .order_by(Person.id)
        .with_for_update()
    )
    rows = session.scalars(
        select(Claim).where(*settled).order_by(Claim.id).execution_options(populate_existing=True)
    ).all()
    by_policy: dict[str, list[Claim]] = defaultdict(list)
    used: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        assert row.policy_version_id is not None
        version = versions[row.policy_version_id]
        entry = _compiled(version.id, version.sha256, version.source_text)
        assert entry is not None
        if entry.policy.benefit_year(row.service_date) != year:
            continue
        by_policy[version.policy_id].append(row)
        used[version.policy_id].add(version.id)
    for policy_id, version_ids in used.items():
        if len(version_ids) > 1:
            raise Conflict(
                record,
                "year",
                f"the year is settled under {len(version_ids)} versions of policy {policy_id}; "
                "reconciliation settles a year under one version",
            )
    run = ReconciliationRun(
        scheme_id=scheme.id, benefit_year=year, claims=0, adjusted_claims=0, created_at=_now(), created_by=actor
    )
    session.add(run)
    session.flush()
    result = Reconciliation(run=run, scheme_code=scheme_code, claims=0)
    for policy_id, claims in sorted(by_policy.items()):
        version = versions[next(iter(used[policy_id]))]
        entry = _compiled(version.id, version.sha256, version.source_text)
        assert entry is not None
        # Bill numbers are unique per facility, not across facilities: the key keeps the claim id's order.
        keys = {f"{claim.claim_id}\x1f{claim.id}": claim for claim in claims}
        records = settle_records(
            entry.policy, [engine_claim(claim, key) for key, claim in keys.items()], movements=True
        )
        targets: dict[int, Amounts] = {}
        deltas: dict[int, dict[str, Accumulator]] = {}
        accumulators: dict[str, dict[str, Accumulator]] = defaultdict(dict)
        members = {str(claim.person_id) for claim in claims}
        for stored in session.scalars(
            select(StoredAccumulator).where(
                StoredAccumulator.policy_id == policy_id, StoredAccumulator.benefit_year == year
            )
        ):
            if stored.member_id in members:  # a layer none of the year's claims moves any more is back to zero
                accumulators[stored.member_id][stored.layer_id] = NO_ACCUMULATION
        for settled_record in records:
            claim = keys[str(settled_record["claim_id"])]
            amounts: Amounts = {
                ("layer", layer.id): (layer.payer, int(settled_record[f"paid_{layer.id}"]))
                for layer in entry.policy.layers
            }
            amounts.update(
                {
                    ("allowance", allowance.id): (ALLOWANCE_PAYER, int(settled_record[f"allowance_{allowance.id}"]))
                    for allowance in entry.policy.allowances
                }
            )
            amounts[(MEMBER, MEMBER)] = (MEMBER, int(settled_record["member_oop"]))
            targets[claim.id] = amounts
            movements: dict[str, Accumulator] = settled_record["movements"]
            deltas[claim.id] = movements
            member = accumulators[str(claim.person_id)]
            for layer_id, delta in movements.items():
                value = member.get(layer_id, NO_ACCUMULATION)
                member[layer_id] = Accumulator(
                    value.position + delta.position, value.paid + delta.paid, value.member_share + delta.member_share
                )
        _write_deltas_and_accumulators(session, policy_id, year, deltas, deltas, accumulators)
        result.adjustments += _store_differences(session, claims, targets, cause="reconciliation", actor=actor,
                                                 run_id=run.id)  # fmt: skip
        result.claims += len(claims)
    run.claims = result.claims
    run.adjusted_claims = len({line.claim_pk for line in result.adjustments})
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="reconciliation_runs",
        entity_id=run.id,
        action="create",
        after={"scheme_id": scheme.id, "benefit_year": year, "claims": run.claims, "adjusted": run.adjusted_claims},
    )
    return result
