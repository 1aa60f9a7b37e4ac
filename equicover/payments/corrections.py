"""Corrections of what providers are paid: a claim reversed after payment, a year reconciled.

Above claims, ledger and payments, this module runs the operations that touch all three; each
domain moves its own rows through its service (docs/architecture.md, "Operations across domains
are run from above"):

- :func:`reverse_claim`: the claims service reverses the claim (its accumulators are freed) and
  re-settles the member's claims that arrived after it in the same benefit year. A claim in a
  draft batch is taken out of the draft. A claim in an approved batch was paid: its payers'
  payments (and any earlier adjustment) become recovery lines against the provider, and the
  ledger takes the claim's reversal in now (Dr payable, Cr provider payments), not at the next
  month's claims posting.
- :func:`reconcile_year`: the claims service settles the year again in service-date order and
  stores the differences; the ledger posts them.
- :func:`record_correction`: an amount owed to or by a provider outside its claims (a payment
  batch found wrong on a grievance, a recovery repaid after its finding was reversed); the ledger
  takes it in when recorded, the provider's next batch nets it (:func:`corrections_due`).

Adjustment lines of a payer are netted in the provider's next payment batch (:func:`adjustments_due`,
called by ``draft_batch``); member lines travel with them as information: a member refund is paid
by the provider, out of the payers' top-up, to the member who paid too much at the counter.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.claims import service as claims
from equicover.claims.models import Claim, ClaimAdjustment, ClaimPayment
from equicover.errors import NotFound, ValidationFailed
from equicover.ledger import service as ledger
from equicover.payments.models import (
    PaymentBatch,
    PaymentBatchAdjustment,
    PaymentBatchClaim,
    PaymentBatchLine,
    PaymentCorrection,
)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def batch_of_claim(*, session: Session, claim_pk: int) -> PaymentBatch | None:
    """The batch (draft or approved) that holds a claim, if any."""
    return session.scalars(
        select(PaymentBatch)
        .join(PaymentBatchClaim, PaymentBatchClaim.batch_id == PaymentBatch.id)
        .where(PaymentBatchClaim.claim_pk == claim_pk, PaymentBatch.status != "cancelled")
    ).first()


def _layer_payments(session: Session, claim_pk: int) -> dict[str, int]:
    paid: dict[str, int] = defaultdict(int)
    for kind, item_id, payer, amount in session.execute(
        select(ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.payer, ClaimPayment.amount).where(
            ClaimPayment.claim_pk == claim_pk, ClaimPayment.kind == "layer", ClaimPayment.amount > 0
        )
    ).all():
        paid[ledger.fund_code_of_payment(kind, item_id, payer)] += int(amount)
    return paid


def _take_out_of_draft(session: Session, batch: PaymentBatch, claim_pk: int) -> None:
    """A reversed claim leaves its draft batch: the draft's claim lines and totals lose its payments."""
    paid = _layer_payments(session, claim_pk)
    session.execute(delete(PaymentBatchClaim).where(PaymentBatchClaim.claim_pk == claim_pk))
    for fund, amount in paid.items():
        line = session.scalars(
            select(PaymentBatchLine).where(
                PaymentBatchLine.batch_id == batch.id,
                PaymentBatchLine.fund_code == fund,
                PaymentBatchLine.kind == "claims",
            )
        ).first()
        if line is None:  # pragma: no cover - a draft's lines are written with its claims
            continue
        line.amount -= amount
        if line.amount == 0:
            session.delete(line)
    total = sum(paid.values())
    batch.claim_count -= 1
    batch.claims_amount -= total
    batch.net_amount -= total
    session.flush()


def _money_of_claim(session: Session, claim: Claim) -> tuple[str, int]:
    """The currency and minor digits of what a paid claim's payers paid: its policy version's."""
    return claims.money_of_version(session=session, version_id=claim.policy_version_id, record=f"claim {claim.id}")


def _post_adjustments(
    session: Session, lines: Sequence[tuple[int, str, str, int]], *, day: dt.date, reference: str, actor: str
) -> None:
    """Post payers' adjustments, (claim row id, layer id, payer, amount) each, in the ledger, grouped by
    the currency of the claims' policies."""
    by_money: dict[tuple[str, int], list[tuple[str, int, int]]] = defaultdict(list)
    for claim_pk, item_id, payer, amount in lines:
        claim = session.get(Claim, claim_pk)
        assert claim is not None
        by_money[_money_of_claim(session, claim)].append(
            (ledger.fund_code_of_payment("layer", item_id, payer), claim.provider_id, amount)
        )
    for (currency, digits), amounts in sorted(by_money.items()):
        ledger.post_claim_adjustments(
            session=session,
            amounts=amounts,
            posted_on=day,
            currency=currency,
            minor_digits=digits,
            reference=reference,
            actor=actor,
        )


def _layer_lines(lines: Sequence[ClaimAdjustment]) -> list[tuple[int, str, str, int]]:
    return [(line.claim_pk, line.item_id, line.payer, line.amount) for line in lines if line.kind == "layer"]


@dataclass(slots=True)
class Reversal:
    """A reversed claim, what happened to its payment, and the lines it caused."""

    claim: Claim
    batch_id: int | None
    paid: bool  # the claim was in an approved batch: its payments are recovered
    recoveries: list[ClaimAdjustment]
    resettled: list[ClaimAdjustment]


def reverse_claim(
    *,
    session: Session,
    claim_id: str,
    reason: str,
    actor: str = SYSTEM_ACTOR,
    only_provider_id: int | None = None,
    provider_id: int | None = None,
    on: dt.date | None = None,
) -> Reversal:
    """Reverse a claim wherever it is in the payment cycle (see the module's description)."""
    row = claims.reverse_claim(
        session=session,
        claim_id=claim_id,
        reason=reason,
        actor=actor,
        only_provider_id=only_provider_id,
        provider_id=provider_id,
    )
    day = on or _today()
    batch = batch_of_claim(session=session, claim_pk=row.id)
    paid = batch is not None and batch.status == "approved"
    if batch is not None and batch.status == "draft":
        _take_out_of_draft(session, batch, row.id)
    earlier: dict[tuple[str, str], int] = defaultdict(int)
    for line in claims.adjustments_of(session=session, claim_pk=row.id):
        if line.kind == "layer":
            earlier[(line.item_id, line.payer)] += line.amount
    recoveries = claims.reversal_adjustments(session=session, claim_pk=row.id, paid_to_provider=paid, actor=actor)
    if paid:
        currency, digits = _money_of_claim(session, row)
        # The claim's own reversal entry takes its payments back from the provider today.
        ledger.post_claim_settlements(
            session=session,
            up_to=row.service_date,
            currency=currency,
            minor_digits=digits,
            actor=actor,
            claim_pk=row.id,
            posted_on=day,
        )
    resettled = claims.resettle_later_claims(session=session, reversed_claim_pk=row.id, actor=actor)
    # Earlier adjustments of the reversed claim were posted as adjustments: they are undone as such.
    undone = [(row.id, item_id, payer, -amount) for (item_id, payer), amount in sorted(earlier.items()) if amount]
    _post_adjustments(
        session, [*undone, *_layer_lines(resettled)], day=day, reference=f"reversal of claim row {row.id}", actor=actor
    )
    return Reversal(
        claim=row, batch_id=batch.id if batch else None, paid=paid, recoveries=recoveries, resettled=resettled
    )


def reconcile_year(
    *, session: Session, scheme_code: str, year: int, actor: str = SYSTEM_ACTOR, on: dt.date | None = None
) -> claims.Reconciliation:
    """Reconcile a scheme's benefit year (claims service) and post the payers' differences in the ledger."""
    result = claims.reconcile_year(session=session, scheme_code=scheme_code, year=year, actor=actor)
    _post_adjustments(
        session,
        _layer_lines(result.adjustments),
        day=on or _today(),
        reference=f"reconciliation {result.run.id}",
        actor=actor,
    )
    return result


# --------------------------------------------------------------------------------------------
# Payment batches


@dataclass(frozen=True, slots=True)
class DueAdjustment:
    adjustment_id: int
    fund_code: str
    amount: int  # what the provider is paid more (negative: recovered); 0 for a member line
    policy_version_id: int | None  # the adjusted claim's: the money the amount is counted in


def adjustments_due(*, session: Session, provider_id: int, period_ends: dt.date) -> list[DueAdjustment]:
    """The provider's adjustment lines no batch has netted, of claims served by ``period_ends``."""
    netted = select(PaymentBatchAdjustment.adjustment_id)
    rows = session.execute(
        select(
            ClaimAdjustment.id,
            ClaimAdjustment.kind,
            ClaimAdjustment.item_id,
            ClaimAdjustment.payer,
            ClaimAdjustment.amount,
            Claim.policy_version_id,
        )
        .join(Claim, Claim.id == ClaimAdjustment.claim_pk)
        .where(
            Claim.provider_id == provider_id,
            Claim.service_date <= period_ends,
            ClaimAdjustment.kind.in_(("layer", "member")),
            ClaimAdjustment.id.not_in(netted),
        )
        .order_by(ClaimAdjustment.id)
    ).all()
    return [
        DueAdjustment(
            pk,
            ledger.fund_code_of_payment(kind, item_id, payer) if kind == "layer" else "",
            int(amount) if kind == "layer" else 0,
            version_id,
        )
        for pk, kind, item_id, payer, amount, version_id in rows
    ]


def providers_with_adjustments_due(*, period_ends: dt.date) -> Select[Any]:
    """The providers some adjustment line waits for (a subquery): a batch is drafted for them too."""
    return (
        select(Claim.provider_id)
        .join(ClaimAdjustment, ClaimAdjustment.claim_pk == Claim.id)
        .where(
            Claim.service_date <= period_ends,
            ClaimAdjustment.kind == "layer",
            ClaimAdjustment.id.not_in(select(PaymentBatchAdjustment.adjustment_id)),
        )
    )


def add_due_to_funds(
    due: Sequence[DueAdjustment], claims_by_fund: dict[str, int], recovered_by_fund: dict[str, int]
) -> None:
    """Top-ups are paid with the claims of their fund; recoveries deducted with the other recoveries."""
    for item in due:
        if item.amount > 0:
            claims_by_fund[item.fund_code] += item.amount
        elif item.amount < 0:
            recovered_by_fund[item.fund_code] += -item.amount


def net_adjustments_in_batch(*, session: Session, due: Sequence[DueAdjustment], batch_id: int) -> None:
    if due:
        session.add_all(PaymentBatchAdjustment(adjustment_id=item.adjustment_id, batch_id=batch_id) for item in due)
        session.flush()


def release_adjustments(*, session: Session, batch_id: int) -> None:
    """The adjustments of a cancelled draft wait for the next batch again."""
    session.execute(delete(PaymentBatchAdjustment).where(PaymentBatchAdjustment.batch_id == batch_id))


@dataclass(frozen=True, slots=True)
class BatchAdjustment:
    """One claim's netted lines in a batch, per fund and reason (member lines: fund "")."""

    claim_pk: int
    claim_id: str
    service_date: dt.date
    kind: str
    fund_code: str
    reason: str
    cause: str
    amount: int


def batch_adjustments(*, session: Session, batch_id: int) -> list[BatchAdjustment]:
    rows = session.execute(
        select(
            Claim.id,
            Claim.claim_id,
            Claim.service_date,
            ClaimAdjustment.kind,
            ClaimAdjustment.item_id,
            ClaimAdjustment.payer,
            ClaimAdjustment.reason,
            ClaimAdjustment.cause,
            func.sum(ClaimAdjustment.amount),
        )
        .join(ClaimAdjustment, ClaimAdjustment.claim_pk == Claim.id)
        .join(PaymentBatchAdjustment, PaymentBatchAdjustment.adjustment_id == ClaimAdjustment.id)
        .where(PaymentBatchAdjustment.batch_id == batch_id)
        .group_by(
            Claim.id,
            Claim.claim_id,
            Claim.service_date,
            ClaimAdjustment.kind,
            ClaimAdjustment.item_id,
            ClaimAdjustment.payer,
            ClaimAdjustment.reason,
            ClaimAdjustment.cause,
        )
        .order_by(Claim.service_date, Claim.claim_id, ClaimAdjustment.kind, ClaimAdjustment.item_id)
    ).all()
    return [
        BatchAdjustment(
            pk,
            claim_id,
            served,
            kind,
            ledger.fund_code_of_payment(kind, item_id, payer) if kind == "layer" else "",
            reason,
            cause,
            int(amount),
        )
        for pk, claim_id, served, kind, item_id, payer, reason, cause, amount in rows
    ]


# --------------------------------------------------------------------------------------------
# Corrections outside claims


def record_correction(
    *,
    session: Session,
    provider_id: int,
    fund_code: str,
    amount: int,
    source: str,
    on: dt.date,
    actor: str = SYSTEM_ACTOR,
    post_in_ledger: bool = True,
    paid_in: tuple[str, int] | None = None,
) -> PaymentCorrection:
    """Owe the provider ``amount`` more (negative: less) from the fund, netted in its next batch.

    The ledger takes the amount in now (Dr provider payments, Cr payable to the provider; the
    other way for a negative amount) unless ``post_in_ledger`` is false: the caller already owes
    it there (a recovery whose finding was reversed gives its amount back to the payable itself).
    ``paid_in`` (currency, minor digits) is the money the amount is counted in (a contested
    batch's): a fund keeping its books in other money is refused.
    """
    record = f"payment correction for provider {provider_id}"
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise ValidationFailed(record, "amount", "a non-zero whole number of minor units")
    if not source.strip():
        raise ValidationFailed(record, "source", "name the decision behind the correction")
    if post_in_ledger or paid_in is not None:
        try:
            fund = ledger.get_fund(session=session, code=fund_code)  # an unknown fund is refused, not created
        except NotFound:
            raise ValidationFailed(record, "fund_code", "unknown fund") from None
        if paid_in is not None and (other := ledger.other_money(fund, *paid_in)) is not None:
            raise ValidationFailed(
                record, "fund_code", f"the fund {other}, the amount is in {paid_in[0]} ({paid_in[1]})"
            )
        owed = [
            ledger.Line(ledger.PROVIDER_PAYMENTS, debit=abs(amount)),
            ledger.Line(ledger.PAYABLE, credit=abs(amount), provider_id=provider_id),
        ]
        if amount < 0:
            owed = [
                ledger.Line(ledger.PAYABLE, debit=-amount, provider_id=provider_id),
                ledger.Line(ledger.PROVIDER_PAYMENTS, credit=-amount),
            ]
        ledger.post_entry(
            session=session,
            fund_code=fund_code,
            posted_on=on,
            kind="reversal" if amount > 0 else "recovery",
            lines=owed,
            reference=source,
            memo="payment correction",
            actor=actor,
        )
    row = PaymentCorrection(
        provider_id=provider_id,
        fund_code=fund_code,
        amount=amount,
        source=source.strip(),
        recorded_on=on,
        payment_batch_id=None,
        created_at=dt.datetime.now(dt.UTC),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    record_change(
        session=session, actor=actor, entity="payment_corrections", entity_id=row.id, action="create",
        after={"provider_id": provider_id, "fund_code": fund_code, "amount": amount, "source": row.source,
               "recorded_on": on},
    )  # fmt: skip
    return row


def corrections_due(*, session: Session, provider_id: int) -> list[PaymentCorrection]:
    """The provider's corrections no batch has netted yet, oldest first."""
    return list(
        session.scalars(
            select(PaymentCorrection)
            .where(PaymentCorrection.provider_id == provider_id, PaymentCorrection.payment_batch_id.is_(None))
            .order_by(PaymentCorrection.id)
        )
    )


def providers_with_corrections_due() -> Select[Any]:
    """The providers some correction waits for (a subquery): a batch is drafted for them too."""
    return select(PaymentCorrection.provider_id).where(PaymentCorrection.payment_batch_id.is_(None))


def add_corrections_to_funds(
    due: Sequence[PaymentCorrection], claims_by_fund: dict[str, int], recovered_by_fund: dict[str, int]
) -> None:
    """What the provider is owed is paid with the claims of its fund; what it owes is deducted."""
    for item in due:
        if item.amount > 0:
            claims_by_fund[item.fund_code] += item.amount
        else:
            recovered_by_fund[item.fund_code] += -item.amount


def net_corrections_in_batch(*, session: Session, due: Sequence[PaymentCorrection], batch_id: int) -> None:
    for item in due:
        item.payment_batch_id = batch_id
    session.flush()


def release_corrections(*, session: Session, batch_id: int) -> None:
    """The corrections of a cancelled draft wait for the next batch again."""
    for item in session.scalars(select(PaymentCorrection).where(PaymentCorrection.payment_batch_id == batch_id)):
        item.payment_batch_id = None
    session.flush()


def batch_corrections(*, session: Session, batch_id: int) -> list[PaymentCorrection]:
    return list(
        session.scalars(
            select(PaymentCorrection)
            .where(PaymentCorrection.payment_batch_id == batch_id)
            .order_by(PaymentCorrection.id)
        )
    )
