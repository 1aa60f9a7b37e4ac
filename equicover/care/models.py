"""The poor patients' care ledger: chronic conditions, family-doctor contracts, health checks.

Admissions are the stored inpatient claims; a person's treatment status is derived (see
``care.service``), never stored, so the ledger is always current ("dynamically managed").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

CHECK_OUTCOMES = ("normal", "follow_up", "needs_treatment")


class ChronicCondition(Base):
    __tablename__ = "chronic_conditions"
    __table_args__ = (
        UniqueConstraint("person_id", "diagnosis", "noted_on"),
        CheckConstraint("resolved_on IS NULL OR resolved_on >= noted_on", name="resolved_after_noted"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    diagnosis: Mapped[str] = mapped_column(String(16))  # ICD-10 code or prefix
    noted_on: Mapped[dt.date] = mapped_column(Date)
    resolved_on: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(32), default="manual")  # manual, health_check, claims


class FamilyDoctorContract(Base):
    __tablename__ = "family_doctor_contracts"
    __table_args__ = (
        CheckConstraint("ends >= starts", name="period"),
        Index(None, "person_id", "starts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    team_code: Mapped[str | None] = mapped_column(String(64))  # the family-doctor team, by code
    starts: Mapped[dt.date] = mapped_column(Date)
    ends: Mapped[dt.date] = mapped_column(Date)


class HealthCheck(Base):
    __tablename__ = "health_checks"
    __table_args__ = (
        CheckConstraint(in_list("outcome", CHECK_OUTCOMES), name="outcome"),
        Index(None, "person_id", "checked_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    checked_on: Mapped[dt.date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(16))
    finding: Mapped[str | None] = mapped_column(String(16))  # ICD-10 code of what was found
