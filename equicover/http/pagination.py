"""One page of a list, the same shape for every list endpoint: items, total, limit, offset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from equicover.http.deps import PageParams

Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    total: int
    limit: int
    offset: int


def paginate(
    *, session: Session, query: Select[Any], page: PageParams, to_item: Callable[[Any], Item], scalars: bool = True
) -> Page[Item]:
    """Run ``query`` (already filtered and ordered) for one page; ``total`` counts all matching rows."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    paged = query.limit(page.limit).offset(page.offset)
    rows = session.scalars(paged).all() if scalars else session.execute(paged).all()
    return Page[Any](items=[to_item(row) for row in rows], total=total, limit=page.limit, offset=page.offset)
