"""The window's card check (``/window/scan``): the page that reads a member card's QR code with
the device camera and verifies its signature in the browser (``static/card_scan.js``, with the
vendored ``jsQR`` decoder), offline too; the format is ``docs/cards.md``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from equicover.auth.roles import Role
from equicover.cards.keys import SCHEME_FILE_NAME
from equicover.enrolment.models import Scheme
from equicover.web.pages import PageDep, WebRoute

router = APIRouter(route_class=WebRoute)
SCAN_ROLES = (Role.CLERK, Role.REGISTRAR, Role.ADMIN)


@router.get("/window/scan")
def card_scan(page: PageDep) -> Response:
    page.require(*SCAN_ROLES)
    # The schemes whose keys the page keeps on the device while online, for the checks made offline.
    codes = [
        code for code in page.session.scalars(select(Scheme.code).order_by(Scheme.code)) if SCHEME_FILE_NAME.match(code)
    ]
    return page.render("window_scan.html", schemes=codes)
