"""Helpers for tests of the HTTP service, importable by every domain's tests.

    from tests.api_helpers import make_client, login_as

    def test_something(session_factory):
        client = make_client(session_factory=session_factory)   # rolled back after the test
        headers = login_as(client, "clerk", provider="P-A")      # {"Authorization": "Bearer ..."}
        response = client.get("/api/v1/claims", headers=headers)

``make_client(db_url=...)`` builds the app on a real database instead (the data stays: use it only
with a database of your own, e.g. for concurrency). ``login_as`` creates a user with a unique
username (role, optional area code / provider code) and returns the bearer header; pass
``cookie=True`` to get the token set as the web session cookie on the client instead.
``seed_world(session)`` stores a small world every API test can use (see its docstring).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

import equicover.auth.service as _auth_service
from equicover.admin.service import create_user
from equicover.api.app import create_app
from equicover.auth.deps import SESSION_COOKIE
from equicover.auth.service import issue_token

# Tests hash many passwords: use the cheapest argon2id parameters (production keeps the library's defaults).
_auth_service._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

POLICIES = Path(__file__).resolve().parent.parent / "policies"
TEST_PASSWORD = "correct horse battery"
_usernames = itertools.count(1)


def make_client(
    *, session_factory: sessionmaker[Session] | None = None, db_url: str | None = None, **app_options: object
) -> TestClient:
    if session_factory is None and db_url is None:
        raise ValueError("give session_factory (rolled back) or db_url")
    app = create_app(database_url=db_url, session_factory=session_factory, **app_options)  # type: ignore[arg-type]
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
    factory: sessionmaker[Session] = client.app.state.session_factory  # type: ignore[attr-defined]
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


@dataclass
class World:
    scheme_id: int
    scheme_code: str
    period_id: int
    policy_version_id: int
    provider_a: int  # "PA": district hospital in district D1, contracted
    provider_b: int  # "PB": district hospital in district D2, contracted
    provider_c: int  # "PC": commune health station in D1, no contract
    household_id: int  # "H1" in commune C11 (district D1)
    person_ids: list[
        int
    ]  # members of H1: [0] enrolled registered_poor, [1] enrolled five_year_continuous, [2] not enrolled
    other_person_id: int  # in neighbourhood N21 (district D2), enrolled


def seed_world(session: Session) -> World:
    """Locations VN > LC > D1 (C11, C12), D2 (N21); scheme VN-SHI (VND) with the period
    2024-07-01..2025-06-30 and the policy ``vn-shi-2024`` stored for it; providers PA (district,
    D1), PB (district, D2), both with a contract, PC (commune, D1) without; household H1 of three
    persons in C11 and household H2 of one person in N21. Does not commit."""
    from equicover.claims.service import store_policy_version
    from equicover.enrolment.schemas import SchemeIn
    from equicover.enrolment.service import create_scheme, enrol, open_period
    from equicover.providers.schemas import ContractIn, ProviderIn
    from equicover.providers.service import register_provider, sign_contract
    from equicover.registry.schemas import CategoryIn, HouseholdIn, LocationIn, PersonIn
    from equicover.registry.service import create_category, create_location, household_members, register_household

    for code, level, parent in [
        ("VN", "country", None),
        ("LC", "province", "VN"),
        ("D1", "district", "LC"),
        ("D2", "district", "LC"),
        ("C11", "commune", "D1"),
        ("C12", "commune", "D1"),
        ("N21", "neighbourhood", "D2"),
    ]:
        create_location(
            session=session, location=LocationIn(code=code, name=f"Place {code}", level=level, parent_code=parent)
        )
    scheme = create_scheme(
        session=session, scheme=SchemeIn(code="VN-SHI", name="Social health insurance", currency="VND")
    )
    period = open_period(session=session, scheme_id=scheme.id, starts=dt.date(2024, 7, 1), ends=dt.date(2025, 6, 30))
    version = store_policy_version(
        session=session,
        source_text=(POLICIES / "vn-shi-2024.toml").read_text(encoding="utf-8"),
        scheme_code="VN-SHI",
        actor="test",
    )
    providers = {}
    for code, level, location in [("PA", "district", "D1"), ("PB", "district", "D2"), ("PC", "commune", "D1")]:
        providers[code] = register_provider(
            session=session,
            provider=ProviderIn(
                code=code, name=f"Facility {code}", level=level, location_code=location, designated=True
            ),
        )
    for code in ("PA", "PB"):
        sign_contract(
            session=session,
            contract=ContractIn(
                scheme_code="VN-SHI",
                provider_code=code,
                starts=dt.date(2024, 7, 1),
                ends=dt.date(2025, 6, 30),
                payment_method="fee_for_service",
            ),
        )
    create_category(session=session, code="five_year_continuous", label="Five or more consecutive years of membership")
    poor = CategoryIn(category="registered_poor", valid_from=dt.date(2020, 1, 1))
    five_years = CategoryIn(category="five_year_continuous", valid_from=dt.date(2020, 1, 1))
    household = register_household(
        session=session,
        household=HouseholdIn(
            code="H1",
            location_code="C11",
            registered_on=dt.date(2020, 1, 1),
            members=[
                PersonIn(full_name="Member One", sex="female", birth_date=dt.date(1980, 5, 1), categories=[poor]),
                PersonIn(full_name="Member Two", sex="male", birth_date=dt.date(1978, 2, 3), categories=[five_years]),
                PersonIn(full_name="Member Three", sex="female", birth_date=dt.date(2010, 9, 9)),
            ],
        ),
    )
    members = household_members(session=session, household_id=household.id)
    other = register_household(
        session=session,
        household=HouseholdIn(
            code="H2",
            location_code="N21",
            registered_on=dt.date(2020, 1, 1),
            members=[PersonIn(full_name="Member Four", sex="male", birth_date=dt.date(1990, 1, 1))],
        ),
    )
    other_person = household_members(session=session, household_id=other.id)[0]
    for person in (members[0], members[1], other_person):
        enrol(
            session=session,
            person_id=person.id,
            scheme_id=scheme.id,
            period_id=period.id,
            starts=dt.date(2024, 7, 1),
            ends=dt.date(2025, 6, 30),
        )
    session.flush()
    return World(
        scheme_id=scheme.id,
        scheme_code="VN-SHI",
        period_id=period.id,
        policy_version_id=version.id,
        provider_a=providers["PA"].id,
        provider_b=providers["PB"].id,
        provider_c=providers["PC"].id,
        household_id=household.id,
        person_ids=[person.id for person in members],
        other_person_id=other_person.id,
    )
