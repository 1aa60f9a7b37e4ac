"""Users and API tokens.

A user has one role. ``location_id`` is the area a registrar or verifier works in (a province or a
district; NULL means the whole country, for fund managers and admins). ``provider_id`` is the
facility of a clerk. Only an argon2 hash of each password is kept, and only a SHA-256 hash of
each API token: a stolen database does not yield usable credentials.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from equicover.auth.roles import ROLES
from equicover.db.base import Base, in_list


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(in_list("role", ROLES), name="role"),
        CheckConstraint("role <> 'clerk' OR provider_id IS NOT NULL", name="clerk_has_provider"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    language: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the token was last seen (refreshed at most once a minute): the idle timeout counts from it.
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed sign-ins of one account name or one client address (``scope``), kept in the database
    so that every worker process sees the same count. ``key`` is a SHA-256 of the name or address:
    a mistyped password in the username field is not stored."""

    __tablename__ = "login_throttles"
    __table_args__ = (
        CheckConstraint(in_list("scope", ("account", "address")), name="scope"),
        UniqueConstraint("scope", "key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
