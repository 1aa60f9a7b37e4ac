"""The change log's table."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base


class ChangeLog(Base):
    """Append-only history of changes to registry and enrolment records.

    ``before`` / ``after`` hold the changed fields as JSON (``None`` for a creation / deletion).
    Nothing ever updates or deletes a row here.
    """

    __tablename__ = "change_log"
    __table_args__ = (Index(None, "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(32))  # table name: persons, person_categories, ...
    entity_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # create, update, end, bulk_load
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
