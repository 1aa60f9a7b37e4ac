"""Migration 0018 lets ``users.role`` be ``analyst``. On SQLite the ``users`` table is rebuilt while
tokens refer to it: a populated database keeps its users and their sessions, and the clerk's rule
(a clerk has a provider) still holds."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from equicover.db.engine import make_engine
from equicover.db.migrate import current_revision, downgrade, upgrade

AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
LATER = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def _user(connection, user_id: int, role: str, provider_id: int | None = None) -> None:
    connection.execute(
        text(
            "INSERT INTO users (id, username, password_hash, role, provider_id, language, active, created_at) "
            "VALUES (:id, :name, 'hash', :role, :provider, 'en', true, :at)"
        ),
        {"id": user_id, "name": f"user-{user_id}", "role": role, "provider": provider_id, "at": AT},
    )


def _token(connection, token_id: int, user_id: int) -> None:
    connection.execute(
        text(
            "INSERT INTO api_tokens (id, user_id, token_hash, created_at, expires_at, revoked) "
            "VALUES (:id, :user, :hash, :at, :until, false)"
        ),
        {"id": token_id, "user": user_id, "hash": f"{token_id:064d}", "at": AT, "until": LATER},
    )


def _populate(engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO locations (id, code, name, level) VALUES (1, 'KH', 'KH', 'country')"))
        connection.execute(
            text(
                "INSERT INTO providers (id, code, name, level, location_id, designated, ownership) "
                "VALUES (1, 'RH', 'RH', 'referral_hospital', 1, true, 'public')"
            )
        )
        _user(connection, 1, "admin")
        _user(connection, 2, "clerk", provider_id=1)
        _user(connection, 3, "fund_manager")
        _token(connection, 1, 1)
        _token(connection, 2, 2)
        _token(connection, 3, 2)
        with pytest.raises(IntegrityError), connection.begin_nested():
            _user(connection, 9, "analyst")  # not yet a role


def test_upgrade_keeps_users_and_tokens_and_admits_analysts(empty_db_url: str) -> None:
    upgrade(empty_db_url, revision="0017")
    engine = make_engine(empty_db_url)
    try:
        _populate(engine)
        upgrade(empty_db_url, revision="0018")
        assert current_revision(empty_db_url) == "0018"
        with engine.begin() as connection:
            users = connection.execute(text("SELECT id, username, role, provider_id FROM users ORDER BY id")).all()
            tokens = connection.execute(text("SELECT id, user_id FROM api_tokens ORDER BY id")).all()
            _user(connection, 4, "analyst")
        assert [tuple(row) for row in users] == [
            (1, "user-1", "admin", None),
            (2, "user-2", "clerk", 1),
            (3, "user-3", "fund_manager", None),
        ]
        assert [tuple(row) for row in tokens] == [(1, 1), (2, 2), (3, 2)]
        with engine.connect() as connection:
            assert connection.execute(text("SELECT role FROM users WHERE id = 4")).scalar() == "analyst"
        with pytest.raises(IntegrityError), engine.begin() as connection:
            _user(connection, 5, "clerk")  # a clerk without a provider: still refused
        with pytest.raises(IntegrityError), engine.begin() as connection:
            _user(connection, 6, "auditor")  # not a role
        with pytest.raises(IntegrityError), engine.begin() as connection:
            _token(connection, 9, 99)  # references are enforced again after the rebuild
    finally:
        engine.dispose()


def test_downgrade_removes_analysts_and_keeps_the_others(empty_db_url: str) -> None:
    upgrade(empty_db_url, revision="0017")
    engine = make_engine(empty_db_url)
    try:
        _populate(engine)
        upgrade(empty_db_url, revision="0018")
        with engine.begin() as connection:
            _user(connection, 4, "analyst")
            _token(connection, 4, 4)
        downgrade(empty_db_url, revision="0017")
        with engine.connect() as connection:
            assert list(connection.scalars(text("SELECT id FROM users ORDER BY id"))) == [1, 2, 3]
            assert list(connection.scalars(text("SELECT id FROM api_tokens ORDER BY id"))) == [1, 2, 3]
    finally:
        engine.dispose()
