"""Sign in (tokens), sign out, who am I."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from equicover.auth.deps import (
    SESSION_COOKIE,
    CurrentUser,
    clear_session_cookie,
    client_address,
    login_policy_of,
    now_of,
    sign_in_gate_of,
)
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.schemas import Credentials, TokenOut, UserOut
from equicover.auth.service import DEFAULT_TOKEN_LIFETIME, authenticate, issue_token, revoke_token
from equicover.errors import Unauthorized
from equicover.http.deps import SessionDep, session_factory_of

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


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="Exchange a username and password for a bearer token",
    description="Failed sign-ins are throttled per account and per address: 429 with Retry-After while "
    "they must wait (growing delays from the 5th failure of an account, locked 15 minutes at the 10th).",
)
async def sign_in(credentials: Credentials, request: Request, session: SessionDep) -> TokenOut | JSONResponse:
    now = now_of(request)
    # Async: the sign-in waits for its turn at the hashing pool on the event loop, holding nothing.
    async with sign_in_gate_of(request).turn():
        try:
            user = await run_in_threadpool(
                partial(
                    authenticate,
                    session=session,
                    username=credentials.username,
                    password=credentials.password,
                    address=client_address(request),
                    via="api",
                    now=now,
                    policy=login_policy_of(request),
                    reader=session_factory_of(request),
                )
            )
        except Unauthorized as error:
            # Answered, not raised: the request's unit of work commits the failure's count and audit row.
            return JSONResponse(error.to_dict(), status_code=401, headers={"WWW-Authenticate": "Bearer"})
    token = await run_in_threadpool(partial(issue_token, session=session, user=user, now=now))
    return TokenOut(
        access_token=token,
        expires_at=now + DEFAULT_TOKEN_LIFETIME,
        username=user.username,
        role=Role(user.role),
    )


@router.post("/auth/logout", status_code=204, summary="Revoke the token used for this request")
def sign_out(request: Request, response: Response, session: SessionDep, user: CurrentUser) -> Response:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE, "")
    if token:
        revoke_token(session=session, token=token, via="api")
        request.app.state.token_cache.forget(token)
    out = Response(status_code=204)
    clear_session_cookie(out)
    return out


@router.get("/auth/me", response_model=UserOut, summary="The signed-in user")
def who_am_i(user: CurrentUser) -> UserOut:
    return user_out(user)
