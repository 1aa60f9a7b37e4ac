"""Payment batches: what the purchaser pays one provider for one period.

A batch is drafted by a maker from the provider's settled claims of the period that are not held
by an open verification review and not in another batch, plus capitation for capitation
contracts, minus recoveries not yet netted. A fund manager other than the maker approves it; the
approval posts the payment in the fund ledger. Amounts per fund are in ``payment_batch_lines``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

BATCH_STATUSES = ("draft", "approved", "cancelled")
LINE_KINDS = ("claims", "capitation", "recoveries")


class PaymentBatch(Base):
    __tablename__ = "payment_batches"
    __table_args__ = (
        CheckConstraint(in_list("status", BATCH_STATUSES), name="status"),
        CheckConstraint("period_ends >= period_starts", name="period"),
        CheckConstraint("minor_digits BETWEEN 0 AND 6", name="minor_digits"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    period_starts: Mapped[dt.date] = mapped_column(Date)
    period_ends: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    # The digits of the scheme's policy, so that every file of the batch prints its own amounts.
    minor_digits: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    claim_count: Mapped[int] = mapped_column(Integer, default=0)
    claims_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    capitation_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    recoveries_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    net_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(100))


class PaymentBatchLine(Base):
    __tablename__ = "payment_batch_lines"
    __table_args__ = (
        UniqueConstraint("batch_id", "fund_code", "kind"),
        CheckConstraint(in_list("kind", LINE_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payment_batches.id"))
    fund_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)  # recoveries are positive amounts deducted


class PaymentBatchClaim(Base):
    """A claim paid in a batch (a claim is in at most one batch that was not cancelled)."""

    __tablename__ = "payment_batch_claims"

    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payment_batches.id"), index=True)


class PaymentBatchAdjustment(Base):
    """A claim adjustment netted in a batch (each in at most one batch that was not cancelled)."""

    __tablename__ = "payment_batch_adjustments"

    adjustment_id: Mapped[int] = mapped_column(ForeignKey("claim_adjustments.id"), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payment_batches.id"), index=True)


class PaymentCorrection(Base):
    """An amount owed to (positive) or by (negative) a provider outside its claims, netted in its
    next payment batch: a payment batch found wrong on a grievance, a recovery repaid after the
    finding behind it was reversed. ``source`` names the decision (``grievance 12``)."""

    __tablename__ = "payment_corrections"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    fund_code: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(64))
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    payment_batch_id: Mapped[int | None] = mapped_column(ForeignKey("payment_batches.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
