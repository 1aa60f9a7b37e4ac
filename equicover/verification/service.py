"""Verification of providers: risk-based samples, verifier findings, recoveries, scorecards.

The only door to ``review_samples``, ``claim_reviews`` and ``recoveries``. Keyword-only, never
commits.

- :func:`draw_sample` picks claims of a period for review: a uniform random part (every claim
  can be checked, so providers cannot learn what is never looked at) plus a risk-weighted part
  (weights from peer comparison and the latest anomaly flags). Same data + same seed = same sample.
- :func:`verifier_queue` lists open reviews for a verifier's districts; :func:`decide` records a
  finding (accept -> confirmed, disallow -> partly disallowed with an amount, reject -> rejected,
  query -> asked the provider, still open).
- A disallowance or rejection creates recoveries per fund (shares of what each layer paid) and
  posts them in the fund ledger (Dr payable to the provider, Cr provider payments); the next
  payment batch of the provider deducts them. :func:`reverse_finding` undoes them when the
  finding is found wrong.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.claims import service as claims_service
from equicover.claims.models import Claim, ClaimPayment, PolicyVersion
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.ledger import service as ledger
from equicover.providers.models import Provider
from equicover.registry.models import Location
from equicover.verification.models import OPEN_STATUSES, ClaimReview, Recovery, ReviewSample

DECISIONS = {"accept": "confirmed", "query": "queried", "disallow": "partly_disallowed", "reject": "rejected"}
RISK_FLAG_WEIGHT = 5.0  # a claim flagged by the latest anomaly run weighs this much more


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class _Candidate:
    claim_pk: int
    provider_id: int
    district_id: int | None
    weight: float
    reason: str


def _candidates(session: Session, starts: dt.date, ends: dt.date, provider_ids: list[int] | None) -> list[_Candidate]:
    from equicover.anomaly.models import AnomalyFlag, AnomalyRun

    reviewed = select(ClaimReview.claim_pk)
    query = (
        select(
            Claim.id,
            Claim.provider_id,
            Location.district_id,
            Claim.provider_level,
            Claim.care_type,
            Claim.diagnosis,
            Claim.allowed,
        )
        .join(Provider, Provider.id == Claim.provider_id)
        .join(Location, Location.id == Provider.location_id)
        .where(
            Claim.service_date >= starts,
            Claim.service_date <= ends,
            Claim.status == "settled",
            Claim.zero_reason.is_(None),
            Claim.id.not_in(reviewed),
            # Only what a fund paid is verified: a claim the member paid in full has nothing to recover.
            exists().where(ClaimPayment.claim_pk == Claim.id, ClaimPayment.kind == "layer", ClaimPayment.amount > 0),
        )
        .order_by(Claim.id)
    )
    if provider_ids is not None:
        query = query.where(Claim.provider_id.in_(provider_ids))
    rows = session.execute(query).all()
    latest_run = session.scalar(select(func.max(AnomalyRun.id)))
    flagged: dict[int, str] = {}
    if latest_run is not None:
        flagged = dict(
            session.execute(
                select(AnomalyFlag.claim_pk, AnomalyFlag.reason).where(AnomalyFlag.run_id == latest_run)
            ).all()
        )
    # Peer comparison: log cost against the median of the same level, care type and 3-character
    # diagnosis; robust z from the median absolute deviation.
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        groups[(row.provider_level, row.care_type, row.diagnosis[:3])].append(index)
    weights = np.ones(len(rows))
    reasons = [""] * len(rows)
    for members in groups.values():
        costs = np.log1p(np.array([max(rows[i].allowed, 0) for i in members], dtype=float))
        median = float(np.median(costs))
        mad = float(np.median(np.abs(costs - median))) * 1.4826
        if mad <= 0:
            continue
        for position, index in enumerate(members):
            z = (costs[position] - median) / mad
            if z > 0:
                weights[index] += z
                if z >= 2:
                    reasons[index] = f"cost {math.expm1(costs[position]) / math.expm1(median):.1f}x the peer median"
    candidates = []
    for index, row in enumerate(rows):
        weight, reason = float(weights[index]), reasons[index]
        if row.id in flagged:
            weight += RISK_FLAG_WEIGHT
            reason = f"anomaly: {flagged[row.id]}"[:400]
        candidates.append(_Candidate(row.id, row.provider_id, row.district_id, weight, reason))
    return candidates


def draw_sample(
    *,
    session: Session,
    period_starts: dt.date,
    period_ends: dt.date,
    random_count: int,
    risk_count: int,
    seed: int,
    provider_ids: list[int] | None = None,
    actor: str = SYSTEM_ACTOR,
) -> ReviewSample:
    """Select claims served in the period (settled, paid, not yet reviewed) for review."""
    record = "review sample"
    if period_ends < period_starts:
        raise ValidationFailed(record, "period_ends", "is before period_starts")
    if random_count < 0 or risk_count < 0 or random_count + risk_count == 0:
        raise ValidationFailed(record, "random_count", "ask for at least one claim, no negative counts")
    candidates = _candidates(session, period_starts, period_ends, provider_ids)
    generator = np.random.default_rng(seed)
    chosen_random: list[int] = []
    if candidates and random_count:
        chosen_random = sorted(
            generator.choice(len(candidates), size=min(random_count, len(candidates)), replace=False).tolist()
        )
    remaining = np.setdiff1d(np.arange(len(candidates)), np.array(chosen_random, dtype=np.int64))
    chosen_risk: list[int] = []
    if len(remaining) and risk_count:
        weights = np.array([candidates[i].weight for i in remaining])
        chosen_risk = sorted(
            remaining[
                generator.choice(
                    len(remaining), size=min(risk_count, len(remaining)), replace=False, p=weights / weights.sum()
                )
            ].tolist()
        )
    sample = ReviewSample(
        period_starts=period_starts,
        period_ends=period_ends,
        seed=seed,
        random_count=len(chosen_random),
        risk_count=len(chosen_risk),
        created_at=_now(),
        created_by=actor,
    )
    session.add(sample)
    session.flush()
    for selection, chosen in (("random", chosen_random), ("risk", chosen_risk)):
        for index in chosen:
            candidate = candidates[index]
            session.add(
                ClaimReview(
                    sample_id=sample.id,
                    claim_pk=candidate.claim_pk,
                    provider_id=candidate.provider_id,
                    district_id=candidate.district_id,
                    selection=selection,
                    risk_score=round(candidate.weight, 4),
                    risk_reason=candidate.reason,
                    status="pending",
                    disallowed=0,
                )
            )
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="review_samples",
        entity_id=sample.id,
        action="create",
        after={"seed": seed, "random": len(chosen_random), "risk": len(chosen_risk)},
    )
    return sample


def sampled_claim_ids(*, session: Session, sample_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Claim.claim_id)
            .join(ClaimReview, ClaimReview.claim_pk == Claim.id)
            .where(ClaimReview.sample_id == sample_id)
            .order_by(Claim.claim_id)
        )
    )


@dataclass(frozen=True, slots=True)
class QueueItem:
    review_id: int
    claim_id: str
    provider_code: str
    district_id: int | None
    service_date: dt.date
    care_type: str
    diagnosis: str
    days: int
    allowed: int
    paid: int
    selection: str
    risk_score: float
    risk_reason: str
    status: str
    currency: str  # of the claim's policy version: the amounts above are counted in it
    minor_digits: int
    provider_name: str = ""
    disallowed: int = 0
    decided_at: dt.datetime | None = None


@dataclass(frozen=True)
class QueueFilter:
    """Which reviews a queue lists: by district, status (default: the open ones), selection and care type."""

    district_ids: list[int] | None = None
    statuses: tuple[str, ...] = OPEN_STATUSES
    selection: str | None = None
    care_type: str | None = None
    provider_scope: Any = None  # an SQL condition on ``Provider`` (a user's area, see ``auth.scoping``)

    def apply(self, query: Any) -> Any:
        query = query.where(ClaimReview.status.in_(self.statuses))
        if self.provider_scope is not None:
            query = query.where(self.provider_scope)
        if self.district_ids is not None:
            query = query.where(ClaimReview.district_id.in_(self.district_ids))
        if self.selection:
            query = query.where(ClaimReview.selection == self.selection)
        if self.care_type:
            query = query.where(Claim.care_type == self.care_type)
        return query


def verifier_queue(
    *,
    session: Session,
    district_ids: list[int] | None = None,
    include_queried: bool = True,
    limit: int = 500,
    offset: int = 0,
    provider_scope: Any = None,
    queue_filter: QueueFilter | None = None,
) -> list[QueueItem]:
    """Reviews, riskiest first (open ones by default), for the given districts (None: every district).

    ``queue_filter`` chooses the reviews (its districts and scope replace ``district_ids`` and
    ``provider_scope``). What the funds paid is summed for the page's claims only, so a page costs
    the same however many claims the province has."""
    chosen = queue_filter or QueueFilter(
        district_ids=district_ids,
        statuses=OPEN_STATUSES if include_queried else ("pending",),
        provider_scope=provider_scope,
    )
    query = chosen.apply(
        select(ClaimReview, Claim, Provider.code, Provider.name, PolicyVersion.currency, PolicyVersion.minor_digits)
        .join(Claim, Claim.id == ClaimReview.claim_pk)
        # Only claims the payers paid are sampled, and only a policy version pays.
        .join(PolicyVersion, PolicyVersion.id == Claim.policy_version_id)
        .join(Provider, Provider.id == ClaimReview.provider_id)
    )
    if any(status not in OPEN_STATUSES for status in chosen.statuses):
        # Decided reviews: the latest decisions first.
        query = query.order_by(ClaimReview.decided_at.desc().nulls_last(), ClaimReview.id.desc())
    else:
        query = query.order_by(ClaimReview.risk_score.desc(), ClaimReview.id)
    rows = session.execute(query.limit(limit).offset(offset)).all()
    claim_pks = [claim.id for _review, claim, *_rest in rows]
    paid: dict[int, int] = {}
    if claim_pks:
        paid = {
            claim_pk: int(amount)
            for claim_pk, amount in session.execute(
                select(ClaimPayment.claim_pk, func.sum(ClaimPayment.amount))
                .where(ClaimPayment.claim_pk.in_(claim_pks), ClaimPayment.kind == "layer")
                .group_by(ClaimPayment.claim_pk)
            ).all()
        }
    return [
        QueueItem(
            review.id,
            claim.claim_id,
            code,
            review.district_id,
            claim.service_date,
            claim.care_type,
            claim.diagnosis,
            claim.days,
            claim.allowed,
            paid.get(claim.id, 0),
            review.selection,
            review.risk_score,
            review.risk_reason,
            review.status,
            currency,
            int(digits),
            provider_name=name,
            disallowed=review.disallowed,
            decided_at=review.decided_at,
        )
        for review, claim, code, name, currency, digits in rows
    ]


def count_queue(*, session: Session, queue_filter: QueueFilter) -> int:
    """How many reviews :func:`verifier_queue` would list with ``queue_filter``, over all pages."""
    query = queue_filter.apply(
        select(func.count())
        .select_from(ClaimReview)
        .join(Claim, Claim.id == ClaimReview.claim_pk)
        .join(Provider, Provider.id == ClaimReview.provider_id)
    )
    return int(session.scalar(query) or 0)


def queue_care_types(*, session: Session, queue_filter: QueueFilter) -> list[str]:
    """The care types of the reviews a filter (without its care type) lists, for the filter's choices."""
    unfiltered = QueueFilter(
        district_ids=queue_filter.district_ids,
        statuses=queue_filter.statuses,
        selection=queue_filter.selection,
        provider_scope=queue_filter.provider_scope,
    )
    query = unfiltered.apply(
        select(Claim.care_type)
        .distinct()
        .select_from(ClaimReview)
        .join(Claim, Claim.id == ClaimReview.claim_pk)
        .join(Provider, Provider.id == ClaimReview.provider_id)
    )
    return sorted(session.scalars(query).all())


def _layer_payments(session: Session, claim_pk: int) -> list[tuple[str, int]]:
    return [
        (ledger.fund_code_of_payment(kind, item, payer), int(amount))
        for kind, item, payer, amount in session.execute(
            select(ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.payer, ClaimPayment.amount)
            .where(ClaimPayment.claim_pk == claim_pk, ClaimPayment.kind == "layer", ClaimPayment.amount > 0)
            .order_by(ClaimPayment.id)
        ).all()
    ]


Payer = TypeVar("Payer")  # what a recovery is shared among: a fund code, or a (fund, use) pair


def split_recovery(amount: int, payments: Sequence[tuple[Payer, int]]) -> list[tuple[Payer, int]]:
    """Share ``amount`` among payers (funds, or a fund's uses) in proportion to what each paid
    (largest remainder, exact sum)."""
    total = sum(paid for _, paid in payments)
    if amount > total:
        raise ValueError("cannot recover more than was paid")
    shares = [(fund, amount * paid // total, (amount * paid) % total) for fund, paid in payments] if total else []
    left = amount - sum(share for _, share, _ in shares)
    order = sorted(range(len(shares)), key=lambda i: (-shares[i][2], i))
    amounts = [share for _, share, _ in shares]
    for i in order[:left]:
        amounts[i] += 1
    return [(fund, share) for (fund, _, _), share in zip(shares, amounts) if share]


def decide(
    *,
    session: Session,
    review_id: int,
    decision: str,
    reason: str | None = None,
    amount: int | None = None,
    actor: str = SYSTEM_ACTOR,
    on: dt.date | None = None,
) -> ClaimReview:
    """Record a verifier's finding on an open review.

    ``decision``: accept | query | disallow (``amount`` > 0 and below what the payers paid) |
    reject (everything the payers paid is recovered). A reason is required except to accept.
    """
    record = f"review {review_id}"
    review = session.get(ClaimReview, review_id)
    if review is None:
        raise NotFound(record, "review_id", "unknown review")
    if decision not in DECISIONS:
        raise ValidationFailed(record, "decision", f"one of {', '.join(DECISIONS)}")
    if review.status not in OPEN_STATUSES:
        raise Conflict(record, "status", f"already decided ({review.status})")
    if decision != "accept" and not (reason and reason.strip()):
        raise ValidationFailed(record, "reason", "required for this decision")
    payments = _layer_payments(session, review.claim_pk)
    paid = sum(share for _, share in payments)
    recovered = 0
    if decision == "disallow":
        if amount is None or amount <= 0:
            raise ValidationFailed(record, "amount", "a positive amount to disallow is required")
        if amount >= paid:
            raise ValidationFailed(record, "amount", "must be below what the payers paid (reject the claim instead)")
        recovered = amount
    elif decision == "reject":
        recovered = paid
    elif amount:
        raise ValidationFailed(record, "amount", "only a disallowance takes an amount")
    day = on or _now().date()
    before = {"status": review.status}
    review.status = DECISIONS[decision]
    review.reason = reason.strip() if reason else None
    review.decided_by = actor
    review.decided_at = _now()
    review.disallowed = recovered
    if recovered:
        claim = session.get(Claim, review.claim_pk)
        assert claim is not None
        currency, digits = _currency_of(session, claim)
        for fund, share in split_recovery(recovered, payments):
            session.add(
                Recovery(
                    review_id=review.id,
                    claim_pk=claim.id,
                    provider_id=claim.provider_id,
                    fund_code=fund,
                    amount=share,
                    recorded_on=day,
                )
            )
            ledger.ensure_fund(session=session, code=fund, name=fund, currency=currency, minor_digits=digits)
            ledger.post_entry(
                session=session,
                fund_code=fund,
                posted_on=day,
                kind="recovery",
                lines=[
                    ledger.Line(ledger.PAYABLE, debit=share, provider_id=claim.provider_id),
                    ledger.Line(ledger.PROVIDER_PAYMENTS, credit=share),
                ],
                reference=f"review {review.id}",
                memo=f"{review.status}: claim {claim.claim_id}",
                actor=actor,
            )
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="claim_reviews",
        entity_id=review.id,
        action="update",
        before=before,
        after={"status": review.status, "disallowed": recovered},
    )
    return review


@dataclass(frozen=True, slots=True)
class ReversedFinding:
    review: ClaimReview
    cancelled: int  # recovered amount not netted yet: taken off the provider's next batch
    to_repay: list[tuple[str, int]]  # (fund, amount) already netted in an approved batch: owed back


def recoveries_of(*, session: Session, review_id: int) -> list[Recovery]:
    return list(session.scalars(select(Recovery).where(Recovery.review_id == review_id).order_by(Recovery.id)))


def reverse_finding(
    *,
    session: Session,
    review_id: int,
    reason: str,
    on: dt.date,
    draft_batch_ids: Collection[int] = (),
    actor: str = SYSTEM_ACTOR,
) -> ReversedFinding:
    """Undo a disallowance or a rejection found wrong (a provider's grievance upheld): the review
    is confirmed with nothing disallowed, the ledger owes the provider the recovered amount again
    (Dr provider payments, Cr payable). A recovery no batch has netted is deleted; one netted in
    an approved batch stays as history and is returned in ``to_repay``, for the caller to have it
    paid back in the provider's next batch. A recovery held by one of ``draft_batch_ids`` (the
    caller, above payments, knows which batches are drafts) is refused (409): cancel the draft
    first, its figures would no longer add up.
    """
    record = f"review {review_id}"
    review = session.get(ClaimReview, review_id)
    if review is None:
        raise NotFound(record, "review_id", "unknown review")
    if review.status not in ("partly_disallowed", "rejected") or review.disallowed <= 0:
        raise Conflict(record, "status", f"nothing disallowed to reverse ({review.status})")
    if not reason.strip():
        raise ValidationFailed(record, "reason", "required")
    recoveries = recoveries_of(session=session, review_id=review.id)
    held = sorted(
        {
            r.payment_batch_id
            for r in recoveries
            if r.payment_batch_id is not None and r.payment_batch_id in draft_batch_ids
        }
    )
    if held:
        raise Conflict(record, "recoveries", f"netted in draft payment batch {held[0]}: cancel the draft first")
    claim = session.get_one(Claim, review.claim_pk)
    cancelled = 0
    to_repay: list[tuple[str, int]] = []
    for recovery in recoveries:
        ledger.post_entry(
            session=session,
            fund_code=recovery.fund_code,
            posted_on=on,
            kind="reversal",
            lines=[
                ledger.Line(ledger.PROVIDER_PAYMENTS, debit=recovery.amount),
                ledger.Line(ledger.PAYABLE, credit=recovery.amount, provider_id=recovery.provider_id),
            ],
            reference=f"review {review.id}",
            memo=f"finding reversed: claim {claim.claim_id}",
            actor=actor,
        )
        if recovery.payment_batch_id is None:
            cancelled += recovery.amount
            session.delete(recovery)
        else:
            to_repay.append((recovery.fund_code, recovery.amount))
    before = {"status": review.status, "disallowed": review.disallowed}
    review.status = "confirmed"
    review.disallowed = 0
    review.reason = f"{review.reason or ''}\n[reversed {on.isoformat()}] {reason.strip()}".strip()
    review.decided_by = actor
    review.decided_at = _now()
    session.flush()
    record_change(
        session=session, actor=actor, entity="claim_reviews", entity_id=review.id, action="reverse",
        before=before, after={"status": review.status, "disallowed": 0, "cancelled": cancelled,
                              "repaid": sum(amount for _, amount in to_repay)},
    )  # fmt: skip
    return ReversedFinding(review, cancelled, to_repay)


def _currency_of(session: Session, claim: Claim) -> tuple[str, int]:
    return claims_service.money_of_version(
        session=session, version_id=claim.policy_version_id, record=f"claim {claim.id}"
    )


def money_of_review(*, session: Session, review_id: int) -> tuple[str, int]:
    """The currency and minor digits of the reviewed claim (those a disallowed amount is read in)."""
    review = session.get(ClaimReview, review_id)
    if review is None:
        raise NotFound(f"review {review_id}", "review_id", "unknown review")
    claim = session.get_one(Claim, review.claim_pk)
    return _currency_of(session, claim)


def unpaid_recoveries(*, session: Session, provider_id: int) -> list[Recovery]:
    """The provider's recoveries that no payment batch has netted yet."""
    return list(
        session.scalars(
            select(Recovery).where(Recovery.provider_id == provider_id, Recovery.payment_batch_id.is_(None))
        )
    )


def net_recoveries_in_batch(*, session: Session, recoveries: list[Recovery], payment_batch_id: int) -> None:
    """Mark recoveries as netted in a payment batch (a draft; :func:`release_recoveries` undoes it)."""
    for recovery in recoveries:
        recovery.payment_batch_id = payment_batch_id
    session.flush()


def release_recoveries(*, session: Session, payment_batch_id: int) -> None:
    """The recoveries of a cancelled draft batch wait for the next batch again."""
    session.execute(update(Recovery).where(Recovery.payment_batch_id == payment_batch_id).values(payment_batch_id=None))


def open_review_claims(*, session: Session, provider_id: int) -> set[int]:
    """Claim pks of the provider held by an open review (not paid until decided)."""
    return set(
        session.scalars(
            select(ClaimReview.claim_pk).where(
                ClaimReview.provider_id == provider_id, ClaimReview.status.in_(OPEN_STATUSES)
            )
        )
    )


@dataclass(frozen=True, slots=True)
class Scorecard:
    provider_id: int
    provider_code: str
    level: str
    claims: int
    billed: int
    allowed: int
    paid: int
    reviewed: int
    rejected: int
    partly_disallowed: int
    recovered: int
    inpatient_cases: int
    inpatient_days: int
    inpatient_allowed: int
    peer_cost_per_case: float | None  # mean over the providers of the same level (ratio, not money)

    @property
    def rejection_rate(self) -> float | None:
        return self.rejected / self.reviewed if self.reviewed else None

    @property
    def disallowance_rate(self) -> float | None:
        """Share of reviewed findings that took money back (partly or wholly)."""
        return (self.rejected + self.partly_disallowed) / self.reviewed if self.reviewed else None

    @property
    def average_length_of_stay(self) -> float | None:
        return self.inpatient_days / self.inpatient_cases if self.inpatient_cases else None

    @property
    def cost_per_case(self) -> float | None:
        return self.inpatient_allowed / self.inpatient_cases if self.inpatient_cases else None

    @property
    def cost_against_peers(self) -> float | None:
        if self.cost_per_case is None or not self.peer_cost_per_case:
            return None
        return self.cost_per_case / self.peer_cost_per_case


def provider_scorecards(*, session: Session, period_starts: dt.date, period_ends: dt.date) -> list[Scorecard]:
    """One scorecard per provider with claims served in the period (settled, not reversed)."""
    in_period = and_(Claim.service_date >= period_starts, Claim.service_date <= period_ends, Claim.status == "settled")
    inpatient = Claim.care_type == "inpatient"
    base = session.execute(
        select(
            Claim.provider_id,
            func.count(),
            func.sum(Claim.total),
            func.sum(Claim.allowed),
            func.sum(case((inpatient, 1), else_=0)),
            func.sum(case((inpatient, Claim.days), else_=0)),
            func.sum(case((inpatient, Claim.allowed), else_=0)),
        )
        .where(in_period)
        .group_by(Claim.provider_id)
    ).all()
    paid = dict(
        session.execute(
            select(Claim.provider_id, func.sum(ClaimPayment.amount))
            .join(ClaimPayment, ClaimPayment.claim_pk == Claim.id)
            .where(in_period, ClaimPayment.kind == "layer")
            .group_by(Claim.provider_id)
        ).all()
    )
    reviews: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for provider_id, status, count, disallowed in session.execute(
        select(ClaimReview.provider_id, ClaimReview.status, func.count(), func.sum(ClaimReview.disallowed))
        .join(Claim, Claim.id == ClaimReview.claim_pk)
        .where(in_period)
        .group_by(ClaimReview.provider_id, ClaimReview.status)
    ).all():
        reviews[provider_id][status] += int(count)
        reviews[provider_id]["recovered"] += int(disallowed or 0)
    providers = {row.id: row for row in session.scalars(select(Provider))}
    cost_by_level: dict[str, list[float]] = defaultdict(list)
    for provider_id, _, _, _, cases, _, allowed in base:
        if cases:
            cost_by_level[providers[provider_id].level].append(int(allowed) / int(cases))
    cards = []
    for provider_id, count, billed, allowed, cases, days, inpatient_allowed in base:
        provider = providers[provider_id]
        decided = reviews[provider_id]
        peers = cost_by_level.get(provider.level) or []
        cards.append(
            Scorecard(
                provider_id=provider_id,
                provider_code=provider.code,
                level=provider.level,
                claims=int(count),
                billed=int(billed or 0),
                allowed=int(allowed or 0),
                paid=int(paid.get(provider_id) or 0),
                reviewed=sum(decided[s] for s in ("confirmed", "partly_disallowed", "rejected")),
                rejected=decided["rejected"],
                partly_disallowed=decided["partly_disallowed"],
                recovered=decided["recovered"],
                inpatient_cases=int(cases or 0),
                inpatient_days=int(days or 0),
                inpatient_allowed=int(inpatient_allowed or 0),
                peer_cost_per_case=(sum(peers) / len(peers)) if peers else None,
            )
        )
    return sorted(cards, key=lambda card: card.provider_code)
