"""The administrator's pages: every account with its role, area or facility and status; create
one, disable, enable, or give a new password (generated, shown once on the page); and the audit
log, newest first, filtered by record type, actor and action.

Writes go through :mod:`equicover.admin.service` (audited with the actor ``web:<username>``). A
disable or a reset revokes the account's tokens and drops them from this process's token cache,
so it takes effect at once here. The forms are protected as every form of the pages is: the
``SameSite=Lax`` session cookie and the refusal of a post whose ``Origin`` names another host.
Accounts are not area-scoped: only administrators, who see the whole country, manage them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Response

from equicover.admin.service import (
    create_user,
    disable_user,
    enable_user,
    find_user,
    list_accounts,
    reset_user_password,
)
from equicover.audit.service import changes_query
from equicover.auth.passwords import password_problem
from equicover.auth.roles import Role
from equicover.auth.service import generate_password
from equicover.errors import Conflict, EquicoverError, NotFound
from equicover.web.i18n import LANGUAGES
from equicover.web.pages import MAX_PAGE, N_, ROLE_LABELS, Page, PageDep, RecordId, Refusals, WebRoute, redirect

router = APIRouter(route_class=WebRoute)
PAGE_SIZE = 50

DISABLED = N_("Account %(username)s disabled: it can no longer sign in, and its sessions are ended.")
ENABLED = N_("Account %(username)s enabled.")
NEW_PASSWORD = N_("New password of %(username)s (shown only now; its sessions are ended): %(password)s")
OWN_ACCOUNT = N_("You cannot disable your own account.")
LAST_ADMIN = N_("The last active administrator cannot be disabled.")
OWN_PASSWORD = N_("Another administrator gives you a new password, or the command line does.")
CREATED = N_("Account %(username)s created. Its password (shown only now; hand it over in person): %(password)s")
# The accounts service's refusals of a new account, as the administrator reads them.
ACCOUNT_REFUSALS: Refusals = {
    ("username", "a user with this username exists"): N_("An account with this username exists."),
    ("username", None): N_("The username must be 1 to 100 characters."),
    ("role", None): N_("Choose a role."),
    ("provider", "an analyst"): N_("An analyst reads national figures: leave the area and the facility empty."),
    ("area", "an analyst"): N_("An analyst reads national figures: leave the area and the facility empty."),
    ("provider", "a clerk works"): N_("A clerk works at one facility: give its code."),
    ("provider", None): N_("There is no facility with this code."),
    ("area", "a registrar or verifier"): N_("A registrar or verifier works in a province or district: give its code."),
    ("area", "must be a country"): N_("The area must be a country, a province or a district."),
    ("area", None): N_("There is no area with this code."),
    ("language", None): N_("Choose a language."),
}
AUDIT_PAGE_SIZE = 50


def _page_number(p: int) -> int:
    if p > MAX_PAGE:
        raise NotFound("page", "p", "beyond the last page")
    return max(1, p)


def _render(page: Page, p: int, status_code: int = 200, form: dict[str, str] | None = None) -> Response:
    rows, total = list_accounts(session=page.session, limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE)
    return page.render(
        "users.html",
        status_code=status_code,
        rows=rows,
        total=total,
        p=p,
        pages=max(1, -(-total // PAGE_SIZE)),
        roles=list(ROLE_LABELS),
        language_codes=LANGUAGES,
        form=form or {"role": Role.CLERK, "language": page.lang.language},
    )


def _new_password(username: str) -> str:
    """A random password the password rule takes (a very short username can occur in one by chance)."""
    while True:
        password = generate_password()
        if password_problem(username, password) is None:
            return password


@router.post("/admin/users")
def create_account(
    page: PageDep,
    username: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    area: Annotated[str, Form(max_length=64)] = "",
    provider: Annotated[str, Form(max_length=64)] = "",
    language: Annotated[str, Form(max_length=16)] = "en",
) -> Response:
    page.require(Role.ADMIN)
    form = {"username": username, "role": role, "area": area, "provider": provider, "language": language}
    password = _new_password(username.strip())
    try:
        user = create_user(
            session=page.session,
            username=username,
            password=password,
            role=role,
            area_code=area.strip() or None,
            provider_code=provider.strip() or None,
            language=language,
            actor=page.actor,
        )
    except EquicoverError as error:
        page.undo_refused(error)
        page.error_of(error, ACCOUNT_REFUSALS)
        return _render(page, 1, status_code=error.status, form=form)
    page.flashes.append(("ok", page.lang.gettext(CREATED, username=user.username, password=password)))
    return _render(page, 1)


@router.get("/admin/users")
def users_page(page: PageDep, p: int = 1) -> Response:
    page.require(Role.ADMIN)
    return _render(page, _page_number(p))


@router.post("/admin/users/{user_id}/disable")
def disable(page: PageDep, user_id: RecordId, p: Annotated[int, Form()] = 1) -> Response:
    page.require(Role.ADMIN)
    user = find_user(session=page.session, user_id=user_id)
    try:
        disable_user(session=page.session, user=user, actor=page.actor, acting_user_id=page.current_user.id)
    except Conflict:
        message = OWN_ACCOUNT if user.id == page.current_user.id else LAST_ADMIN
        page.error(page.lang.gettext(message))
        return _render(page, _page_number(p), status_code=409)
    page.request.app.state.token_cache.forget_user(user.id)
    page.flashes.append(("ok", page.lang.gettext(DISABLED, username=user.username)))
    return _render(page, _page_number(p))


@router.post("/admin/users/{user_id}/enable")
def enable(page: PageDep, user_id: RecordId, p: Annotated[int, Form()] = 1) -> Response:
    page.require(Role.ADMIN)
    user = enable_user(session=page.session, user=find_user(session=page.session, user_id=user_id), actor=page.actor)
    page.flashes.append(("ok", page.lang.gettext(ENABLED, username=user.username)))
    return _render(page, _page_number(p))


@router.post("/admin/users/{user_id}/reset-password")
def reset_password(page: PageDep, user_id: RecordId, p: Annotated[int, Form()] = 1) -> Response:
    page.require(Role.ADMIN)
    user = find_user(session=page.session, user_id=user_id)
    if user.id == page.current_user.id:
        page.error(page.lang.gettext(OWN_PASSWORD))
        return _render(page, _page_number(p), status_code=409)
    user, password = reset_user_password(
        session=page.session, user=user, actor=page.actor, acting_user_id=page.current_user.id
    )
    page.request.app.state.token_cache.forget_user(user.id)
    page.flashes.append(("ok", page.lang.gettext(NEW_PASSWORD, username=user.username, password=password)))
    return _render(page, _page_number(p))


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 300 else text[:299] + "…"


@router.get("/admin/audit")
def audit_page(page: PageDep, entity: str = "", actor: str = "", action: str = "", p: int = 1) -> Response:
    """The change log, newest first; a page says whether more follow rather than counting a log
    that grows with every claim."""
    page.require(Role.ADMIN)
    p = _page_number(p)
    query = changes_query(entity=entity.strip() or None, actor=actor.strip() or None, action=action.strip() or None)
    rows = list(page.session.scalars(query.limit(AUDIT_PAGE_SIZE + 1).offset((p - 1) * AUDIT_PAGE_SIZE)))
    filters = {"entity": entity, "actor": actor, "action": action}
    return page.render(
        "audit.html",
        rows=rows[:AUDIT_PAGE_SIZE],
        more=len(rows) > AUDIT_PAGE_SIZE,
        p=p,
        filters=filters,
        json_text=_json_text,
    )


@router.get("/admin")
def admin_home(page: PageDep) -> Response:
    page.require(Role.ADMIN)
    return redirect("/admin/users")
