"""The FastAPI application.

``create_app()`` builds one application bound to one database. Each domain owns its router
(``<domain>/api.py``); the shells add FHIR R4 (``/fhir``) and the web pages (``/``). They are
listed in :data:`ROUTERS`, imported here: a router that goes missing fails at start-up.

Errors: every :class:`equicover.errors.EquicoverError` becomes JSON
``{status, code, message, record, field, reason}`` with its status; request validation errors
get the same shape (422) without echoing the input (it may be personal data); anything else is a
500 whose log line names only the exception type, the method and the route (``limits.SafeErrors``).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import equicover.tables  # noqa: F401  every table, before the first request
from equicover import __version__
from equicover.admin import api as admin_api
from equicover.anomaly import api as anomaly_api
from equicover.api.docs import docs_router
from equicover.auth import api as auth_api
from equicover.auth.hashing import SignInGate
from equicover.auth.service import TokenCache, password_slots
from equicover.auth.throttle import DEFAULT_POLICY, LoginPolicy
from equicover.cards import api as cards_api
from equicover.care import api as care_api
from equicover.claims import api as claims_api
from equicover.claims.group_commit import ClaimBatcher
from equicover.db.engine import make_engine
from equicover.db.retry import is_connection_lost
from equicover.db.session import make_session_factory
from equicover.enrolment import api as enrolment_api
from equicover.errors import EquicoverError, Overloaded, TooManyAttempts
from equicover.fhir import api as fhir_api
from equicover.grievances import api as grievances_api
from equicover.http import log_safety
from equicover.http.limits import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_IN_FLIGHT,
    BodySizeLimit,
    ConcurrencyLimit,
    SafeErrors,
    TextGuard,
)
from equicover.http.security_headers import SecurityHeaders
from equicover.ledger import api as ledger_api
from equicover.payments import api as payments_api
from equicover.providers import api as providers_api
from equicover.referrals import api as referrals_api
from equicover.registry import api as registry_api
from equicover.reports import api as reports_api
from equicover.reports.dashboard_totals import TotalsRefresher
from equicover.targeting import api as targeting_api
from equicover.verification import api as verification_api
from equicover.web import routes as web_routes
from equicover.web.pages import not_found_page, refusal_page, wants_page
from equicover.web.queries import data_day

log = logging.getLogger("equicover.api")

# Each router carries its own prefix (``/api/v1/...``, ``/fhir``, ``/`` for the web pages).
ROUTERS: tuple[APIRouter, ...] = (
    # First: routes are matched in order, and claim submission is the busiest endpoint by far.
    claims_api.router,  # claims, policies, eligibility, settlement report
    auth_api.router,
    admin_api.router,
    registry_api.router,
    enrolment_api.router,
    providers_api.router,
    fhir_api.router,
    ledger_api.router,
    payments_api.router,
    care_api.router,
    reports_api.router,
    verification_api.router,
    anomaly_api.router,
    cards_api.router,
    referrals_api.router,
    grievances_api.router,
    targeting_api.router,
    web_routes.router,
)


def _error_body(
    status: int, code: str, message: str, record: str | None = None, field: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    return {"status": status, "code": code, "message": message, "record": record, "field": field, "reason": reason}


def error_response(error: EquicoverError) -> JSONResponse:
    body = _error_body(error.status, error.code, error.message)
    body.update(error.to_dict())
    headers = (
        {"WWW-Authenticate": "Bearer"} if error.status == 401 else {"Retry-After": "1"} if error.status == 503 else None
    )
    if isinstance(error, TooManyAttempts):
        headers = {"Retry-After": str(error.retry_after)}
    return JSONResponse(body, status_code=error.status, headers=headers)


_OUT_OF_RANGE = frozenset({"greater_than_equal", "less_than_equal", "greater_than", "less_than"})


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EquicoverError)
    async def _equicover_error(_request: Request, error: EquicoverError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        location = ".".join(str(part) for part in first.get("loc", ())) or "(request)"
        reason = str(first.get("msg", "invalid"))
        if tuple(first.get("loc", ()))[:1] == ("path",) and first.get("type") in _OUT_OF_RANGE:
            # An id beyond the range of stored ids names no record: not found, as any other unknown id.
            return JSONResponse(
                _error_body(404, "not_found", f"{location}: no such record", "request", location, "no such record"),
                status_code=404,
            )
        body = _error_body(422, "validation_failed", f"request: {location}: {reason}", "request", location, reason)
        body["errors"] = [
            {
                "loc": [str(part) for part in item.get("loc", ())],
                "msg": str(item.get("msg", "")),
                "type": item.get("type"),
            }
            for item in error.errors()[:20]
        ]
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        if request.url.path == "/fhir" or request.url.path.startswith("/fhir/"):
            # Unknown FHIR paths and methods are refused before any FHIR route runs: still an OperationOutcome.
            answer = fhir_api.error_outcome(error)
            if answer is not None:
                return answer
        if error.status_code == 404 and wants_page(request):
            return await run_in_threadpool(not_found_page, request)  # reads the user's language
        code = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }.get(error.status_code, "http_error")
        detail = error.detail if isinstance(error.detail, str) else "error"
        return JSONResponse(
            _error_body(error.status_code, code, detail),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, error: DBAPIError) -> Response:
        if not is_connection_lost(error):
            raise error  # unexpected: a bare 500 (limits.SafeErrors)
        log.warning("database connection lost on %s %s: %s", request.method, request.url.path, type(error).__name__)
        lost = Overloaded("database", "connection", "the database connection was lost; retry shortly")
        if request.url.path == "/fhir" or request.url.path.startswith("/fhir/"):
            answer = fhir_api.error_outcome(lost)
            if answer is not None:
                answer.headers["Retry-After"] = "1"
                return answer
        return error_response(lost)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, error: IntegrityError) -> JSONResponse:
        # The driver's message carries the row's values: log the constraint class only.
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, type(error.orig).__name__)
        return JSONResponse(
            _error_body(
                409, "conflict", "the request clashes with stored data", "request", "(record)", "constraint violated"
            ),
            status_code=409,
        )


def create_app(
    *,
    database_url: str | None = None,
    session_factory: sessionmaker[Session] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    clock: Callable[[], dt.datetime] | None = None,
    login_policy: LoginPolicy = DEFAULT_POLICY,
) -> FastAPI:
    """The application, bound to ``database_url`` (default: the configured database).

    ``session_factory`` replaces the database (tests pass one bound to a rolled-back connection).
    ``clock`` (aware UTC) times sign-in throttling and token expiry (tests pass their own);
    ``login_policy`` the throttling of failed sign-ins (:mod:`equicover.auth.throttle`).
    """
    log_safety.install()  # every log line of the process: control characters escaped
    engine = None
    if session_factory is None:
        engine = make_engine(database_url)
        session_factory = make_session_factory(engine)

    claim_batcher = ClaimBatcher(session_factory)

    def pages_day(session: Session) -> dt.date:
        """The day the pages open on, by the application's clock: the refresher keeps its coverage."""
        return data_day(session=session, today=app.state.clock().date()).day

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything built so far (modules, routes, models) lives as long as the process: keep it
        # out of the garbage collector's full collections, whose pauses would land on requests.
        gc.freeze()
        # The dashboard's totals are folded in the background, so that a page folds only the last
        # seconds. Not on SQLite: its one writer would make a request that read before the fold
        # committed fail to write ("database is locked", at once in WAL mode); there the dashboard
        # page folds what is new itself, which is as current.
        background = engine is not None and engine.dialect.name != "sqlite"
        refresher = TotalsRefresher(session_factory, pages_day=pages_day) if background else None
        if refresher is not None:
            refresher.start()
        yield
        if refresher is not None:
            refresher.close()
        claim_batcher.close()
        if engine is not None:
            engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="equicover",
        version=__version__,
        description="Registry, enrolment, eligibility and real-time settlement of health coverage.",
        # Swagger UI and ReDoc are served by the application itself (equicover.api.docs), not from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        # No OpenTelemetry here: FastAPI would otherwise look up the tracer, meter and logger
        # providers on every request, a measurable share of a claim submission's CPU.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.session_factory = session_factory
    app.state.engine = engine
    app.state.claim_batcher = claim_batcher  # POST /api/v1/claims settles through it (equicover.claims.group_commit)
    app.state.token_cache = TokenCache()
    app.state.clock = clock or (lambda: dt.datetime.now(dt.UTC))
    app.state.login_policy = login_policy
    app.state.sign_in_gate = SignInGate(slots=password_slots.slots)  # sign-ins wait here, holding nothing
    # Added last = outermost: errors are contained, then requests queue, then bodies are measured,
    # then their text is checked.
    app.add_middleware(TextGuard, page_refusal=refusal_page)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    # Claim submissions hold no database connection while they wait (the batcher settles them
    # with its own): they are bounded by the batcher's queue instead (503 when it is full).
    # Sign-ins wait for the password-hashing pool without a connection (auth.hashing.SignInGate), bounded there.
    exempt = (("POST", "/api/v1/claims"), ("POST", "/api/v1/auth/token"), ("POST", "/login"))
    app.add_middleware(ConcurrencyLimit, max_in_flight=max_in_flight, exempt=exempt)
    app.add_middleware(SafeErrors)
    app.add_middleware(SecurityHeaders)  # outermost: even a contained 500 carries the headers
    _install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(docs_router(title=app.title, openapi_url="/openapi.json"))

    return app
