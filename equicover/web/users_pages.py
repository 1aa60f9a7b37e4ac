"""The administrator's accounts page: every account with its role, area or facility and status;
disable, enable, or give a new password (generated, shown once on the page).

Writes go through :mod:`equicover.admin.service` (audited with the actor ``web:<username>``). A
disable or a reset revokes the account's tokens and drops them from this process's token cache,
so it takes effect at once here. The forms are protected as every form of the pages is: the
``SameSite=Lax`` session cookie and the refusal of a post whose ``Origin`` names another host.
Accounts are not area-scoped: only administrators, who see the whole country, manage them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Response

from equicover.admin.service import disable_user, enable_user, find_user, list_accounts, reset_user_password
from equicover.auth.roles import Role
from equicover.errors import Conflict, NotFound
from equicover.web.pages import MAX_PAGE, N_, Page, PageDep, RecordId, WebRoute

router = APIRouter(route_class=WebRoute)
PAGE_SIZE = 50

DISABLED = N_("Account %(username)s disabled: it can no longer sign in, and its sessions are ended.")
ENABLED = N_("Account %(username)s enabled.")
NEW_PASSWORD = N_("New password of %(username)s (shown only now; its sessions are ended): %(password)s")
OWN_ACCOUNT = N_("You cannot disable your own account.")
LAST_ADMIN = N_("The last active administrator cannot be disabled.")
OWN_PASSWORD = N_("Another administrator gives you a new password, or the command line does.")


def _page_number(p: int) -> int:
    if p > MAX_PAGE:
        raise NotFound("page", "p", "beyond the last page")
    return max(1, p)


def _render(page: Page, p: int, status_code: int = 200) -> Response:
    rows, total = list_accounts(session=page.session, limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE)
    return page.render(
        "users.html", status_code=status_code, rows=rows, total=total, p=p, pages=max(1, -(-total // PAGE_SIZE))
    )


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
