"""FastAPI dependencies shared by every router: the request's unit of work and paging.

- :func:`get_session`: one unit of work per request. The session commits once after the
  endpoint returned and rolls back everything if anything raised (same contract as
  :func:`equicover.db.session.session_scope`).
- :func:`page_params`: ``limit`` / ``offset`` query parameters, the same everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

# A stored row's id in a path: a positive 32-bit integer; any other is not looked up (404, api.app).
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def session_factory_of(request: Request) -> sessionmaker[Session]:
    return request.app.state.session_factory


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One unit of work per request: commit once at the end, roll back on any error.

    Async so that opening the session costs no thread-pool hop; the commit, rollback and close
    (which talk to the database) run in the thread pool.
    """
    session = session_factory_of(request)()
    try:
        yield session
        await run_in_threadpool(session.commit)
    except BaseException:
        await run_in_threadpool(session.rollback)
        raise
    finally:
        await run_in_threadpool(session.close)


# scope="function": the commit runs when the endpoint returns, BEFORE the response is sent, so a
# failed commit answers 500 instead of a success that was not stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=10**9, description="Rows to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]
