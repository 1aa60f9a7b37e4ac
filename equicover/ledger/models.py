"""Fund ledger tables: double-entry accounts per payer fund, append-only journal.

A *fund* is one payer's pot (basic medical insurance, critical-illness insurance, medical
assistance, ...), keyed by the policy layer id that pays from it. Each fund has accounts of four
kinds:

- ``cash``: the fund's money at the bank (debit-normal);
- ``source``: where money comes from (state budget, local budget, social cohesion fund,
  territorial communities, member contributions, donors, charity; credit-normal);
- ``use``: what the money is spent on (provider payments, allowances, the transplants special
  account, administration; debit-normal);
- ``payable``: what the fund owes providers for settled claims not yet paid (credit-normal). A
  line may name the provider, which makes the provider sub-ledger.

Entries are append-only: the service has no update or delete path, the ORM refuses both, and
the migration installs database triggers that refuse them too. A mistake is corrected by a
reversing entry (``reverses_id``).
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
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

ACCOUNT_KINDS = ("cash", "source", "use", "payable")
SOURCE_ACCOUNTS = (
    "state_budget",
    "local_budget",
    "social_cohesion_fund",
    "territorial_communities",
    "member_contributions",
    "donors",
    "charity",
)
USE_ACCOUNTS = ("provider_payments", "allowances", "transplants", "administration")
ENTRY_KINDS = ("contribution", "settlement", "payment", "recovery", "capitation", "transfer", "reversal")
POSTING_KINDS = ("settlement", "reversal")


class Fund(Base):
    __tablename__ = "funds"
    __table_args__ = (CheckConstraint("minor_digits BETWEEN 0 AND 4", name="minor_digits"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    minor_digits: Mapped[int] = mapped_column(SmallInteger)


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("fund_id", "code"),
        CheckConstraint(in_list("kind", ACCOUNT_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"))
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(in_list("kind", ENTRY_KINDS), name="kind"),
        Index(None, "fund_id", "posted_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"))
    posted_on: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(100))  # e.g. "batch 12", "review 7"
    memo: Mapped[str] = mapped_column(String(400), default="")
    # A correction: this entry reverses that one (each entry can be reversed once).
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))


class LedgerLine(Base):
    __tablename__ = "ledger_lines"
    __table_args__ = (CheckConstraint("debit >= 0 AND credit >= 0 AND (debit = 0 OR credit = 0)", name="one_side"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    debit: Mapped[int] = mapped_column(BigInteger, default=0)
    credit: Mapped[int] = mapped_column(BigInteger, default=0)


class ClaimPosting(Base):
    """Which stored claims the ledger has taken in (their settlement, then their reversal)."""

    __tablename__ = "claim_postings"
    __table_args__ = (CheckConstraint(in_list("kind", POSTING_KINDS), name="kind"),)

    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    posted_on: Mapped[dt.date] = mapped_column(Date)


class AppendOnlyViolation(RuntimeError):
    """Raised when code tries to change or delete a ledger row (corrections are reversing entries)."""


def _refuse_change(mapper: object, connection: object, target: Base) -> None:
    raise AppendOnlyViolation(f"{target.__table__.name} rows are append-only: post a reversing entry")


for _model in (LedgerEntry, LedgerLine):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)
