"""Data the indicators need beyond the registry and claims: household consumption (SDG 3.8.2)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base


class HouseholdConsumption(Base):
    """A household's total consumption for a year (survey or means test), in minor units."""

    __tablename__ = "household_consumption"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)
