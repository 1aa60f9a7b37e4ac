"""Enrolment tables.

All periods are inclusive at both ends. Money is integer minor units of the scheme's currency.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

ENROLMENT_STATUSES = ("active", "suspended", "cancelled")
PAYER_KINDS = ("state_budget", "local_budget", "employer", "member", "donor")
CONTRIBUTION_STATUSES = ("due", "paid", "waived")


class Scheme(Base):
    __tablename__ = "schemes"
    __table_args__ = (CheckConstraint("minor_digits BETWEEN 0 AND 4", name="minor_digits"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    minor_digits: Mapped[int] = mapped_column(SmallInteger)
    # The scheme's name per language ({"fr": "...", ...}), for a scheme no policy file names; the
    # pages prefer the names of the scheme's policy ([policy.names]) when one is linked.
    names: Mapped[dict[str, str] | None] = mapped_column(JSON)


class EnrolmentPeriod(Base):
    __tablename__ = "enrolment_periods"
    __table_args__ = (
        UniqueConstraint("scheme_id", "starts"),
        CheckConstraint("ends >= starts", name="period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"))
    starts: Mapped[dt.date] = mapped_column(Date)
    ends: Mapped[dt.date] = mapped_column(Date)


class Enrolment(Base):
    __tablename__ = "enrolments"
    __table_args__ = (
        CheckConstraint("ends >= starts", name="period"),
        CheckConstraint(in_list("status", ENROLMENT_STATUSES), name="status"),
        Index(None, "person_id", "scheme_id"),
        Index(None, "scheme_id", "starts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("enrolment_periods.id"), index=True)
    starts: Mapped[dt.date] = mapped_column(Date)
    ends: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")


class Contribution(Base):
    __tablename__ = "contributions"
    __table_args__ = (
        CheckConstraint(in_list("payer_kind", PAYER_KINDS), name="payer_kind"),
        CheckConstraint(in_list("status", CONTRIBUTION_STATUSES), name="status"),
        CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
        CheckConstraint("period_ends >= period_starts", name="period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), index=True)
    payer_kind: Mapped[str] = mapped_column(String(16))
    payer_name: Mapped[str | None] = mapped_column(String(200))  # e.g. "Lao Cai provincial budget"
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8), default="due")
    period_starts: Mapped[dt.date] = mapped_column(Date)
    period_ends: Mapped[dt.date] = mapped_column(Date)
