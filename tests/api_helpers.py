"""Helpers for tests of the HTTP service, importable by every domain's tests.

    from tests.api_helpers import make_client, login_as

    def test_something(session_factory):
        client = make_client(session_factory=session_factory)   # rolled back after the test
        headers = login_as(client, "clerk", provider="P-A")      # {"Authorization": "Bearer ..."}
        response = client.get("/api/v1/claims", headers=headers)

``make_client(db_url=...)`` builds the app on a real database instead (the data stays: use it only
with a database of your own, e.g. for concurrency). ``login_as`` creates a user with a unique
username (role, optional area code / provider code) and returns the bearer header; pass
``cookie=True`` to get the token set as the web session cookie on the client instead. A web form
posted with the client carries the anti-forgery field of its cookie: ``data={..., **form_token(client)}``
(as the page's hidden field would; a client with no cookie yet is handed a pre-session one, as a
browser is by the first page it opens).
The records a test needs come from ``tests.factories`` (e.g. ``vn_world(session)``).
"""

from __future__ import annotations

import itertools

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from equicover.admin.service import create_user
from equicover.api.app import create_app
from equicover.auth.deps import SESSION_COOKIE
from equicover.auth.service import issue_token
from equicover.http import csrf

TEST_PASSWORD = "correct horse battery"
_usernames = itertools.count(1)


def make_client(
    *, session_factory: sessionmaker[Session] | None = None, db_url: str | None = None, **app_options: object
) -> TestClient:
    if session_factory is None and db_url is None:
        raise ValueError("give session_factory (rolled back) or db_url")
    app = create_app(database_url=db_url, session_factory=session_factory, **app_options)
    return TestClient(app, raise_server_exceptions=False)


def login_as(
    client: TestClient,
    role: str,
    *,
    area: str | None = None,
    provider: str | None = None,
    username: str | None = None,
    language: str = "en",
    cookie: bool = False,
) -> dict[str, str]:
    """Create a user of ``role`` and return ``{"Authorization": "Bearer <token>"}`` for it."""
    factory: sessionmaker[Session] = client.app.state.session_factory
    name = username or f"{role}-{next(_usernames)}"
    with factory() as session:
        user = create_user(
            session=session,
            username=name,
            password=TEST_PASSWORD,
            role=role,
            area_code=area,
            provider_code=provider,
            language=language,
            actor="test",
        )
        token = issue_token(session=session, user=user)
        session.commit()
    if cookie:
        client.cookies.set(SESSION_COOKIE, token)
        return {}
    return {"Authorization": f"Bearer {token}"}


def form_token(client: TestClient) -> dict[str, str]:
    """The hidden anti-forgery field a page rendered for this client's cookie holds."""
    secret = client.cookies.get(SESSION_COOKIE) or client.cookies.get(csrf.FORM_COOKIE)
    if secret is None:
        secret = csrf.new_form_cookie()
        client.cookies.set(csrf.FORM_COOKIE, secret)
    return {csrf.FORM_FIELD: csrf.token_for(secret)}
