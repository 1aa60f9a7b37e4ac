"""Demo accounts for `make demo`: one user of each role on the loaded province.

``create_demo_users(session=...)`` creates (or, when they exist, gives a new password to) the
users ``demo-admin``, ``demo-fund``, ``demo-registrar`` (the first province), ``demo-verifier``
(the first district with a contracted provider) and ``demo-clerk`` (that provider), and returns
one line per user to print: username, password, role and scope. Passwords are random each run.
:func:`ensure_demo_user` does the same for one account (the demo's two fund managers, the maker
and the checker of payment batches, come from it too): every demo account is printed with its
password, none has a password anyone could guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.admin.service import create_user
from equicover.audit.service import record_change
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.service import generate_password, reset_password
from equicover.providers.models import Contract, Provider
from equicover.registry.models import Location


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    password: str
    role: str
    scope: str

    def line(self) -> str:
        return f"{self.username:<16} {self.password:<18} {self.role:<13} {self.scope}"


def create_demo_users(*, session: Session, actor: str = "demo") -> list[DemoUser]:
    province = session.scalar(select(Location).where(Location.level == "province").order_by(Location.id))
    provider = session.scalar(
        select(Provider).where(Provider.id.in_(select(Contract.provider_id))).order_by(Provider.id)
    ) or session.scalar(select(Provider).order_by(Provider.id))
    district = None
    if provider is not None:
        location = session.get(Location, provider.location_id)
        district = (
            session.get(Location, location.district_id) if location is not None and location.district_id else None
        )
    if district is None:
        district = session.scalar(select(Location).where(Location.level == "district").order_by(Location.id))

    wanted: list[tuple[str, str, str | None, str | None, str]] = [
        ("demo-admin", Role.ADMIN, None, None, "everything"),
        ("demo-fund", Role.FUND_MANAGER, None, None, "everything (read), payments"),
        ("demo-analyst", Role.ANALYST, None, None, "aggregates and what if, no personal data"),
    ]
    if province is not None:
        wanted.append(("demo-registrar", Role.REGISTRAR, province.code, None, f"area {province.code}"))
    if district is not None:
        wanted.append(("demo-verifier", Role.VERIFIER, district.code, None, f"area {district.code}"))
    if provider is not None:
        wanted.append(("demo-clerk", Role.CLERK, None, provider.code, f"provider {provider.code}"))

    return [
        ensure_demo_user(
            session=session, username=username, role=role, scope=scope, area=area, provider=provider_code, actor=actor
        )
        for username, role, area, provider_code, scope in wanted
    ]


def ensure_demo_user(
    *,
    session: Session,
    username: str,
    role: str,
    scope: str,
    area: str | None = None,
    provider: str | None = None,
    actor: str = "demo",
) -> DemoUser:
    """Create the account with a random password or, when it exists, give it a new random one
    (and enable it); the line to print."""
    password = generate_password()
    existing = session.scalar(select(User).where(User.username == username))
    if existing is None:
        create_user(
            session=session,
            username=username,
            password=password,
            role=role,
            area_code=area,
            provider_code=provider,
            actor=actor,
        )
    else:
        reset_password(session=session, user=existing, password=password, actor=actor)
        if not existing.active:
            existing.active = True
            record_change(
                session=session,
                actor=actor,
                entity="users",
                entity_id=existing.id,
                action="enable",
                after={"active": True},
            )
    session.flush()
    return DemoUser(username, password, role, scope)
