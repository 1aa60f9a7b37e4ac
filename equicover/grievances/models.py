"""Grievance cases and their steps.

A case concerns one record (``subject_kind``, ``subject_id``): a person (a category or
identification decision), a claim (a refused bill, a member charged more than the settlement
said), a claim review (a verification finding) or a payment batch. Its area (``location_id``)
and facility come from that record; its handlers are the users of ``handler_role`` whose area
holds it. An appeal is a new case at the next level (``level`` 2) that names the case it appeals.
The complainant's identity (``complainant_person_id``, ``complainant_provider_id``,
``complainant_contact``) is shown to the case's handlers only.
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
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

COMPLAINANT_KINDS = ("member", "provider")
CHANNELS = ("window", "web", "phone")
SUBJECT_KINDS = ("person", "claim", "claim_review", "payment_batch")
CASE_STATUSES = ("open", "decided")
OUTCOMES = ("upheld", "partly_upheld", "rejected")
STEP_KINDS = ("opened", "assigned", "note", "call", "decided", "action", "appealed")


class GrievanceCase(Base):
    __tablename__ = "grievance_cases"
    __table_args__ = (
        CheckConstraint(in_list("complainant_kind", COMPLAINANT_KINDS), name="complainant_kind"),
        CheckConstraint(in_list("channel", CHANNELS), name="channel"),
        CheckConstraint(in_list("subject_kind", SUBJECT_KINDS), name="subject_kind"),
        CheckConstraint(in_list("status", CASE_STATUSES), name="status"),
        CheckConstraint("outcome IS NULL OR " + in_list("outcome", OUTCOMES), name="outcome"),
        CheckConstraint("level IN (1, 2)", name="level"),
        CheckConstraint("(level = 2) = (appeal_of_id IS NOT NULL)", name="appeal_names_its_case"),
        CheckConstraint("deadline >= opened_on", name="deadline"),
        Index(None, "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    complainant_kind: Mapped[str] = mapped_column(String(16))
    complainant_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    complainant_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    complainant_contact: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(8))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    handler_role: Mapped[str] = mapped_column(String(16))
    assigned_to: Mapped[str | None] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(SmallInteger)
    appeal_of_id: Mapped[int | None] = mapped_column(ForeignKey("grievance_cases.id"), unique=True)
    description: Mapped[str] = mapped_column(Text)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    deadline: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str | None] = mapped_column(String(16))
    decision_reasons: Mapped[str | None] = mapped_column(Text)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    opened_by: Mapped[str] = mapped_column(String(100))


class GrievanceStep(Base):
    """What was done on a case, in order: opened, assigned, notes and calls, the decision and what it did."""

    __tablename__ = "grievance_steps"
    __table_args__ = (CheckConstraint(in_list("kind", STEP_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("grievance_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    # What a decision did: the claim adjustment lines of a refund, the category holding it wrote.
    claim_adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("claim_adjustments.id"))
    person_category_id: Mapped[int | None] = mapped_column(ForeignKey("person_categories.id"))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(100))
