"""Referral letters and the claims that used them.

A letter is issued by a facility for one patient, to a level of care or to one facility (one of
the two). Its validity is counted from ``issued_on`` by the policy that settles the claim using it
(``[referral] letter_valid_days``). A counter-referral is the receiving facility's answer (what
was done, where the patient goes back to). ``referral_letter_uses`` links a stored claim to the
letter it carried; the claim's own row is left as it is.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

LETTER_STATUSES = ("issued", "counter_referred", "cancelled")


class ReferralLetter(Base):
    __tablename__ = "referral_letters"
    __table_args__ = (
        CheckConstraint(in_list("status", LETTER_STATUSES), name="status"),
        CheckConstraint("(to_level IS NULL) <> (to_provider_id IS NULL)", name="one_destination"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    from_provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    to_level: Mapped[str | None] = mapped_column(String(32))
    to_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    diagnosis: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[str] = mapped_column(String(100))
    # The counter-referral: written by the facility that received the patient.
    counter_by_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    counter_on: Mapped[dt.date | None] = mapped_column(Date)
    counter_note: Mapped[str | None] = mapped_column(Text)


class ReferralLetterUse(Base):
    """The letter a stored claim carried (one per claim; a letter may serve several claims of its patient)."""

    __tablename__ = "referral_letter_uses"

    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("referral_letters.id"), index=True)
