"""The administrator creates accounts on the web page and reads the audit log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from equicover.auth.models import User
from tests import factories as make
from tests.api_helpers import form_token, login_as, make_client

NEW_PASSWORD = re.compile(r"hand it over in person\): (\S+)</div>")


@pytest.fixture
def admin_client(session_factory: sessionmaker[Session], session: Session):
    make.locations(session)
    make.provider(session, code="PA", location_code="D1")
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    login_as(client, "admin", username="chief", cookie=True)
    return client


def _create(client, **fields: str):
    return client.post("/admin/users", data={**form_token(client), "language": "en", **fields})


def test_an_account_created_on_the_page_signs_in_with_the_password_shown_once(admin_client, session: Session) -> None:
    client = admin_client
    created = _create(client, username="window-7", role="clerk", provider="PA", language="vi")
    assert created.status_code == 200
    password = NEW_PASSWORD.search(created.text).group(1)
    assert len(password) >= 12
    user = session.scalars(select(User).where(User.username == "window-7")).one()
    assert (user.role, user.language, user.provider_id is not None) == ("clerk", "vi", True)
    assert password not in client.get("/admin/users").text  # shown once
    fresh = make_client(session_factory=client.app.state.session_factory)
    token = fresh.post("/api/v1/auth/token", json={"username": "window-7", "password": password})
    assert token.status_code == 200


@pytest.mark.parametrize(
    ("fields", "status", "message", "field"),
    [
        ({"username": "chief", "role": "admin"}, 409, "An account with this username exists.", "username"),
        ({"username": "w-8", "role": "clerk"}, 422, "A clerk works at one facility: give its code.", "provider"),
        (
            {"username": "w-9", "role": "clerk", "provider": "NOPE"},
            422,
            "There is no facility with this code.",
            "provider",
        ),
        (
            {"username": "r-1", "role": "registrar"},
            422,
            "A registrar or verifier works in a province or district: give its code.",
            "area",
        ),
        ({"username": "r-2", "role": "registrar", "area": "ZZ"}, 422, "There is no area with this code.", "area"),
        ({"username": "x-1", "role": "superuser"}, 422, "Choose a role.", "role"),
        ({"username": "   ", "role": "admin"}, 422, "The username must be 1 to 100 characters.", "username"),
    ],
)
def test_a_refused_account_says_why_on_its_field_and_creates_nothing(
    admin_client, session: Session, fields, status, message, field
) -> None:
    client = admin_client
    before = session.scalars(select(User.username)).all()
    refused = _create(client, **fields)
    assert refused.status_code == status and message in refused.text
    assert re.search(rf'id="{field}" name="{field}"[^>]*aria-invalid="true"', refused.text)
    session.expire_all()
    assert session.scalars(select(User.username)).all() == before


def test_the_audit_log_shows_who_did_what_newest_first_and_filters(admin_client) -> None:
    client = admin_client
    _create(client, username="window-8", role="clerk", provider="PA")
    log = client.get("/admin/audit")
    assert log.status_code == 200
    rows = re.findall(r'<td dir="ltr">(web:chief|test|[^<]*)</td>\s*<td dir="ltr">users</td>', log.text)
    assert rows and rows[0] == "web:chief"  # the newest first: the account just created
    only_clerks = client.get("/admin/audit", params={"entity": "users", "action": "create", "actor": "web:chief"})
    assert only_clerks.text.count("<tr>") == 2  # the header row and the one creation
    assert "No change matches." in client.get("/admin/audit", params={"actor": "nobody"}).text
    assert 'data-nav="audit"' in log.text


def test_only_an_administrator_opens_the_admin_pages(session_factory, session: Session) -> None:
    make.locations(session)
    make.provider(session, code="PA", location_code="D1")
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    login_as(client, "fund_manager", cookie=True)
    assert client.get("/admin/audit").status_code == 403
    refused = client.post("/admin/users", data={**form_token(client), "username": "sneaky", "role": "admin"})
    assert refused.status_code == 403
    assert session.scalars(select(User).where(User.username == "sneaky")).all() == []
