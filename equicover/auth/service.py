"""User and token services: the only door to ``users`` and ``api_tokens``.

Keyword-only, never commit. Passwords are hashed with argon2id (argon2-cffi's defaults); tokens
are random 32-byte URL-safe strings handed out once and stored only as a SHA-256 hash, so
resolving a token is one indexed lookup (no slow hash on every request).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.auth.models import ApiToken, User
from equicover.auth.roles import ROLES, Role
from equicover.errors import Conflict, NotFound, Unauthorized, ValidationFailed

DEFAULT_TOKEN_LIFETIME = dt.timedelta(hours=12)
LANGUAGES_MAX = 8

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a wrong username costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("equicover-dummy-password")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_account(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    location_id: int | None = None,
    provider_id: int | None = None,
    language: str = "en",
    actor: str = SYSTEM_ACTOR,
) -> User:
    """Create an account. Registrars and verifiers need an area (``location_id``, a province or
    district); clerks need a provider. Codes are resolved by :func:`equicover.admin.service.create_user`."""
    record = f"user {username}"
    username = username.strip()
    if not username or len(username) > 100:
        raise ValidationFailed(record, "username", "must be 1 to 100 characters")
    if role not in ROLES:
        raise ValidationFailed(record, "role", f"must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValidationFailed(record, "password", "must be at least 8 characters")
    if not language or len(language) > LANGUAGES_MAX:
        raise ValidationFailed(record, "language", "must be a short language tag such as en")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(record, "username", "a user with this username exists")
    if role == Role.CLERK and provider_id is None:
        raise ValidationFailed(record, "provider", "a clerk works for one provider")
    if role in (Role.REGISTRAR, Role.VERIFIER) and location_id is None:
        raise ValidationFailed(record, "area", "a registrar or verifier works in a province or district")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        location_id=location_id,
        provider_id=provider_id,
        language=language,
        active=True,
        created_at=_now(),
    )
    session.add(user)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="users",
        entity_id=user.id,
        action="create",
        after={"username": username, "role": role, "location_id": location_id, "provider_id": provider_id},
    )
    return user


def get_user(*, session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username}", "username", "unknown user")
    return user


def authenticate(*, session: Session, username: str, password: str) -> User:
    """The active user with these credentials, or :class:`Unauthorized` (same answer for any failure)."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("credentials", "password", "wrong username or password") from None
    if user is None or not user.active:
        raise Unauthorized("credentials", "password", "wrong username or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def issue_token(*, session: Session, user: User, lifetime: dt.timedelta = DEFAULT_TOKEN_LIFETIME) -> str:
    """A new bearer token for ``user``; only its hash is stored, the token itself is returned once."""
    token = secrets.token_urlsafe(32)
    now = _now()
    session.add(
        ApiToken(
            user_id=user.id, token_hash=_token_hash(token), created_at=now, expires_at=now + lifetime, revoked=False
        )
    )
    session.flush()
    return token


def resolve_token(*, session: Session, token: str) -> User:
    """The active user owning this unexpired, unrevoked token, or :class:`Unauthorized` (one query)."""
    return _resolve(session, token)[0]


def _resolve(session: Session, token: str) -> tuple[User, dt.datetime]:
    found = session.execute(
        select(ApiToken.revoked, ApiToken.expires_at, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _token_hash(token))
    ).first()
    if found is None or found[0]:
        raise Unauthorized("token", "authorization", "unknown or revoked token")
    expires, user = found[1], found[2]
    if expires.tzinfo is None:  # SQLite gives naive datetimes back
        expires = expires.replace(tzinfo=dt.UTC)
    if expires <= _now():
        raise Unauthorized("token", "authorization", "token expired")
    if not user.active:
        raise Unauthorized("token", "authorization", "account disabled")
    return user, expires


class TokenCache:
    """Tokens resolved in the last few seconds, for the hottest endpoint (claim submission).

    Resolving a token is a database round trip and, in the service, a thread hop: more than the
    rest of a claim submission's request handling. A resolved token is kept for ``ttl`` seconds
    (never past its expiry). The price, documented in ``docs/service.md``: a token revoked or an
    account disabled through *another* worker process is still accepted by this one for at most
    ``ttl`` seconds; revocation through this process (:meth:`forget`) takes effect at once.
    The cached :class:`User` is detached and shared: callers only read it.
    """

    def __init__(self, ttl: float = 10.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[User, float]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> User | None:
        entry = self._entries.get(_token_hash(token))
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def put(self, token: str, user: User, expires_at: dt.datetime) -> None:
        keep_until = time.monotonic() + min(self.ttl, max(0.0, (expires_at - _now()).total_seconds()))
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # rare (ten thousand live tokens per process): start over rather than track ages
            self._entries[_token_hash(token)] = (user, keep_until)

    def forget(self, token: str) -> None:
        with self._lock:
            self._entries.pop(_token_hash(token), None)


def resolve_token_cached(*, session: Session, token: str, cache: TokenCache) -> User:
    """:func:`resolve_token` through ``cache`` (see :class:`TokenCache` for what that trades)."""
    user = cache.get(token)
    if user is not None:
        return user
    user, expires = _resolve(session, token)
    cache.put(token, user, expires)
    return user


def revoke_token(*, session: Session, token: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is not None:
        row.revoked = True
