"""Member cards.

A card is held by a person or by a household (the scheme's policy says which: ``[card] per``), for
one scheme. ``household_id`` is always set (the holder's household), ``person_id`` only on a
person's card. Validity is inclusive at both ends. ``replaces_id`` links a replacement to the
card it replaced (lost, damaged, renewed). A ``cancelled`` card was withdrawn for good: the
record of a person merged into another (the survivor holds the card).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

CARD_STATUSES = ("issued", "active", "suspended", "lost", "replaced", "expired", "cancelled")
HOLDER_KINDS = ("person", "household")


class MemberCard(Base):
    __tablename__ = "member_cards"
    __table_args__ = (
        CheckConstraint(in_list("status", CARD_STATUSES), name="status"),
        CheckConstraint(in_list("holder_kind", HOLDER_KINDS), name="holder_kind"),
        CheckConstraint("valid_to >= valid_from", name="validity"),
        CheckConstraint("(holder_kind = 'person') = (person_id IS NOT NULL)", name="person_card_has_person"),
        Index(None, "scheme_id", "household_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"))
    holder_kind: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    category: Mapped[str | None] = mapped_column(String(32))  # printed and signed: the holder's category at issue
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(16))  # the signing key of the QR payload
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("member_cards.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[str] = mapped_column(String(100))
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Why the card is in its status when the window must say it (a suspension for an unpaid
    # contribution, a cancellation by a merge of duplicates); cleared when the card is reactivated.
    status_reason: Mapped[str | None] = mapped_column(String(200))
