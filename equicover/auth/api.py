"""Sign in (tokens), sign out, who am I."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response

from equicover.auth.deps import SESSION_COOKIE, CurrentUser, clear_session_cookie
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.schemas import Credentials, TokenOut, UserOut
from equicover.auth.service import DEFAULT_TOKEN_LIFETIME, authenticate, issue_token, revoke_token
from equicover.http.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["auth"])


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        role=Role(user.role),
        location_id=user.location_id,
        provider_id=user.provider_id,
        language=user.language,
        active=user.active,
    )


@router.post("/auth/token", response_model=TokenOut, summary="Exchange a username and password for a bearer token")
def sign_in(credentials: Credentials, session: SessionDep) -> TokenOut:
    user = authenticate(session=session, username=credentials.username, password=credentials.password)
    token = issue_token(session=session, user=user)
    return TokenOut(
        access_token=token,
        expires_at=dt.datetime.now(dt.UTC) + DEFAULT_TOKEN_LIFETIME,
        username=user.username,
        role=Role(user.role),
    )


@router.post("/auth/logout", status_code=204, summary="Revoke the token used for this request")
def sign_out(request: Request, response: Response, session: SessionDep, user: CurrentUser) -> Response:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE, "")
    if token:
        revoke_token(session=session, token=token)
        request.app.state.token_cache.forget(token)
    out = Response(status_code=204)
    clear_session_cookie(out)
    return out


@router.get("/auth/me", response_model=UserOut, summary="The signed-in user")
def who_am_i(user: CurrentUser) -> UserOut:
    return user_out(user)
