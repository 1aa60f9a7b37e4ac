"""Sessions end when they should: sign-out at once (claim submission's token cache included),
after 30 minutes without use (idle timeout), and 12 hours after sign-in whatever the use."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from equicover.auth.deps import SESSION_COOKIE
from equicover.auth.models import ApiToken
from tests import factories as make
from tests.api_helpers import TEST_PASSWORD, form_token, login_as, make_client
from tests.auth.test_login_throttling import Clock


def test_web_logout_ends_the_token_at_once_for_claim_submission(session_factory) -> None:
    with session_factory() as session:
        make.locations(session)
        make.provider(session, code="PA", location_code="D1")
        session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "clerk", provider="PA", username="window-web")
    signed_in = client.post(
        "/login",
        data={**form_token(client), "username": "window-web", "password": TEST_PASSWORD},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    token = client.cookies[SESSION_COOKIE]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/claims", json={}, headers=bearer).status_code == 422  # accepted, now cached
    assert client.post("/logout", follow_redirects=False, data=form_token(client)).status_code == 303
    assert client.post("/api/v1/claims", json={}, headers=bearer).status_code == 401
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401


def test_rest_logout_ends_the_token_at_once_for_claim_submission(session_factory) -> None:
    with session_factory() as session:
        make.locations(session)
        make.provider(session, code="PA", location_code="D1")
        session.commit()
    client = make_client(session_factory=session_factory)
    clerk = login_as(client, "clerk", provider="PA")
    assert client.post("/api/v1/claims", json={}, headers=clerk).status_code == 422
    assert client.post("/api/v1/auth/logout", headers=clerk).status_code == 204
    assert client.post("/api/v1/claims", json={}, headers=clerk).status_code == 401


def test_a_session_idle_for_thirty_minutes_ends_and_none_outlives_twelve_hours(session_factory) -> None:
    clock = Clock(dt.datetime.now(dt.UTC))
    client = make_client(session_factory=session_factory, clock=clock)
    login_as(client, "admin", username="night-shift")
    token = client.post("/api/v1/auth/token", json={"username": "night-shift", "password": TEST_PASSWORD}).json()[
        "access_token"
    ]
    bearer = {"Authorization": f"Bearer {token}"}
    # Used every 29 minutes: alive, its last use refreshed each time.
    for _ in range(4):
        clock.advance(minutes=29)
        assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200
    with session_factory() as session:
        last_used = session.scalar(select(ApiToken.last_used_at).where(ApiToken.revoked.is_(False)))
        assert last_used is not None
    clock.advance(minutes=30)
    idle = client.get("/api/v1/auth/me", headers=bearer)
    assert idle.status_code == 401 and idle.json()["reason"] == "session idle for too long, sign in again"
    # A token used every 20 minutes still ends 12 hours after it was issued.
    token = client.post("/api/v1/auth/token", json={"username": "night-shift", "password": TEST_PASSWORD}).json()[
        "access_token"
    ]
    bearer = {"Authorization": f"Bearer {token}"}
    for _ in range(35):  # 11 h 40 min
        clock.advance(minutes=20)
        assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200
    clock.advance(minutes=20)
    assert client.get("/api/v1/auth/me", headers=bearer).json()["reason"] == "token expired"
