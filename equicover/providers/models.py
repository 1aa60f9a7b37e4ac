"""Provider tables. Contract periods are inclusive at both ends."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

OWNERSHIPS = ("public", "private", "non_profit")
PAYMENT_METHODS = ("fee_for_service", "fixed_fee", "capitation")


class Provider(Base):
    __tablename__ = "providers"
    __table_args__ = (CheckConstraint(in_list("ownership", OWNERSHIPS), name="ownership"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Free text so each programme keeps its own ladder (township/county/city/province, CHC/RH/NH, ...);
    # it is matched against a policy's `provider_levels` at settlement time.
    level: Mapped[str] = mapped_column(String(32))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    designated: Mapped[bool] = mapped_column(Boolean, default=False)
    ownership: Mapped[str] = mapped_column(String(16), default="public")


class Contract(Base):
    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint("ends >= starts", name="period"),
        CheckConstraint(in_list("payment_method", PAYMENT_METHODS), name="payment_method"),
        Index(None, "scheme_id", "provider_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    starts: Mapped[dt.date] = mapped_column(Date)
    ends: Mapped[dt.date] = mapped_column(Date)
    payment_method: Mapped[str] = mapped_column(String(16))
    designated_services: Mapped[str | None] = mapped_column(Text)
