"""FastAPI dependencies of authentication, shared by every router.

- :func:`current_user`: the caller, from ``Authorization: Bearer <token>`` or, for the web pages,
  the session cookie (:data:`SESSION_COOKIE`, set with :func:`set_session_cookie`).
- :func:`require_roles`: ``Depends(require_roles(Role.ADMIN, Role.REGISTRAR))`` gives the user or 403;
  :func:`require_roles_fast` does the same through a short-lived token cache, for claim submission.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from equicover.auth.hashing import SignInGate
from equicover.auth.models import User
from equicover.auth.roles import ANALYST_API_PATHS, Role
from equicover.auth.service import (
    DEFAULT_TOKEN_LIFETIME,
    authenticate,
    issue_token,
    password_slots,
    resolve_token,
    resolve_token_cached,
    revoke_token,
)
from equicover.auth.throttle import DEFAULT_POLICY, LoginPolicy
from equicover.errors import Forbidden, Unauthorized
from equicover.http import csrf
from equicover.http.deps import SessionDep, session_factory_of

SESSION_COOKIE = "equicover_session"

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


def now_of(request: Request) -> dt.datetime:
    """The application's clock (``app.state.clock``; tests set their own), aware UTC."""
    clock: Callable[[], dt.datetime] | None = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else dt.datetime.now(dt.UTC)


def login_policy_of(request: Request) -> LoginPolicy:
    policy: LoginPolicy | None = getattr(request.app.state, "login_policy", None)
    return policy or DEFAULT_POLICY


def sign_in_gate_of(request: Request) -> SignInGate:
    """The application's :class:`~equicover.auth.hashing.SignInGate` (one per event loop)."""
    gate: SignInGate | None = getattr(request.app.state, "sign_in_gate", None)
    if gate is None:
        gate = request.app.state.sign_in_gate = SignInGate(slots=password_slots.slots)
    return gate


def client_address(request: Request) -> str:
    """The peer's address as the server saw it (behind a reverse proxy: the proxy's, unless the
    server is told to trust its forwarding headers)."""
    return request.client.host if request.client is not None else "unknown"


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    token: str
    at: dt.datetime  # when the token was issued (the application's clock)


async def start_session(*, request: Request, session: Session, username: str, password: str, via: str) -> SignedIn:
    """The REST and web sign-in: wait for a turn at the hashing pool on the event loop (holding
    nothing), check the password through the throttle in a worker thread, then issue a token.

    Raises what :func:`equicover.auth.service.authenticate` raises (401, 429, 503); the caller answers
    rather than re-raises a 401, so that the request's unit of work commits the failure's count."""
    now = now_of(request)
    async with sign_in_gate_of(request).turn():
        user = await run_in_threadpool(
            partial(
                authenticate,
                session=session,
                username=username,
                password=password,
                address=client_address(request),
                via=via,
                now=now,
                policy=login_policy_of(request),
                reader=session_factory_of(request),
            )
        )
    token = await run_in_threadpool(partial(issue_token, session=session, user=user, now=now))
    return SignedIn(user, token, now)


def end_session(*, request: Request, session: Session, token: str, via: str) -> None:
    """Revoke ``token``, and forget it in this process's cache at once (claim submission too)."""
    revoke_token(session=session, token=token, via=via)
    request.app.state.token_cache.forget(token)


def caller_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    """The caller's token: the bearer token, else the session cookie. A state-changing call signed
    in by the cookie alone must also carry the page's anti-forgery token (``X-CSRF-Token``): a
    browser sends the cookie wherever a request comes from, a bearer token only where it is set."""
    if credentials is not None:
        return credentials.credentials
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthorized("request", "authorization", "sign in first: bearer token or session cookie required")
    if request.method in csrf.UNSAFE_METHODS and not csrf.token_matches(token, request.headers.get(csrf.HEADER)):
        raise Forbidden(
            "request", csrf.HEADER, "a call signed in by the session cookie must carry the page's anti-forgery token"
        )
    return token


def current_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> User:
    """The authenticated caller (bearer token first, then the session cookie), or 401."""
    token = caller_token(request, credentials)
    user = resolve_token(session=session, token=token, now=now_of(request))
    request.state.username = user.username  # for the access log (a username, not personal data)
    refuse_analyst_outside_aggregates(request, user)
    return user


def refuse_analyst_outside_aggregates(request: Request, user: User) -> None:
    """An analyst reads aggregates only: any route not in :data:`ANALYST_API_PATHS` is refused (403)
    before it runs, so that a route open to "any signed-in user" never hands it persons or claims."""
    if user.role != Role.ANALYST:
        return
    route = request.scope.get("route")
    if getattr(route, "path", None) not in ANALYST_API_PATHS:
        raise Forbidden(f"user {user.username}", "role", "an analyst reads aggregates only, never records of persons")


CurrentUser = Annotated[User, Depends(current_user)]


def _resolve_cached(request: Request, token: str) -> User:
    with session_factory_of(request)() as session:
        user = resolve_token_cached(
            session=session, token=token, cache=request.app.state.token_cache, now=now_of(request)
        )
        session.commit()  # the token's last use, when it was due for a refresh
        return user


def require_roles_fast(*roles: str) -> Callable[..., Awaitable[User]]:
    """:func:`require_roles` for the hottest endpoint (claim submission): the token is resolved
    through the application's :class:`equicover.auth.service.TokenCache`, with no session of
    the request (see the cache for what that trades). Bearer token or cookie, 401 or 403 alike."""
    allowed = frozenset(roles)

    async def _dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None
    ) -> User:
        token = caller_token(request, credentials)
        user = request.app.state.token_cache.get(token)
        if user is None:
            user = await run_in_threadpool(_resolve_cached, request, token)
        request.state.username = user.username
        refuse_analyst_outside_aggregates(request, user)
        if user.role not in allowed:
            raise Forbidden(
                f"user {user.username}", "role", f"this needs one of the roles: {', '.join(sorted(allowed))}"
            )
        return user

    return _dependency


def require_roles(*roles: str) -> Callable[..., Awaitable[User]]:
    """A dependency giving the current user if their role is one of ``roles``, else 403."""
    allowed = frozenset(roles)

    async def _dependency(user: CurrentUser) -> User:  # async: no I/O, no thread-pool hop
        if user.role not in allowed:
            raise Forbidden(
                f"user {user.username}", "role", f"this needs one of the roles: {', '.join(sorted(allowed))}"
            )
        return user

    return _dependency


def set_session_cookie(response: Response, token: str, *, secure: bool = False) -> None:
    """Hand a token to a browser as an HttpOnly cookie (the web pages sign in with this)."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(DEFAULT_TOKEN_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
