"""Retrying a unit of work after a transient conflict between concurrent transactions.

SQLite answers "database is locked" at once when a transaction that read first tries to write
after another writer committed; PostgreSQL may report a deadlock or a serialization failure.
Both mean: roll back and run the whole unit of work again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

T = TypeVar("T")


def is_transient(error: Exception) -> bool:
    """A conflict between concurrent transactions that is worth retrying from the start."""
    original = getattr(error, "orig", None)
    name = type(original).__name__
    if name in ("SerializationFailure", "DeadlockDetected"):  # psycopg: 40001, 40P01
        return True
    text = str(original).lower() if original is not None else ""
    return name == "OperationalError" and ("database is locked" in text or "busy" in text)  # sqlite


def is_connection_lost(error: Exception) -> bool:
    """The database connection broke (the server restarted or ended it) or could not be opened.

    Connections that sat in the pool are pinged before use (``db.engine``), so a dropped one is
    replaced on the next checkout; this is what is left: a connection lost during a transaction,
    or a server that does not answer at all. Worth a retry by the caller, not by us: the
    transaction's work is gone with the connection.
    """
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError) and not is_transient(error)


def backoff(attempt: int) -> None:
    """Sleep before attempt ``attempt + 1``: 10 ms, 20 ms, ... up to 200 ms, jittered."""
    time.sleep(min(0.2, 0.005 * 2**attempt) * (0.5 + random.random()))


def with_retries(session: Session, work: Callable[[], T], *, attempts: int = 8) -> T:
    """Run ``work`` (which uses ``session``); on a transient concurrency error roll back and run it again."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as error:
            if attempt == attempts or not is_transient(error):
                raise
            session.rollback()
            backoff(attempt)
    raise AssertionError("unreachable")  # pragma: no cover
