"""Administration over HTTP: accounts (create) and the audit trail (``change_log``), read-only.

No endpoint writes or edits the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from equicover.admin.service import create_user
from equicover.audit.models import ChangeLog
from equicover.audit.service import changes_query
from equicover.auth.api import user_out
from equicover.auth.deps import require_roles
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.schemas import UserIn, UserOut
from equicover.http.deps import PageDep, SessionDep
from equicover.http.pagination import Page, paginate

router = APIRouter(prefix="/api/v1", tags=["audit"])


class ChangeOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    entity: str
    entity_id: int | None
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def change_out(row: ChangeLog) -> ChangeOut:
    return ChangeOut(
        id=row.id,
        at=row.at,
        actor=row.actor,
        entity=row.entity,
        entity_id=row.entity_id,
        action=row.action,
        before=row.before,
        after=row.after,
    )


@router.get("/audit", response_model=Page[ChangeOut], summary="Who changed what, when (admin; newest first)")
def list_changes(
    session: SessionDep,
    _admin: Annotated[User, Depends(require_roles(Role.ADMIN))],
    page: PageDep,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=16)] = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Page[ChangeOut]:
    query = changes_query(entity=entity, entity_id=entity_id, actor=actor, action=action, since=since, until=until)
    return paginate(session=session, query=query, page=page, to_item=change_out)


@router.post("/users", response_model=UserOut, status_code=201, summary="Create an account (admin)")
def create_account(
    body: UserIn, session: SessionDep, admin: Annotated[User, Depends(require_roles(Role.ADMIN))]
) -> UserOut:
    user = create_user(
        session=session,
        username=body.username,
        password=body.password,
        role=body.role,
        area_code=body.area,
        provider_code=body.provider,
        language=body.language,
        actor=admin.username,
    )
    return user_out(user)
