"""Throttling of failed sign-ins, per account name and per client address (OWASP ASVS 2.2.1).

Each failure is counted in ``login_throttles`` (the database, so that every worker process of
the service sees the same count). From :attr:`ThrottleRule.delay_after` failures on, the next
attempt must wait a delay that doubles with each failure (1 s, 2 s, 4 s, ...); at
:attr:`ThrottleRule.lock_after` failures the name or address is locked for
:attr:`ThrottleRule.lock_for`. An attempt made too early is refused before the password is
looked at (:class:`~equicover.errors.TooManyAttempts`, 429 with ``Retry-After``), and is not
counted. Failures older than :attr:`ThrottleRule.forget_after` are forgotten; a successful
sign-in clears its account's count (not its address's).

Names and addresses are kept only as SHA-256 hashes: a password typed into the username field
is never stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from equicover.auth.models import LoginThrottle
from equicover.errors import TooManyAttempts


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    delay_after: int
    lock_after: int
    lock_for: dt.timedelta = dt.timedelta(minutes=15)
    max_delay: dt.timedelta = dt.timedelta(minutes=5)
    forget_after: dt.timedelta = dt.timedelta(minutes=15)

    def block_after(self, failures: int) -> dt.timedelta | None:
        """How long the name or address must wait after its ``failures``-th failure (None: not at all)."""
        if failures >= self.lock_after:
            return self.lock_for
        if failures >= self.delay_after:
            return min(self.max_delay, dt.timedelta(seconds=2 ** (failures - self.delay_after)))
        return None


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """Per account: delays from the 5th failure, locked 15 minutes at the 10th. Per address
    (many people may share one, behind a facility's router): delays from the 20th, locked at the 100th."""

    account: ThrottleRule = ThrottleRule(delay_after=5, lock_after=10)
    address: ThrottleRule = ThrottleRule(delay_after=20, lock_after=100)


DEFAULT_POLICY = LoginPolicy()


@dataclass(frozen=True, slots=True)
class Failure:
    """What one failed attempt did to a name's or address's count."""

    scope: str
    failures: int
    locked: bool


def _key(scope: str, value: str) -> str:
    normalised = value.strip().lower() if scope == "account" else value
    return hashlib.sha256(f"{scope}:{normalised}".encode()).hexdigest()


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is not None and moment.tzinfo is None:  # SQLite gives naive datetimes back
        return moment.replace(tzinfo=dt.UTC)
    return moment


def check_allowed(*, session: Session, username: str, address: str, now: dt.datetime) -> None:
    """Refuse (429) an attempt made while its account name or its address must still wait."""
    keys = {_key("account", username): "username", _key("address", address): "address"}
    rows = session.execute(
        select(LoginThrottle.key, LoginThrottle.blocked_until).where(LoginThrottle.key.in_(list(keys)))
    ).all()
    waits = [
        (math.ceil((until - now).total_seconds()), keys[key])
        for key, blocked in rows
        if (until := _aware(blocked)) is not None and until > now
    ]
    if waits:
        seconds, field = max(waits)
        raise TooManyAttempts("credentials", field, "too many failed sign-ins, retry later", seconds)


def _locked_row(session: Session, scope: str, key: str, now: dt.datetime) -> LoginThrottle:
    """The row of ``(scope, key)``, created if missing, locked for update (PostgreSQL) until the commit."""
    values = {"scope": scope, "key": key, "failures": 0, "last_failure_at": now, "blocked_until": None}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(postgresql.insert(LoginThrottle).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(LoginThrottle).values(values).on_conflict_do_nothing())
    return session.execute(
        select(LoginThrottle)
        .where(LoginThrottle.scope == scope, LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def record_failure(
    *, session: Session, username: str, address: str, now: dt.datetime, policy: LoginPolicy = DEFAULT_POLICY
) -> list[Failure]:
    """Count one failed attempt against its account name and its address; set their delays or locks."""
    outcome = []
    for scope, value, rule in (("account", username, policy.account), ("address", address, policy.address)):
        row = _locked_row(session, scope, _key(scope, value), now)
        last = _aware(row.last_failure_at)
        if row.failures and last is not None and now - last > rule.forget_after:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        wait = rule.block_after(row.failures)
        locked = row.failures >= rule.lock_after
        row.blocked_until = now + wait if wait is not None else None
        outcome.append(Failure(scope, row.failures, locked))
        if locked:
            row.failures = 0  # after the lock, the count starts again
    session.flush()
    return outcome


def clear_account(*, session: Session, username: str) -> None:
    """Forget an account name's failures (a successful sign-in; an administrator's enable or reset)."""
    session.execute(
        delete(LoginThrottle).where(LoginThrottle.scope == "account", LoginThrottle.key == _key("account", username))
    )
