"""Targeting tables: rounds of identification, the households they score, decisions, objections,
and post-identification at the hospital.

- ``targeting_rounds``: one data-collection round for an area (or one on-demand identification),
  with a copy of the rules text it runs under (a round is replayed with the rules it was run with,
  whatever happens to the file later), its dates and its step: ``collecting`` -> ``scored`` ->
  ``notice`` -> ``approved`` (-> ``superseded`` when a later round of the same rules and area is
  approved).
- ``targeting_households``: a household's answers in a round (JSON, checked against the rules on
  import), its scores, the category the rules propose and the one that stands after the village's
  decisions and the objections (``final``). ``(round_id, household_id)`` is unique: importing a
  file twice imports nothing twice.
- ``targeting_decisions``: the village group's decisions and the rulings on objections, each with
  its reason, who recorded it and when.
- ``targeting_objections``: objections received during the notice, and how they were decided.
- ``targeting_hospital_cases``: a patient's household interviewed at the hospital, the category it
  was granted for the stay (short validity) and whether that was later confirmed or withdrawn.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

ROUND_KINDS = ("regular", "on_demand")
ROUND_STATUSES = ("collecting", "scored", "notice", "approved", "superseded")
DECISION_KINDS = ("include", "exclude", "change_level", "objection")
OBJECTION_STATUSES = ("pending", "upheld", "rejected")
HOSPITAL_STATUSES = ("granted", "not_eligible", "confirmed", "withdrawn")


class TargetingRound(Base):
    __tablename__ = "targeting_rounds"
    __table_args__ = (
        CheckConstraint(in_list("kind", ROUND_KINDS), name="kind"),
        CheckConstraint(in_list("status", ROUND_STATUSES), name="status"),
        CheckConstraint("ends_on >= starts_on", name="period"),
        Index(None, "location_id", "rules_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rules_id: Mapped[str] = mapped_column(String(64))
    rules_text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    notice_from: Mapped[dt.date | None] = mapped_column(Date)
    notice_to: Mapped[dt.date | None] = mapped_column(Date)
    approved_on: Mapped[dt.date | None] = mapped_column(Date)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("targeting_rounds.id"))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TargetingHousehold(Base):
    __tablename__ = "targeting_households"
    __table_args__ = (
        UniqueConstraint("round_id", "household_id"),
        Index(None, "round_id", "village"),
        Index(None, "household_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("targeting_rounds.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    village: Mapped[str] = mapped_column(String(100))
    area_type: Mapped[str] = mapped_column(String(48))
    answers: Mapped[str] = mapped_column(Text)  # JSON: item id -> answer as given (text)
    scores: Mapped[str | None] = mapped_column(Text)  # JSON: score id -> decimal text
    income_per_person: Mapped[int | None] = mapped_column(BigInteger)  # minor units per person and period
    deprivations: Mapped[int | None] = mapped_column(Integer)
    proposed: Mapped[str | None] = mapped_column(String(48))  # the rules' category ("none" included)
    reason: Mapped[str | None] = mapped_column(Text)
    final: Mapped[str | None] = mapped_column(String(48))  # after the village's decisions and objections
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TargetingDecision(Base):
    __tablename__ = "targeting_decisions"
    __table_args__ = (CheckConstraint(in_list("kind", DECISION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("targeting_households.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    from_category: Mapped[str] = mapped_column(String(48))
    to_category: Mapped[str] = mapped_column(String(48))
    reason: Mapped[str] = mapped_column(Text)
    objection_id: Mapped[int | None] = mapped_column(ForeignKey("targeting_objections.id"))
    decided_on: Mapped[dt.date] = mapped_column(Date)
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TargetingObjection(Base):
    __tablename__ = "targeting_objections"
    __table_args__ = (CheckConstraint(in_list("status", OBJECTION_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("targeting_households.id"), index=True)
    asked_category: Mapped[str] = mapped_column(String(48))
    grounds: Mapped[str] = mapped_column(Text)
    lodged_on: Mapped[dt.date] = mapped_column(Date)
    lodged_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    ruling: Mapped[str | None] = mapped_column(Text)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(100))


class TargetingHospitalCase(Base):
    __tablename__ = "targeting_hospital_cases"
    __table_args__ = (
        CheckConstraint(in_list("status", HOSPITAL_STATUSES), name="status"),
        CheckConstraint("valid_to IS NULL OR valid_to >= admitted_on", name="valid_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    rules_id: Mapped[str] = mapped_column(String(64))
    rules_text: Mapped[str] = mapped_column(Text)
    area_type: Mapped[str] = mapped_column(String(48))
    answers: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(48))
    reason: Mapped[str] = mapped_column(Text)
    admitted_on: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # last day of the stay's eligibility
    status: Mapped[str] = mapped_column(String(16))
    interviewed_by: Mapped[str] = mapped_column(String(100))
    interviewed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(100))
