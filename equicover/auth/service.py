"""User and token services: the only door to ``users``, ``api_tokens`` and ``login_throttles``.

Keyword-only, never commit. Passwords are hashed with argon2id (argon2-cffi's defaults) and
verified on a bounded pool (:mod:`equicover.auth.hashing`); failed sign-ins are throttled per
account and per address (:mod:`equicover.auth.throttle`) and, like every sign-in, lock and
sign-out, written to the change log (entity ``users``; never the password). New passwords follow
:mod:`equicover.auth.passwords`. Tokens are random 32-byte URL-safe strings handed out once and
stored only as a SHA-256 hash, so resolving a token is one indexed lookup (no slow hash on every
request); a token ends at its expiry (:data:`DEFAULT_TOKEN_LIFETIME`, absolute) or after
:data:`IDLE_TIMEOUT` without use, whichever comes first.

A failed sign-in records its failure and its audit row in the caller's session and then raises
:class:`Unauthorized`: the caller must answer without raising, so that the unit of work commits
them (``auth.api.sign_in``, the web sign-in).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.auth.hashing import HashSlots
from equicover.auth.models import ApiToken, User
from equicover.auth.passwords import check_password
from equicover.auth.roles import ROLES, Role
from equicover.auth.throttle import DEFAULT_POLICY, LoginPolicy, check_allowed, clear_account, record_failure
from equicover.errors import Conflict, NotFound, Unauthorized, ValidationFailed

DEFAULT_TOKEN_LIFETIME = dt.timedelta(hours=12)
IDLE_TIMEOUT = dt.timedelta(minutes=30)
# A token's last use is written at most this often (one UPDATE a minute per active token, not one per request).
LAST_USED_EVERY = dt.timedelta(minutes=1)
LANGUAGES_MAX = 8
LOGIN_ACTOR = "login"

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a wrong username costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("equicover-dummy-password")
# Every password verification of the process runs here (REST and web sign-in alike).
password_slots = HashSlots()


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
    password_hash: str | None = None,
) -> User:
    """Create an account. Registrars and verifiers need an area (``location_id``, a province or
    district); clerks need a provider. Codes are resolved by :func:`equicover.admin.service.create_user`.
    ``password_hash`` (then ``password`` is not used): the hash of a password nobody is told, for many
    accounts made at once (one hash instead of one each), each handed over by a password reset."""
    record = f"user {username}"
    username = username.strip()
    if not username or len(username) > 100:
        raise ValidationFailed(record, "username", "must be 1 to 100 characters")
    if role not in ROLES:
        raise ValidationFailed(record, "role", f"must be one of {', '.join(ROLES)}")
    if password_hash is None:
        check_password(record=record, username=username, password=password)
    if not language or len(language) > LANGUAGES_MAX:
        raise ValidationFailed(record, "language", "must be a short language tag such as en")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(record, "username", "a user with this username exists")
    if role == Role.CLERK and provider_id is None:
        raise ValidationFailed(record, "provider", "a clerk works for one provider")
    if role in (Role.REGISTRAR, Role.VERIFIER) and location_id is None:
        raise ValidationFailed(record, "area", "a registrar or verifier works in a province or district")
    if role == Role.ANALYST and (location_id is not None or provider_id is not None):
        field = "area" if location_id is not None else "provider"
        raise ValidationFailed(record, field, "an analyst reads national aggregates: no area, no provider")
    user = User(
        username=username,
        password_hash=password_hash or hash_password(password),
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


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _rehash_if_needed(stored_hash: str, password: str) -> str | None:
    return hash_password(password) if _hasher.check_needs_rehash(stored_hash) else None


@dataclass(frozen=True, slots=True)
class LoginCheck:
    """What a sign-in read before its password is verified (no session is held while it is)."""

    username: str
    address: str
    via: str
    now: dt.datetime
    policy: LoginPolicy
    user_id: int | None
    active: bool
    stored_hash: str


def _check_login(
    session: Session, username: str, address: str, via: str, now: dt.datetime, policy: LoginPolicy
) -> LoginCheck:
    check_allowed(session=session, username=username, address=address, now=now)
    found = session.execute(select(User.id, User.active, User.password_hash).where(User.username == username)).first()
    if found is None:
        return LoginCheck(username, address, via, now, policy, None, False, _DUMMY_HASH)
    return LoginCheck(username, address, via, now, policy, found[0], bool(found[1]), found[2])


def authenticate(
    *,
    session: Session,
    username: str,
    password: str,
    address: str = "unknown",
    via: str = "api",
    now: dt.datetime | None = None,
    policy: LoginPolicy = DEFAULT_POLICY,
    reader: Callable[[], Session] | None = None,
) -> User:
    """The active user with these credentials.

    Refusals: :class:`~equicover.errors.TooManyAttempts` (429) while the account name or the
    client ``address`` must wait (nothing is verified, nothing recorded);
    :class:`~equicover.errors.Overloaded` (503) when the hashing pool is full (before any
    query); otherwise :class:`Unauthorized`, the same for any failure, after the failure was
    counted and audited in ``session`` (the caller commits it). A success clears the account's
    failures and is audited.

    ``reader`` (a session factory) reads the throttle and the account in a transaction of its
    own, ended before the password is verified: the request's ``session`` then only writes, so a
    second or two of hashing holds no transaction open (on SQLite, a read transaction that
    later writes fails when another writer committed meanwhile).
    """
    now = now or _now()
    with password_slots.admission():
        if reader is None:
            check = _check_login(session, username, address, via, now, policy)
        else:
            with reader() as read_session:
                check = _check_login(read_session, username, address, via, now, policy)
        matches = password_slots.run(_verify, check.stored_hash, password)
        if not (matches and check.user_id is not None and check.active):
            _record_failure(session, check)
            raise Unauthorized("credentials", "password", "wrong username or password")
        rehashed = password_slots.run(_rehash_if_needed, check.stored_hash, password)
    clear_account(session=session, username=username)  # a write first (see ``reader``)
    user = session.get(User, check.user_id)
    if user is None or not user.active:  # disabled or removed meanwhile
        raise Unauthorized("credentials", "password", "wrong username or password")
    if rehashed is not None and user.password_hash == check.stored_hash:
        user.password_hash = rehashed
    record_change(
        session=session,
        actor=user.username,
        entity="users",
        entity_id=user.id,
        action="login",
        after={"address": address, "via": via},
    )
    return user


def _record_failure(session: Session, check: LoginCheck) -> None:
    failures = record_failure(
        session=session, username=check.username, address=check.address, now=check.now, policy=check.policy
    )
    where = {"address": check.address, "via": check.via}
    known = {"account": "unknown"} if check.user_id is None else {"account": "disabled"} if not check.active else {}
    record_change(
        session=session,
        actor=LOGIN_ACTOR,
        entity="users",
        entity_id=check.user_id,
        action="login_failed",
        after={**where, **known, "failures": {failure.scope: failure.failures for failure in failures}},
    )
    for failure in failures:
        if failure.locked:
            until = check.now + getattr(check.policy, failure.scope).lock_for
            record_change(
                session=session,
                actor=LOGIN_ACTOR,
                entity="users",
                entity_id=check.user_id,
                action="locked",
                after={**where, "scope": failure.scope, "until": until},
            )


def issue_token(
    *,
    session: Session,
    user: User,
    lifetime: dt.timedelta = DEFAULT_TOKEN_LIFETIME,
    now: dt.datetime | None = None,
) -> str:
    """A new bearer token for ``user``; only its hash is stored, the token itself is returned once."""
    token = secrets.token_urlsafe(32)
    now = now or _now()
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=now + lifetime,
            revoked=False,
            last_used_at=now,
        )
    )
    session.flush()
    return token


def resolve_token(*, session: Session, token: str, now: dt.datetime | None = None) -> User:
    """The active user owning this unexpired, unrevoked, not idle token, or :class:`Unauthorized`.

    One query; plus, at most once a minute per token, the UPDATE of its last use (the caller's
    unit of work commits it)."""
    return _resolve(session, token, now or _now())[0]


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment  # SQLite gives naive datetimes back


def _resolve(session: Session, token: str, now: dt.datetime) -> tuple[User, dt.datetime]:
    found = session.execute(
        select(ApiToken.id, ApiToken.revoked, ApiToken.expires_at, ApiToken.created_at, ApiToken.last_used_at, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _token_hash(token))
    ).first()
    if found is None or found[1]:
        raise Unauthorized("token", "authorization", "unknown or revoked token")
    token_id, expires, last_used, user = found[0], _aware(found[2]), _aware(found[4] or found[3]), found[5]
    if expires <= now:
        raise Unauthorized("token", "authorization", "token expired")
    if now - last_used >= IDLE_TIMEOUT:
        raise Unauthorized("token", "authorization", "session idle for too long, sign in again")
    if not user.active:
        raise Unauthorized("token", "authorization", "account disabled")
    if now - last_used >= LAST_USED_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
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

    def __init__(self, ttl: float = 10.0, max_entries: int = 10_000) -> None:  # ttl: see docs/service.md
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

    def forget_user(self, user_id: int) -> None:
        """Drop every cached token of a user (disabled, or given a new password)."""
        with self._lock:
            for key in [key for key, (user, _until) in self._entries.items() if user.id == user_id]:
                del self._entries[key]


def resolve_token_cached(*, session: Session, token: str, cache: TokenCache, now: dt.datetime | None = None) -> User:
    """:func:`resolve_token` through ``cache`` (see :class:`TokenCache` for what that trades)."""
    user = cache.get(token)
    if user is not None:
        return user
    user, expires = _resolve(session, token, now or _now())
    cache.put(token, user, expires)
    return user


def revoke_token(*, session: Session, token: str, via: str = "api") -> None:
    """Sign out: the token is revoked (and the sign-out audited)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is not None and not row.revoked:
        row.revoked = True
        username = session.scalar(select(User.username).where(User.id == row.user_id))
        record_change(
            session=session,
            actor=username or LOGIN_ACTOR,
            entity="users",
            entity_id=row.user_id,
            action="logout",
            after={"via": via},
        )


def revoke_user_tokens(*, session: Session, user_id: int) -> int:
    """Revoke every live token of a user; the number revoked."""
    result = session.execute(
        update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False)).values(revoked=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def get_user_by_id(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}", "id", "unknown user")
    return user


def users_query(*, role: str | None = None, active: bool | None = None) -> Select[User]:
    """The accounts, by username (for a paged list)."""
    query = select(User).order_by(User.username)
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    return query


def set_active(*, session: Session, user: User, active: bool, actor: str, acting_user_id: int | None = None) -> User:
    """Disable (every token of the account is revoked) or enable (its sign-in lock is lifted) an account.

    An administrator cannot disable their own account, nor the last active administrator."""
    record = f"user {user.id}"
    if not active and user.active:
        if acting_user_id == user.id:
            raise Conflict(record, "active", "you cannot disable your own account")
        if user.role == Role.ADMIN:
            admins = session.scalar(select(func.count()).where(User.role == Role.ADMIN, User.active.is_(True)))
            if (admins or 0) <= 1:
                raise Conflict(record, "active", "the last active administrator cannot be disabled")
    if user.active != active:
        user.active = active
        record_change(
            session=session,
            actor=actor,
            entity="users",
            entity_id=user.id,
            action="enable" if active else "disable",
            before={"active": not active},
            after={"active": active},
        )
    if active:
        clear_account(session=session, username=user.username)
    else:
        revoke_user_tokens(session=session, user_id=user.id)
    session.flush()
    return user


def reset_password(
    *, session: Session, user: User, password: str, actor: str, acting_user_id: int | None = None
) -> User:
    """Give an account a new password (by the rule of :mod:`equicover.auth.passwords`): every token
    of the account is revoked and its sign-in lock lifted. The audit row says only that it changed.
    An administrator does not reset their own account this way (it would end their own session)."""
    if acting_user_id == user.id:
        raise Conflict(f"user {user.id}", "password", "ask another administrator, or use the command line")
    check_password(record=f"user {user.id}", username=user.username, password=password)
    user.password_hash = hash_password(password)
    revoke_user_tokens(session=session, user_id=user.id)
    clear_account(session=session, username=user.username)
    record_change(
        session=session,
        actor=actor,
        entity="users",
        entity_id=user.id,
        action="reset_password",
        after={"password": "reset"},
    )
    session.flush()
    return user
