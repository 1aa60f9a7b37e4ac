"""Tables of stored claims, their settlements, policy versions and the annual accumulators.

These tables are shared by the real-time service, registry merges and the
funds, verification and reporting work, but the claims service
(``equicover.claims.service``) is the only module that writes them.

- ``policy_versions``: each uploaded policy file, kept verbatim (``source_text``) with its
  effective period, so that a claim can always be re-settled against the exact rules it was
  settled with.
- ``claims``: one row per submitted claim. ``claim_id`` is the provider's bill number, unique per
  facility: (provider, claim_id) is the idempotency key, so a second submission of the same bill
  by the same facility returns the first result, and two facilities may use the same number. The
  claim's settlement summary (allowed, write-off, member out-of-pocket, trail) lives on the row;
  the amount each layer and allowance paid lives in ``claim_payments``.
- ``accumulators``: a member's running amounts per (policy id, layer, benefit year), the same
  triple as ``equicover.settlement.realtime_engine.Accumulator``. Keyed by the policy *id*, not the
  version, so that an amendment mid-year keeps what the member has already used.

Money is integer minor units (BigInteger: ten million claims of a province add up past 2^31).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

ClaimStatus = Literal["settled", "reversed"]
PaymentKind = Literal["layer", "allowance"]
CLAIM_STATUSES: tuple[ClaimStatus, ...] = ("settled", "reversed")
PAYMENT_KINDS: tuple[PaymentKind, ...] = ("layer", "allowance")


class PolicyVersion(Base):
    __tablename__ = "policy_versions"
    __table_args__ = (
        UniqueConstraint("policy_id", "effective_from"),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="period"),
        CheckConstraint("minor_digits BETWEEN 0 AND 6", name="minor_digits"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    # The policy's own count (riel and rial are paid in whole units whatever ISO 4217 says): every
    # amount of the version's claims is read and written with it.
    minor_digits: Mapped[int] = mapped_column(SmallInteger)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)
    # The scheme whose enrolments make a person eligible under this policy.
    scheme_id: Mapped[int | None] = mapped_column(ForeignKey("schemes.id"), index=True)
    source_text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    uploaded_by: Mapped[str] = mapped_column(String(100))


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(in_list("status", CLAIM_STATUSES), name="status"),
        CheckConstraint("eligible >= 0 AND eligible <= total", name="eligible_within_total"),
        CheckConstraint("days >= 0", name="days"),
        Index(None, "person_id", "service_date"),
        Index(None, "provider_id", "service_date"),
        Index(None, "service_date"),
        # A bill number is the facility's own: unique per provider. claim_id leads so that the
        # same index finds a bill by its number alone (a reader who does not name the facility).
        UniqueConstraint("claim_id", "provider_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id"), index=True)
    service_date: Mapped[dt.date] = mapped_column(Date)
    # The claim as the engine saw it (spec columns); levels and flags are copied at submission so
    # a later change to the provider does not change a settled claim.
    provider_level: Mapped[str] = mapped_column(String(32))
    designated: Mapped[bool] = mapped_column(Boolean)
    in_area: Mapped[bool] = mapped_column(Boolean)
    referred: Mapped[bool] = mapped_column(Boolean)
    care_type: Mapped[str] = mapped_column(String(32))
    diagnosis: Mapped[str] = mapped_column(String(16))
    days: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(BigInteger)
    eligible: Mapped[int] = mapped_column(BigInteger)
    categories: Mapped[str] = mapped_column(String(400), default="")  # ";"-joined, as in the spec
    # Settlement summary
    status: Mapped[ClaimStatus] = mapped_column(String(16), default="settled", index=True)
    allowed: Mapped[int] = mapped_column(BigInteger, default=0)
    provider_writeoff: Mapped[int] = mapped_column(BigInteger, default=0)
    member_oop: Mapped[int] = mapped_column(BigInteger, default=0)
    fixed_fee: Mapped[int | None] = mapped_column(Integer)
    trail: Mapped[str] = mapped_column(Text, default="")
    # Set when the claim was settled with zero payments: not covered on the date, provider
    # outside its contract, ... (a stable code, e.g. "not_enrolled", "no_contract").
    zero_reason: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    submitted_by: Mapped[str] = mapped_column(String(100))
    reversed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reversed_by: Mapped[str | None] = mapped_column(String(100))
    reversal_reason: Mapped[str | None] = mapped_column(Text)

    if TYPE_CHECKING:
        # Not a column: a claim read back for a repeated submission may carry its payments, set by
        # the claim batcher (equicover.claims.group_commit) so that its answer needs no session.
        settled_payments: list[ClaimPayment] | None


class ClaimPayment(Base):
    """What one layer (or allowance) of the policy paid on one claim; zero rows are kept too."""

    __tablename__ = "claim_payments"
    __table_args__ = (
        UniqueConstraint("claim_pk", "kind", "item_id"),
        CheckConstraint(in_list("kind", PAYMENT_KINDS), name="kind"),
        Index(None, "payer"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    kind: Mapped[PaymentKind] = mapped_column(String(16))
    item_id: Mapped[str] = mapped_column(String(64))  # layer id or allowance id
    payer: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)


class StoredAccumulator(Base):
    __tablename__ = "accumulators"

    policy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    layer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    benefit_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)
    member_share: Mapped[int] = mapped_column(BigInteger, default=0)


AdjustmentKind = Literal["layer", "allowance", "member"]
AdjustmentCause = Literal["reversal", "resettlement", "reconciliation"]
ADJUSTMENT_KINDS: tuple[AdjustmentKind, ...] = ("layer", "allowance", "member")
ADJUSTMENT_CAUSES: tuple[AdjustmentCause, ...] = ("reversal", "resettlement", "reconciliation")
# What a line is, from its kind and sign: a payer pays more (top-up) or less (recovery); the member's
# share falls (a refund the provider passes on from the payers' top-up) or rises.
ADJUSTMENT_REASONS = ("payer_top_up", "payer_recovery", "member_refund", "member_owes_more")


class ReconciliationRun(Base):
    """One year-end reconciliation of a scheme's benefit year (``equicover reconcile``)."""

    __tablename__ = "reconciliation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), index=True)
    benefit_year: Mapped[int] = mapped_column(Integer)
    claims: Mapped[int] = mapped_column(Integer)  # claims re-settled
    adjusted_claims: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))


class ClaimAdjustment(Base):
    """A change to what a stored claim pays, after it was settled; ``claim_payments`` stay as settled.

    What a claim pays now is its payments plus its adjustments, per payer; its member's share is
    ``member_oop`` plus its ``member`` lines. ``amount`` is signed minor units: for a payer, what
    it pays more (a top-up) or less (a recovery from the provider); for the member, the change in
    the member's share. ``cause_claim_pk`` names the reversed claim behind a re-settlement or a
    reversal; ``run_id`` the reconciliation.
    """

    __tablename__ = "claim_adjustments"
    __table_args__ = (
        CheckConstraint(in_list("kind", ADJUSTMENT_KINDS), name="kind"),
        CheckConstraint(in_list("cause", ADJUSTMENT_CAUSES), name="cause"),
        CheckConstraint(in_list("reason", ADJUSTMENT_REASONS), name="reason"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    kind: Mapped[AdjustmentKind] = mapped_column(String(16))
    item_id: Mapped[str] = mapped_column(String(64))  # layer id, allowance id, or "member"
    payer: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))
    cause: Mapped[AdjustmentCause] = mapped_column(String(16))
    cause_claim_pk: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("reconciliation_runs.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
