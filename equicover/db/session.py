"""Sessions and the unit of work.

Services never commit. The caller (a CLI command, an API request, a test) opens one unit of work
with :func:`session_scope`, calls services, and the scope commits once at the end or rolls back
everything if anything raised: one transaction per operation, nothing half-written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from equicover.db.engine import make_engine


def make_session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or make_engine(), expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """One unit of work: yields a session, commits once on success, rolls back on any exception."""
    own_engine: Engine | None = None
    if factory is None:
        own_engine = make_engine()
        factory = make_session_factory(own_engine)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        if own_engine is not None:
            own_engine.dispose()
