"""Anomaly runs over settled claims and the flags they raise (each with its reason)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base


class AnomalyRun(Base):
    __tablename__ = "anomaly_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_starts: Mapped[dt.date] = mapped_column(Date)
    period_ends: Mapped[dt.date] = mapped_column(Date)
    claims_scanned: Mapped[int] = mapped_column(Integer)
    flags: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(100))
    ran_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ran_by: Mapped[str] = mapped_column(String(100))


class AnomalyFlag(Base):
    __tablename__ = "anomaly_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("anomaly_runs.id"), index=True)
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    score: Mapped[float] = mapped_column(Float)  # a ranking, not money
    rules: Mapped[str] = mapped_column(String(200))  # ";"-joined rule codes
    reason: Mapped[str] = mapped_column(String(400))
