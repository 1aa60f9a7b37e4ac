"""The change log: the only door to ``change_log``.

Every domain that keeps history appends here, in the caller's session (never committing). Rows
carry the changed fields as JSON and the record's id, never more personal data than the record
itself holds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select
from sqlalchemy.orm import Session

from equicover.audit.models import ChangeLog
from equicover.db.bulk import bulk_insert_rows

SYSTEM_ACTOR = "system"


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def record_change(
    *,
    session: Session,
    actor: str,
    entity: str,
    entity_id: int | None,
    action: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Append one row to the change log (used by every domain that keeps history).

    The row joins the session and is written with its next flush (many changes of one operation
    go in one multi-row INSERT)."""
    session.add(
        ChangeLog(
            **change_log_values(
                actor=actor, entity=entity, entity_id=entity_id, action=action, before=before, after=after
            )
        )
    )


def change_log_values(
    *,
    actor: str,
    entity: str,
    entity_id: int | None,
    action: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values of one change-log row (dates as ISO text inside the JSON)."""
    return {
        "at": dt.datetime.now(dt.UTC),
        "actor": actor,
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "before": None if before is None else {k: _json_value(v) for k, v in before.items()},
        "after": None if after is None else {k: _json_value(v) for k, v in after.items()},
    }


def _iso(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# The same text as record_change's rows, without a dict copy per row (hundreds of thousands in a round).
_BULK_ENCODER = json.JSONEncoder(default=_iso)


def record_changes_bulk(
    *,
    session: Session,
    actor: str,
    entity: str,
    action: str,
    entity_ids: Sequence[int],
    befores: Sequence[Mapping[str, Any] | None] | None = None,
    afters: Sequence[Mapping[str, Any] | None] | None = None,
) -> int:
    """Append one change-log row per record of a set-based change (COPY on PostgreSQL, multi-row
    INSERTs on SQLite), in the caller's transaction; the same rows :func:`record_change` would write."""
    count = len(entity_ids)
    if not count:
        return 0
    at = dt.datetime.now(dt.UTC)
    backend = session.connection().dialect.name
    # The bulk writer hands values to the driver as they are: JSON as its text, and on SQLite the
    # time as the text SQLAlchemy itself stores there.
    stamp: Any = at.replace(tzinfo=None).isoformat(" ") if backend == "sqlite" else at

    def as_json(values: Mapping[str, Any] | None) -> str | None:
        return None if values is None else _BULK_ENCODER.encode(values)

    columns: dict[str, list[Any]] = {
        "at": [stamp] * count,
        "actor": [actor] * count,
        "entity": [entity] * count,
        "entity_id": list(entity_ids),
        "action": [action] * count,
        "before": [as_json(v) for v in befores] if befores is not None else [None] * count,
        "after": [as_json(v) for v in afters] if afters is not None else [None] * count,
    }
    return bulk_insert_rows(session, ChangeLog.__table__, columns)


_INSERT_CHANGE = insert(ChangeLog.__table__)


def insert_change_now(*, connection: Connection, values: Mapping[str, Any]) -> None:
    """Write one change-log row at once (one INSERT, no unit of work): for hot paths that write
    with Core statements and have nothing else for the session to flush."""
    connection.execute(_INSERT_CHANGE, dict(values))


def history(*, session: Session, entity: str, entity_id: int) -> list[ChangeLog]:
    """The change-log rows of one record, oldest first."""
    return list(
        session.scalars(
            select(ChangeLog).where(ChangeLog.entity == entity, ChangeLog.entity_id == entity_id).order_by(ChangeLog.id)
        )
    )


def changes_query(
    *,
    entity: str | None = None,
    entity_id: int | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Select[ChangeLog]:
    """The change-log rows that match every filter given, newest first (for a paged list)."""
    query = select(ChangeLog).order_by(ChangeLog.id.desc())
    if entity is not None:
        query = query.where(ChangeLog.entity == entity)
    if entity_id is not None:
        query = query.where(ChangeLog.entity_id == entity_id)
    if actor is not None:
        query = query.where(ChangeLog.actor == actor)
    if action is not None:
        query = query.where(ChangeLog.action == action)
    if since is not None:
        query = query.where(ChangeLog.at >= since)
    if until is not None:
        query = query.where(ChangeLog.at <= until)
    return query


def last_change_id(*, session: Session) -> int | None:
    """The id of the newest change-log row (None on an empty log): a cheap fingerprint of "anything changed"."""
    return session.scalar(select(func.max(ChangeLog.id)))
