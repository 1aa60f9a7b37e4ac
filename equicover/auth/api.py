"""Sign in (tokens), sign out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from equicover.auth.deps import (
    SESSION_COOKIE,
    CurrentUser,
    clear_session_cookie,
    end_session,
    start_session,
)
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.schemas import Credentials, TokenOut, UserOut
from equicover.auth.service import DEFAULT_TOKEN_LIFETIME
from equicover.errors import Unauthorized
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


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="Exchange a username and password for a bearer token",
    description="Failed sign-ins are throttled per account and per address: 429 with Retry-After while "
    "they must wait (growing delays from the 5th failure of an account, locked 15 minutes at the 10th).",
)
async def sign_in(credentials: Credentials, request: Request, session: SessionDep) -> TokenOut | JSONResponse:
    try:
        signed_in = await start_session(
            request=request, session=session, username=credentials.username, password=credentials.password, via="api"
        )
    except Unauthorized as error:
        # Answered, not raised: the request's unit of work commits the failure's count and audit row.
        return JSONResponse(error.to_dict(), status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return TokenOut(
        access_token=signed_in.token,
        expires_at=signed_in.at + DEFAULT_TOKEN_LIFETIME,
        username=signed_in.user.username,
        role=Role(signed_in.user.role),
    )


@router.post("/auth/logout", status_code=204, summary="Revoke the token used for this request")
def sign_out(request: Request, response: Response, session: SessionDep, user: CurrentUser) -> Response:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE, "")
    if token:
        end_session(request=request, session=session, token=token, via="api")
    out = Response(status_code=204)
    clear_session_cookie(out)
    return out


@router.get("/auth/me", response_model=UserOut, summary="The signed-in user")
def who_am_i(user: CurrentUser) -> UserOut:
    return user_out(user)
