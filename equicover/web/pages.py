"""What every page shares: the signed-in user, the language, rendering, redirects and refusals.

A page handler asks for a :class:`Page` (``page: PageDep``), calls ``page.require(...)`` with the
roles that may see it, and returns ``page.render("template.html", ...)``. Signing in is by the
session cookie of :mod:`equicover.http.deps` (the same tokens as the JSON API); a browser without
a valid cookie is sent to the login page rather than shown a JSON 401.

Form posts must come from our own pages. Every form carries the anti-forgery token of
:mod:`equicover.http.csrf` (``{{ csrf_field() }}`` in the template), and a post without the token
of this browser's cookie is refused with a page that says to reload; besides, the session cookie is
``SameSite=Lax`` (no cross-site POST carries it) and a POST whose ``Origin`` names another host, or
is ``null``, is refused the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path as PathLib
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from equicover.auth.deps import SESSION_COOKIE, now_of
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.service import resolve_token
from equicover.errors import EquicoverError, RecordError, Unauthorized
from equicover.http import csrf
from equicover.http.deps import SessionDep
from equicover.http.limits import CONTROL_CHARACTER, UNPAIRED_SURROGATE
from equicover.web.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    SCRIPT_LANG,
    Localiser,
    language_from_accept,
    language_name,
    normalise_language,
)
from equicover.web.queries import DataDay, data_day

TEMPLATES_DIR = PathLib(__file__).resolve().parent / "templates"
LANGUAGE_COOKIE = "equicover_lang"

# Each role's pages, in the order of the navigation; the first is where the role lands.
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    Role.CLERK: ("window", "referrals", "grievances"),
    Role.REGISTRAR: ("registry", "gaps", "targeting", "grievances"),
    Role.VERIFIER: ("verification", "grievances"),
    Role.FUND_MANAGER: ("dashboard", "reports", "simulation", "targeting_quality", "grievances"),
    Role.ANALYST: ("simulation", "dashboard"),
    Role.ADMIN: (
        "dashboard",
        "reports",
        "simulation",
        "registry",
        "gaps",
        "targeting",
        "targeting_quality",
        "verification",
        "window",
        "grievances",
        "users",
        "audit",
    ),
}


def N_(message: str) -> str:
    """Marks a text for the catalogues; it is translated where it is shown."""
    return message


def label_of(lang: Localiser, labels: Mapping[str, str]) -> Callable[[str], str]:
    """A template function: a code's label in the page's language, or the code itself when it has none."""
    return lambda code: lang.gettext(labels.get(code, code))


ROLE_LABELS: dict[str, str] = {
    Role.CLERK: N_("Clerk"),
    Role.REGISTRAR: N_("Registrar"),
    Role.VERIFIER: N_("Verifier"),
    Role.FUND_MANAGER: N_("Fund manager"),
    Role.ADMIN: N_("Administrator"),
    Role.ANALYST: N_("Policy analyst"),
}
PAGE_LABELS: dict[str, str] = {
    "window": N_("One-stop window"),
    "registry": N_("Registry"),
    "gaps": N_("Coverage gaps"),
    "verification": N_("Verification queue"),
    "dashboard": N_("Dashboards"),
    "users": N_("Accounts"),
    "audit": N_("Audit log"),
    "reports": N_("Reports and payment files"),
    "simulation": N_("What if"),
    "referrals": N_("Referral letters"),
    "grievances": N_("Grievances"),
    "targeting": N_("Identification of the poor"),
    "targeting_quality": N_("Targeting quality"),
}
# The standard categories' labels (registry.models.STANDARD_CATEGORIES and the generator's), for
# the catalogues; a category added later shows its stored label untranslated.
CATEGORY_LABELS: dict[str, str] = {
    "registered_poor": N_("Registered poor household member"),
    "near_poor": N_("Near-poor household member"),
    "vulnerable": N_("Vulnerable (not poor, cannot pay in full)"),
    "elderly": N_("Elderly person"),
    "ethnic_minority": N_("Member of an ethnic minority"),
    "student": N_("Pupil or student"),
    "foreign_national": N_("Foreign national"),
    "child_under_6": N_("Child under six"),
    "disabled": N_("Person with a disability"),
    "informal_worker": N_("Informal-sector worker"),
    "low_income": N_("Low-income household member"),
}
PAGE_PATHS: dict[str, str] = {
    "window": "/window",
    "registry": "/registry",
    "gaps": "/registry/gaps",
    "verification": "/verification",
    "dashboard": "/dashboard",
    "users": "/admin/users",
    "audit": "/admin/audit",
    "reports": "/reports",
    "simulation": "/simulation",
    "referrals": "/window/referrals",
    "grievances": "/grievances",
    "targeting": "/targeting",
    "targeting_quality": "/targeting/quality",
}

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(("html", "xml")),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)


# A stored row's id in a page's path; beyond a 32-bit integer there is no such record (404 page).
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The highest page number of a paged list: beyond it there is no such page (404 page).
MAX_PAGE = 10**6

INVALID_VALUE = N_("is not a valid value")
FIELD_NOT_ACCEPTED = N_("%(field)s: the value is not accepted.")
# A service's refusals a page knows how to say: (field, start of the reason or None) -> message.
Refusals = Mapping[tuple[str, str | None], str]
# The reasons of the request-level text check, as the catalogues know them.
REFUSAL_REASONS: dict[str, str] = {
    CONTROL_CHARACTER: N_("contains a control character, which is not allowed"),
    UNPAIRED_SURROGATE: N_("contains an unpaired surrogate, which is not text"),
}


def home_path(role: str) -> str:
    pages = ROLE_PAGES.get(role, ())
    return PAGE_PATHS[pages[0]] if pages else "/login"


def person_name(full_name: str | None, script: str | None) -> Markup:
    """A name in its own script, isolated from the surrounding direction (``<bdi>``)."""
    lang = SCRIPT_LANG.get(script or "", "")
    lang_attribute = Markup(' lang="{}"').format(lang) if lang else Markup("")
    return Markup('<bdi class="name" dir="auto"{}>{}</bdi>').format(lang_attribute, full_name or "")


def choose_language(request: Request, user: User | None) -> str:
    """The picker's cookie first, then the user's own default, then the browser's, then English."""
    return (
        normalise_language(request.cookies.get(LANGUAGE_COOKIE))
        or normalise_language(user.language if user is not None else None)
        or language_from_accept(request.headers.get("accept-language"))
        or DEFAULT_LANGUAGE
    )


def safe_next(target: str | None, fallback: str) -> str:
    """Only a path on this site (no scheme, no host, no ``//``) may be a redirect target."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


class FormRefused(HTTPException):
    """A form post that did not come from this browser's own page of this application."""

    def __init__(self, reason: str) -> None:
        super().__init__(status_code=403, detail=reason)


def check_same_origin(request: Request) -> None:
    """A form post must come from the application's own pages.

    The browser says where a post comes from in ``Origin`` (``null`` from a sandboxed frame, a file or
    a privacy-stripped context: refused, since none of our pages posts from there), or else in
    ``Referer``; one that names another host is refused. A client that sends neither is not a
    browser: the session cookie (``SameSite=Lax``) is what a forged cross-site post lacks."""
    if request.method != "POST":
        return
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None:
        if origin == "null" or urlsplit(origin).netloc != host:
            raise FormRefused("cross-site form post refused")
        return
    referer = request.headers.get("referer")
    if referer is not None and urlsplit(referer).netloc != host:
        raise FormRefused("cross-site form post refused")


def form_secret(request: Request) -> str | None:
    """The cookie this browser's form tokens derive from: its session, else its pre-session cookie."""
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(csrf.FORM_COOKIE)


async def posted_form_token(request: Request) -> str | None:
    """The anti-forgery field of a posted form (the form is parsed once; the handler reuses it)."""
    if request.method != "POST":
        return None
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    value = (await request.form()).get(csrf.FORM_FIELD)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Viewer:
    """The signed-in user's fields a page shows, copied so that an error page can still use them
    after the request's session was rolled back."""

    id: int
    username: str
    role: str
    location_id: int | None
    provider_id: int | None
    language: str

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.id, user.username, user.role, user.location_id, user.provider_id, user.language)


@dataclass
class Page:
    """The request as a page sees it: who, in which language, on which database session."""

    request: Request
    session: Session
    user: User | None
    lang: Localiser
    viewer: Viewer | None = None
    flashes: list[tuple[str, str]] = field(default_factory=list)
    new_form_cookie: str | None = None
    invalid_field: str | None = None
    _data_day: DataDay | None = None

    @property
    def data_day(self) -> DataDay:
        """The day the pages open on (:func:`equicover.web.queries.data_day`), read once per request."""
        if self._data_day is None:
            self._data_day = data_day(session=self.session, today=now_of(self.request).date())
        return self._data_day

    def require(self, *roles: str) -> None:
        """Send an anonymous visitor to the login page; refuse (403 page) a user of another role."""
        if self.user is None:
            target = self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")
            raise HTTPException(status_code=303, detail="sign in", headers={"Location": f"/login?next={quote(target)}"})
        if self.user.role not in roles and self.user.role != Role.ADMIN:
            raise PageRefused(self.user.role)

    @property
    def role(self) -> str | None:
        return self.viewer.role if self.viewer else None

    @property
    def current_user(self) -> User:
        assert self.user is not None, "call require() first"
        return self.user

    @property
    def actor(self) -> str:
        """Who the audit trail names: ``web:<username>``."""
        assert self.viewer is not None, "call require() first"
        return f"web:{self.viewer.username}"

    def undo_refused(self, error: EquicoverError) -> None:
        """A refusal the page shows: what the request wrote is undone. A server fault (5xx) is no
        refusal: it is raised again, for the error page and the log."""
        if error.status >= 500:
            raise error
        self.session.rollback()

    def error(self, message: str, field: str | None = None) -> None:
        """Show ``message`` above the form; with ``field``, that input is marked invalid, described
        by the message, and focused (:meth:`invalid`)."""
        self.flashes.append(("error", message))
        if field is not None and self.invalid_field is None:
            self.invalid_field = field

    def invalid(self, field: str) -> Markup:
        """The attributes of an input: ``aria-invalid``, its description and focus when it is the refused one."""
        if field != self.invalid_field:
            return Markup("")
        return Markup(' aria-invalid="true" aria-describedby="form-error" autofocus')

    def error_of(self, error: EquicoverError, known: Refusals | None = None) -> None:
        """A service's refusal, shown on the page in the user's language and placed on its field.

        ``known`` maps ``(field, start of the reason)`` (``None``: any reason of that field) to the
        catalogue's text; a refusal none of them names is shown as the field not being accepted,
        never as the service's English reason."""
        field_name = getattr(error, "field", None)
        reason = str(getattr(error, "reason", error.message))
        for (known_field, start), message in (known or {}).items():
            if known_field == field_name and (start is None or reason.startswith(start)):
                self.error(self.lang.gettext(message), field=field_name)
                return
        self.error(self.lang.gettext(FIELD_NOT_ACCEPTED, field=field_name or "—"), field=field_name)

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = _environment.get_template(template).render(**self.template_context(), **context)
        response = HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
        if self.new_form_cookie is not None:
            response.set_cookie(
                csrf.FORM_COOKIE,
                self.new_form_cookie,
                httponly=True,
                samesite="lax",
                secure=self.request.url.scheme == "https",
                path="/",
            )
        return response

    def form_token(self) -> str:
        """The anti-forgery token of this browser; a first visit is handed a pre-session cookie."""
        secret = form_secret(self.request)
        if secret is None:
            if self.new_form_cookie is None:
                self.new_form_cookie = csrf.new_form_cookie()
            secret = self.new_form_cookie
        return csrf.token_for(secret)

    def csrf_field(self) -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(csrf.FORM_FIELD, self.form_token())

    def template_context(self) -> dict[str, Any]:
        lang = self.lang
        user = self.viewer
        nav = []
        if user is not None:
            path = self.request.url.path
            for page_key in ROLE_PAGES.get(user.role, ()):
                target = PAGE_PATHS[page_key]
                current = path == target or (
                    path.startswith(target + "/")
                    and not any(other != target and path.startswith(other) for other in PAGE_PATHS.values())
                )
                nav.append({"key": page_key, "path": target, "current": current})
        return {
            "_": lang.gettext,
            "gettext": lang.gettext,
            "ngettext": lang.ngettext,
            "lang": lang,
            "user": user,
            "nav": nav,
            "languages": [(code, language_name(code)) for code in LANGUAGES],
            "flashes": self.flashes,
            "csrf_field": self.csrf_field,
            "data_day": lambda: self.data_day,
            "invalid": self.invalid,
            # "Back" points the way the page reads: an arrow is not mirrored by the text direction.
            "back": "→" if lang.direction == "rtl" else "←",
            "request_path": self.request.url.path,
            "request_query": self.request.url.query,
            "name": person_name,
            "role_label": label_of(lang, ROLE_LABELS),
            "page_label": lambda key: lang.gettext(PAGE_LABELS[key]),
            "label": lambda message: lang.gettext(message) if message else "",
            "category_label": lambda code, stored=None: (
                lang.gettext(CATEGORY_LABELS[code]) if code in CATEGORY_LABELS else (stored or code)
            ),
        }


class PageRefused(HTTPException):
    def __init__(self, role: str) -> None:
        super().__init__(status_code=403, detail=f"not a page for the role {role}")


class WebRoute(APIRoute):
    """A route whose refusals are pages, not JSON: 403 / 404 / 422 ... rendered in the user's language."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PageRefused:
                return _error_page(request, 403, "forbidden")
            except FormRefused:
                return _error_page(request, 403, "form_refused")
            except RequestValidationError as error:
                first = error.errors()[0] if error.errors() else {}
                location = [str(part) for part in first.get("loc", ())]
                if location[:1] == ["path"]:
                    return _error_page(request, 404, "not_found")  # an id that cannot exist
                return _error_page(request, 422, "invalid", field=".".join(location) or "(request)")
            except EquicoverError as error:
                if error.status in (403, 404):
                    return _error_page(request, error.status, "forbidden" if error.status == 403 else "not_found")
                if error.status == 422 and isinstance(error, RecordError):
                    return _error_page(request, 422, "invalid", field=error.field, reason=error.reason)
                raise

        return route_handler


def _error_page(request: Request, status: int, kind: str, field: str = "", reason: str = "") -> Response:
    page: Page | None = getattr(request.state, "page", None)
    if page is None:
        return HTMLResponse(f"<h1>{status}</h1>", status_code=status)
    # Only reasons the catalogues know are shown; any other (a parser's, in English) is named generically.
    shown = page.lang.gettext(REFUSAL_REASONS.get(reason, INVALID_VALUE))
    return page.render("error.html", status_code=status, status=status, kind=kind, field=field, reason=shown)


def refusal_page(scope: Any, error: RecordError) -> Response:
    """A request refused before any page ran (``http.limits.TextGuard``), as a page in the user's language."""
    return _page_outside_routes(Request(scope), error.status, "invalid", field=error.field, reason=error.reason)


def wants_page(request: Request) -> bool:
    """Whether an error for this request is shown as a page: a browser's request for a path that is
    not the JSON API's, FHIR's or the API documentation's (those answer in their own format)."""
    path = request.url.path
    if path.startswith(("/api/", "/fhir", "/docs", "/openapi", "/static/", "/.well-known/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def not_found_page(request: Request) -> Response:
    """An address no route serves, as a page in the user's language with the way back."""
    return _page_outside_routes(request, 404, "no_page")


def _page_outside_routes(request: Request, status: int, kind: str, field: str = "", reason: str = "") -> Response:
    with request.app.state.session_factory() as session:
        user = _user_from_cookie(request, session)
        request.state.page = Page(
            request=request,
            session=session,
            user=user,
            lang=Localiser(choose_language(request, user)),
            viewer=Viewer.of(user) if user is not None else None,
        )
        return _error_page(request, status, kind, field=field, reason=reason)


def _user_from_cookie(request: Request, session: Session) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return resolve_token(session=session, token=token)
    except Unauthorized:
        return None


def get_page(
    request: Request, session: SessionDep, form_token: Annotated[str | None, Depends(posted_form_token)]
) -> Page:
    user = _user_from_cookie(request, session)
    page = Page(
        request=request,
        session=session,
        user=user,
        lang=Localiser(choose_language(request, user)),
        viewer=Viewer.of(user) if user is not None else None,
    )
    request.state.page = page
    if request.method == "POST":
        check_same_origin(request)
        if not csrf.token_matches(form_secret(request), form_token):
            raise FormRefused("form without this browser's anti-forgery token")
    return page


PageDep = Annotated[Page, Depends(get_page)]


def redirect(path: str) -> RedirectResponse:
    """After a successful form post: see the result with a GET (303), so a reload does not post again."""
    return RedirectResponse(path, status_code=303)


def html_escape(value: object) -> str:
    return str(escape(value))
