"""What each stored claim added to each accumulator (migration 0003).

The real-time service writes one row per (claim, accumulator it moved) when it settles a claim,
so that reversing the claim can take exactly that contribution back out of the accumulators.
Only ``equicover.claims.service`` writes here.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base


class ClaimAccumulatorDelta(Base):
    __tablename__ = "claim_accumulator_deltas"
    __table_args__ = (UniqueConstraint("claim_pk", "layer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No index of its own: the unique (claim_pk, layer_id) index serves lookups by claim.
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    policy_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(64))
    layer_id: Mapped[str] = mapped_column(String(64))
    benefit_year: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[int] = mapped_column(BigInteger)
    member_share: Mapped[int] = mapped_column(BigInteger)
