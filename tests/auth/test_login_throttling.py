"""Failed sign-ins are throttled per account and per address: growing delays, a 15-minute lock,
429 with Retry-After (REST) or a page in the user's language (web), state in the database, and
every failure, lock, sign-in and sign-out written to the change log (never the password).

Time is the application's clock (``create_app(clock=...)``) or the service's ``now``: nothing sleeps.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from equicover.admin.service import create_user
from equicover.audit.models import ChangeLog
from equicover.auth import service
from equicover.auth.throttle import LoginPolicy, ThrottleRule
from equicover.errors import TooManyAttempts, Unauthorized
from tests.api_helpers import form_token, make_client

PASSWORD = "a long and private phrase"
START = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


class Clock:
    """The application's clock, moved by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def _fail(session, now: dt.datetime, username: str = "nurse", address: str = "10.0.0.1") -> None:
    with pytest.raises(Unauthorized):
        service.authenticate(session=session, username=username, password="not it", address=address, now=now)


def test_delays_double_from_the_fifth_failure_and_the_tenth_locks_for_fifteen_minutes(session) -> None:
    create_user(session=session, username="nurse", password=PASSWORD, role="admin")
    now = START
    for _ in range(4):
        _fail(session, now)
    # Four failures: no wait yet.
    assert service.authenticate(session=session, username="nurse", password=PASSWORD, address="x", now=now)
    for _ in range(5):  # the success cleared the count: five more, the fifth asks for a delay
        _fail(session, now)
    waits = []
    for _ in range(4):
        with pytest.raises(TooManyAttempts) as refused:
            service.authenticate(session=session, username="nurse", password=PASSWORD, address="x", now=now)
        waits.append(refused.value.retry_after)
        now += dt.timedelta(seconds=refused.value.retry_after)
        _fail(session, now)  # failures 6, 7, 8, 9
    assert waits == [1, 2, 4, 8]
    with pytest.raises(TooManyAttempts) as refused:
        service.authenticate(session=session, username="nurse", password=PASSWORD, now=now)
    assert refused.value.retry_after == 16
    now += dt.timedelta(seconds=16)
    _fail(session, now)  # the tenth: locked
    with pytest.raises(TooManyAttempts) as locked:
        service.authenticate(session=session, username="nurse", password=PASSWORD, now=now)
    assert locked.value.retry_after == 15 * 60 and locked.value.status == 429 and locked.value.field == "username"
    # Still locked a second before the end, even with the right password; open after it.
    with pytest.raises(TooManyAttempts):
        service.authenticate(
            session=session, username="nurse", password=PASSWORD, now=now + dt.timedelta(minutes=15, seconds=-1)
        )
    user = service.authenticate(
        session=session, username="nurse", password=PASSWORD, now=now + dt.timedelta(minutes=15)
    )
    assert user.username == "nurse"


def test_every_failure_lock_sign_in_and_sign_out_is_audited_without_the_password(session) -> None:
    user = create_user(session=session, username="nurse", password=PASSWORD, role="admin")
    now = START
    _fail(session, now, username="nobody-here")
    for _ in range(10):
        _fail(session, now)
        now += dt.timedelta(minutes=1)
    now += dt.timedelta(minutes=15)
    service.authenticate(session=session, username="nurse", password=PASSWORD, address="10.0.0.1", now=now)
    token = service.issue_token(session=session, user=user, now=now)
    service.revoke_token(session=session, token=token, via="web")
    session.flush()
    rows = list(session.scalars(select(ChangeLog).where(ChangeLog.entity == "users").order_by(ChangeLog.id)))
    actions = [row.action for row in rows if row.action != "create"]
    assert actions == ["login_failed"] * 11 + ["locked", "login", "logout"]
    unknown = next(row for row in rows if row.action == "login_failed")
    assert unknown.entity_id is None and unknown.after is not None and unknown.after["account"] == "unknown"
    lock = next(row for row in rows if row.action == "locked")
    assert lock.entity_id == user.id and lock.after is not None and lock.after["scope"] == "account"
    assert all(row.entity_id == user.id for row in rows if row.action in ("login", "logout"))
    text = " ".join(str(row.after) for row in rows)
    assert PASSWORD not in text and "not it" not in text and "nobody-here" not in text


def test_an_address_is_throttled_across_account_names(session) -> None:
    policy = LoginPolicy(address=ThrottleRule(delay_after=3, lock_after=6))
    for index in range(3):
        with pytest.raises(Unauthorized):
            service.authenticate(
                session=session, username=f"guess-{index}", password="x", address="10.9.9.9", now=START, policy=policy
            )
    with pytest.raises(TooManyAttempts) as refused:
        service.authenticate(session=session, username="guess-9", password="x", address="10.9.9.9", now=START)
    assert refused.value.field == "address" and refused.value.retry_after == 1
    # Another address is not held back.
    with pytest.raises(Unauthorized):
        service.authenticate(session=session, username="guess-9", password="x", address="10.9.9.10", now=START)


def test_thirty_wrong_passwords_then_the_right_one_is_refused_with_429_and_retry_after(session_factory) -> None:
    clock = Clock()
    client = make_client(session_factory=session_factory, clock=clock)
    with session_factory() as session:
        create_user(session=session, username="boss", password=PASSWORD, role="admin")
        session.commit()
    answers = []
    for _ in range(30):
        answer = client.post("/api/v1/auth/token", json={"username": "boss", "password": "wrong password"})
        answers.append(answer.status_code)
        clock.advance(seconds=1)
    # One attempt a second: failures 1-6 pass, then each waits 1, 2, 4, 8, 16 s (attempts in between: 429).
    wrong_ones = [second for second, status in enumerate(answers) if status == 401]
    assert wrong_ones == [0, 1, 2, 3, 4, 5, 7, 11, 19]
    assert all(status == 429 for second, status in enumerate(answers) if second not in wrong_ones)
    right = client.post("/api/v1/auth/token", json={"username": "boss", "password": PASSWORD})
    assert right.status_code == 429
    assert right.json()["code"] == "too_many_requests" and right.json()["field"] == "username"
    assert right.headers["Retry-After"] == "5"  # the 9th failure, at second 19, asked for 16 s
    assert PASSWORD not in right.text
    clock.advance(minutes=15)
    assert client.post("/api/v1/auth/token", json={"username": "boss", "password": PASSWORD}).status_code == 200
    with session_factory() as session:  # the failures were committed although each request answered 401
        failed = session.scalars(select(ChangeLog).where(ChangeLog.action == "login_failed")).all()
        assert len(failed) == 9


def test_the_web_sign_in_answers_a_page_in_the_users_language_with_retry_after(session_factory) -> None:
    clock = Clock()
    client = make_client(session_factory=session_factory, clock=clock)
    with session_factory() as session:
        create_user(session=session, username="reg-web", password=PASSWORD, role="admin")
        session.commit()
    french = {"Accept-Language": "fr"}
    for _ in range(5):
        wrong = client.post(
            "/login", data={**form_token(client), "username": "reg-web", "password": "nope"}, headers=french
        )
        assert wrong.status_code == 401
    refused = client.post(
        "/login", data={**form_token(client), "username": "reg-web", "password": PASSWORD}, headers=french
    )
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "Trop de tentatives de connexion" in refused.text and 'lang="fr"' in refused.text
    clock.advance(seconds=1)
    signed_in = client.post(
        "/login", data={**form_token(client), "username": "reg-web", "password": PASSWORD}, follow_redirects=False
    )
    assert signed_in.status_code == 303
