"""Data the reports need beyond the registry and claims: household consumption (SDG 3.8.2) and
the dashboard's running totals of the claims."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base


class HouseholdConsumption(Base):
    """A household's total consumption for a year (survey or means test), in minor units."""

    __tablename__ = "household_consumption"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


# The fund manager's dashboard reads these totals instead of the year's claims. They are folded in
# from the claims and the change log (reversals) by equicover.reports.dashboard_totals, its only
# writer: every claim adds its share once, every reversal takes it back out once.


class DashboardPayments(Base):
    """What the funds paid (payment rows above zero), by service year and month, facility and payer."""

    __tablename__ = "dashboard_payments"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payer: Mapped[str] = mapped_column(String(200), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    payment_rows: Mapped[int] = mapped_column(Integer)  # rows of settled claims behind the amount


class DashboardProviderClaims(Base):
    """Settled claims by service year and facility, and the registered poor's in-county stays among them."""

    __tablename__ = "dashboard_provider_claims"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claims: Mapped[int] = mapped_column(Integer)
    poor_inpatient_claims: Mapped[int] = mapped_column(Integer)
    poor_inpatient_member_oop: Mapped[int] = mapped_column(BigInteger)
    poor_inpatient_allowed: Mapped[int] = mapped_column(BigInteger)


class DashboardVisits(Base):
    """Outpatient visits by service year and the district the patient lived in when the visit was counted."""

    __tablename__ = "dashboard_visits"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visits: Mapped[int] = mapped_column(Integer)


class DashboardFold(Base):
    """How far the totals have read (one row, written by the migration).

    Every claim id up to ``claims_upto`` and change-log id up to ``changes_upto`` is counted, except
    the ids listed in ``dashboard_fold_holes``: on PostgreSQL a transaction still running may yet
    commit an id lower than one already visible, so the ids missing below a mark are kept and
    looked for again until every transaction that was running when they were missed has ended.
    """

    __tablename__ = "dashboard_fold"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claims_upto: Mapped[int] = mapped_column(BigInteger)
    changes_upto: Mapped[int] = mapped_column(BigInteger)
    # Change-log rows counted that are not about claims (the registry, enrolments...): what the
    # dashboard's coverage figures depend on changed when this moved.
    other_changes: Mapped[int] = mapped_column(BigInteger)
    folded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DashboardFoldHole(Base):
    """A claim id or change-log id below the marks that was not yet visible when the marks passed it."""

    __tablename__ = "dashboard_fold_holes"

    source: Mapped[str] = mapped_column(String(8), primary_key=True)  # "claims" or "changes"
    record_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The first transaction id not yet started when the hole was seen (pg_snapshot_xmax): once the
    # oldest running transaction is at or past it, whatever could fill the hole has ended.
    awaited_until_xid: Mapped[int] = mapped_column(BigInteger)


# The dashboard's coverage on a date, kept current with the registry and the enrolments: built once
# per date from the persons, then moved person by person as the change log names them
# (equicover.reports.dashboard_coverage, their only writer, run inside the totals' fold).


class DashboardCoverageDate(Base):
    """A date whose coverage is kept (built once, then moved by every fold)."""

    __tablename__ = "dashboard_coverage_dates"

    on_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    built_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # When a page last read the date's figures (at most an hour off): a date no page reads is
    # forgotten, so that the dates kept, and what every fold moves, do not grow day after day.
    read_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DashboardCoveragePerson(Base):
    """An eligible person on the date (alive, registered, not merged): where they live and whether
    an active enrolment covers the date. What a change takes back out before it adds the new."""

    __tablename__ = "dashboard_coverage_persons"

    on_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int | None] = mapped_column(Integer)  # None: located above a district
    enrolled: Mapped[bool] = mapped_column(Boolean)


class DashboardCoverageHolding(Base):
    """A category an eligible person holds on the date."""

    __tablename__ = "dashboard_coverage_holdings"

    on_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)


class DashboardCoverageGap(Base):
    """A coverage gap on the date: an eligible person holding a category whom no active enrolment
    covers. One row per category held, and one under ``ANY_CATEGORY`` for the person, so that the
    registrar's list of gaps, of every category or of one, is a range of the listing index in
    household order, counted from that range."""

    __tablename__ = "dashboard_coverage_gaps"
    __table_args__ = (
        Index(
            "ix_dashboard_coverage_gaps_listing",
            "on_date",
            "category",
            "household_code",
            "person_id",
            postgresql_include=["location_id"],
        ),
    )

    on_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    household_code: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[int] = mapped_column(Integer)  # the person's own: what a user's area is checked on


class DashboardCoverageGroup(Base):
    """Eligible and enrolled persons on the date by district (key: the district's id, "-" above
    districts) or by category (key: its code)."""

    __tablename__ = "dashboard_coverage_groups"

    on_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    grouping: Mapped[str] = mapped_column(String(16), primary_key=True)  # "district" or "category"
    group_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    eligible: Mapped[int] = mapped_column(Integer)
    enrolled: Mapped[int] = mapped_column(Integer)
