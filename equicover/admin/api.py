"""Administration over HTTP: accounts (create, list, disable, enable, reset the password) and the
audit trail (``change_log``), read-only.

No endpoint writes or edits the audit trail. Disabling an account or resetting its password
revokes its tokens and drops them from this process's token cache at once (other worker
processes: within the cache's 10 seconds, and only for claim submission)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from equicover.admin.service import (
    AccountRow,
    create_user,
    disable_user,
    enable_user,
    find_user,
    list_accounts,
    reset_user_password,
)
from equicover.audit.models import ChangeLog
from equicover.audit.service import changes_query
from equicover.auth.api import user_out
from equicover.auth.deps import require_roles
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.schemas import UserIn, UserOut
from equicover.http.deps import PageDep, RowId, SessionDep
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


AdminDep = Annotated[User, Depends(require_roles(Role.ADMIN))]


class AccountOut(BaseModel):
    id: int
    username: str
    role: Role
    area: str | None
    provider: str | None
    language: str
    active: bool


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(
        default=None, max_length=200, description="the new password; default: a generated one, answered once"
    )


class PasswordResetOut(BaseModel):
    user: UserOut
    password: str | None = Field(description="the generated password (only when none was given)")


def account_out(row: AccountRow) -> AccountOut:
    return AccountOut(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        area=row.area,
        provider=row.provider,
        language=row.language,
        active=row.active,
    )


@router.get("/users", response_model=Page[AccountOut], summary="The accounts, by username (admin)")
def list_users(
    session: SessionDep,
    _admin: AdminDep,
    page: PageDep,
    role: Role | None = None,
    active: bool | None = None,
) -> Page[AccountOut]:
    rows, total = list_accounts(session=session, role=role, active=active, limit=page.limit, offset=page.offset)
    return Page[AccountOut](items=[account_out(row) for row in rows], total=total, limit=page.limit, offset=page.offset)


@router.post("/users/{user_id}/disable", response_model=UserOut, summary="Disable an account (admin)")
def disable_account(user_id: RowId, request: Request, session: SessionDep, admin: AdminDep) -> UserOut:
    user = find_user(session=session, user_id=user_id)
    disable_user(session=session, user=user, actor=admin.username, acting_user_id=admin.id)
    request.app.state.token_cache.forget_user(user.id)
    return user_out(user)


@router.post("/users/{user_id}/enable", response_model=UserOut, summary="Enable an account (admin)")
def enable_account(user_id: RowId, session: SessionDep, admin: AdminDep) -> UserOut:
    user = find_user(session=session, user_id=user_id)
    return user_out(enable_user(session=session, user=user, actor=admin.username))


@router.post(
    "/users/{user_id}/reset-password",
    response_model=PasswordResetOut,
    summary="Give an account a new password (admin); its tokens are revoked",
)
def reset_account_password(
    user_id: RowId, request: Request, session: SessionDep, admin: AdminDep, body: PasswordReset | None = None
) -> PasswordResetOut:
    user = find_user(session=session, user_id=user_id)
    given = body.password if body is not None else None
    user, chosen = reset_user_password(
        session=session, user=user, password=given, actor=admin.username, acting_user_id=admin.id
    )
    request.app.state.token_cache.forget_user(user.id)
    return PasswordResetOut(user=user_out(user), password=None if given else chosen)
