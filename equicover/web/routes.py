"""The web pages of equicover, served by the same FastAPI application as the JSON API.

``router`` is mounted by :func:`equicover.api.app.create_app`. It carries the shared pages (sign
in and out, the language picker, the static files) and includes each role's pages:

- ``/window``: the one-stop settlement window (clerk), :mod:`equicover.web.window`;
- ``/registry``: households, members, enrolment, coverage gaps (registrar), :mod:`equicover.web.registry_pages`;
- ``/verification``: the verification queue (verifier), :mod:`equicover.web.verification_pages`;
- ``/dashboard``: the fund manager's indicators, :mod:`equicover.web.dashboard`;
- ``/simulation``: what if, a stored year under two policies (fund manager), :mod:`equicover.web.simulation_pages`;
- ``/reports``: the semi-annual report and payment batch files (fund manager), :mod:`equicover.web.reports_pages`;
- ``/targeting``: identification of the poor (registrar), the hospital's interview (clerk) and the
  targeting quality (fund manager), :mod:`equicover.web.targeting_pages`;
- ``/admin/users``, ``/admin/audit``: the accounts and the audit log (admin), :mod:`equicover.web.users_pages`.

Every asset (stylesheet, script, the vendored ECharts file) is served from
``equicover/web/static`` by :func:`static_file`: the pages make no request to any other host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import FileResponse

from equicover.auth.deps import (
    SESSION_COOKIE,
    clear_session_cookie,
    end_session,
    set_session_cookie,
    start_session,
)
from equicover.errors import Overloaded, TooManyAttempts, Unauthorized
from equicover.web import (
    card_scan,
    dashboard,
    grievance_pages,
    referral_pages,
    registry_pages,
    reports_pages,
    simulation_pages,
    targeting_pages,
    users_pages,
    verification_pages,
    window,
)
from equicover.web.i18n import normalise_language
from equicover.web.pages import LANGUAGE_COOKIE, N_, PageDep, WebRoute, home_path, redirect, safe_next

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}

router = APIRouter(include_in_schema=False, route_class=WebRoute)

TOO_MANY_ATTEMPTS = N_("Too many failed sign-ins. Wait %(seconds)s seconds, then try again.")
BUSY = N_("Too many people are signing in at this moment. Try again in a few seconds.")


@router.get("/")
def home(page: PageDep) -> Response:
    if page.viewer is None:
        return redirect("/login")
    return redirect(home_path(page.viewer.role))


@router.get("/login")
def login_form(page: PageDep, next: str | None = None) -> Response:
    return page.render("login.html", next=safe_next(next, ""))


@router.post("/login")
async def login(
    page: PageDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Async: the sign-in waits for its turn at the hashing pool on the event loop, holding nothing."""
    try:
        signed_in = await start_session(
            request=page.request, session=page.session, username=username.strip(), password=password, via="web"
        )
    except Unauthorized:
        # Rendered, not raised: the request's unit of work commits the failure's count and audit row.
        page.error(page.lang.gettext("Wrong username or password."))
        return page.render("login.html", status_code=401, next=safe_next(next, ""), username=username)
    except (TooManyAttempts, Overloaded) as refusal:
        wait = refusal.retry_after if isinstance(refusal, TooManyAttempts) else 1
        if isinstance(refusal, TooManyAttempts):
            page.error(page.lang.gettext(TOO_MANY_ATTEMPTS, seconds=page.lang.number(wait)))
        else:
            page.error(page.lang.gettext(BUSY))
        answer = page.render("login.html", status_code=refusal.status, next=safe_next(next, ""), username=username)
        answer.headers["Retry-After"] = str(wait)
        return answer
    response = redirect(safe_next(next, home_path(signed_in.user.role)))
    set_session_cookie(response, signed_in.token, secure=page.request.url.scheme == "https")
    # The user's own language wins over what the picker chose before signing in.
    response.delete_cookie(LANGUAGE_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(page: PageDep) -> Response:
    token = page.request.cookies.get(SESSION_COOKIE)
    if token:
        end_session(request=page.request, session=page.session, token=token, via="web")
    response = redirect("/login")
    clear_session_cookie(response)
    return response


@router.post("/language")
def choose_language(
    page: PageDep,
    language: Annotated[str, Form(max_length=16)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """The picker: remembered in a cookie, and as the user's own default when signed in."""
    chosen = normalise_language(language)
    response = redirect(safe_next(next, "/"))
    if chosen is None:
        return response
    if page.user is not None and page.user.language != chosen:
        # The user's default language is a column of their own account; changing one's own
        # language is not an audited registry change.
        page.user.language = chosen
    response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


@router.get("/static/{path:path}")
def static_file(path: str) -> Response:
    target = (STATIC_DIR / path).resolve()
    if not target.is_file() or STATIC_DIR not in target.parents or target.suffix not in STATIC_TYPES:
        raise HTTPException(status_code=404, detail="no such file")
    return FileResponse(
        target,
        media_type=STATIC_TYPES[target.suffix],
        headers={"Cache-Control": "public, max-age=3600"},
    )


router.include_router(card_scan.router)  # before window: /window/scan is not a window path parameter
router.include_router(referral_pages.router)
router.include_router(grievance_pages.router)
router.include_router(targeting_pages.router)
router.include_router(window.router)
router.include_router(registry_pages.router)
router.include_router(verification_pages.router)
router.include_router(dashboard.router)
router.include_router(users_pages.router)
router.include_router(reports_pages.router)
router.include_router(simulation_pages.router)
