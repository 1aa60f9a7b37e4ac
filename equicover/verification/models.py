"""Verification of providers: samples of claims for review, verifier findings, recoveries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

SELECTIONS = ("random", "risk")
REVIEW_STATUSES = ("pending", "queried", "confirmed", "partly_disallowed", "rejected")
OPEN_STATUSES = ("pending", "queried")


class ReviewSample(Base):
    __tablename__ = "review_samples"
    __table_args__ = (CheckConstraint("period_ends >= period_starts", name="period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_starts: Mapped[dt.date] = mapped_column(Date)
    period_ends: Mapped[dt.date] = mapped_column(Date)
    seed: Mapped[int] = mapped_column(Integer)
    random_count: Mapped[int] = mapped_column(Integer)
    risk_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))


class ClaimReview(Base):
    __tablename__ = "claim_reviews"
    __table_args__ = (
        CheckConstraint(in_list("selection", SELECTIONS), name="selection"),
        CheckConstraint(in_list("status", REVIEW_STATUSES), name="status"),
        CheckConstraint("disallowed >= 0", name="disallowed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("review_samples.id"), index=True)
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    # The provider's district, so a verifier's queue is one indexed lookup.
    district_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    selection: Mapped[str] = mapped_column(String(8))
    risk_score: Mapped[float] = mapped_column(Float, default=0.0)  # not money: a ranking weight
    risk_reason: Mapped[str] = mapped_column(String(400), default="")
    status: Mapped[str] = mapped_column(String(24), default="pending", index=True)
    disallowed: Mapped[int] = mapped_column(BigInteger, default=0)  # recovered from the payers' payments
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Recovery(Base):
    """Money a finding takes back from a provider, per fund; netted in the next payment batch."""

    __tablename__ = "recoveries"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("claim_reviews.id"), index=True)
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    fund_code: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    payment_batch_id: Mapped[int | None] = mapped_column(ForeignKey("payment_batches.id"), index=True)


# --------------------------------------------------------------------------------------------
# Verification of HEF operators (Cambodia, seed 001: the fund verifies the contracted providers
# and the NGOs that run Health Equity Funds at district level).

OPERATOR_ACTS = ("hospital_case", "benefit")
OPERATOR_REVIEW_STATUSES = ("pending", "justified", "not_justified")


class OperatorReview(Base):
    """One act of an operator drawn for review: a hospital post-identification or a benefit it paid."""

    __tablename__ = "operator_reviews"
    __table_args__ = (
        CheckConstraint(in_list("act", OPERATOR_ACTS), name="act"),
        CheckConstraint(in_list("status", OPERATOR_REVIEW_STATUSES), name="status"),
        CheckConstraint("disallowed >= 0 AND disallowed <= at_stake", name="disallowed"),
        CheckConstraint(
            "(act = 'hospital_case' AND hospital_case_id IS NOT NULL AND claim_payment_id IS NULL)"
            " OR (act = 'benefit' AND claim_payment_id IS NOT NULL AND hospital_case_id IS NULL)",
            name="act_row",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("programme_organisations.id"), index=True)
    act: Mapped[str] = mapped_column(String(16))
    # Each act is reviewed once.
    hospital_case_id: Mapped[int | None] = mapped_column(ForeignKey("targeting_hospital_cases.id"), unique=True)
    claim_payment_id: Mapped[int | None] = mapped_column(ForeignKey("claim_payments.id"), unique=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    act_date: Mapped[dt.date] = mapped_column(Date)
    # What the funds paid because of the act (the benefit; the payments on the identified stay).
    at_stake: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    disallowed: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int] = mapped_column(Integer)
    drawn_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    drawn_by: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class OperatorRecovery(Base):
    """Money a finding takes back from an operator, per fund, deducted from its next payment."""

    __tablename__ = "operator_recoveries"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("operator_reviews.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("programme_organisations.id"), index=True)
    fund_code: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    # The operator payment that deducted it (its ledger reference); None until then.
    deducted_in: Mapped[str | None] = mapped_column(String(100))
