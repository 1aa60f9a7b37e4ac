"""A populated web application for the demo and the browser tests.

:func:`seed_web_demo` takes a database and makes it ready to click through: a synthetic province
(``synth.service.generate``), its year of claims settled by the batch engine and stored
(``claims.bulk.load_settled_claims``), a verification sample of those claims
(``verification.service.draw_sample``) and one account per role, each in its own language if
asked. Everything goes through the domains' services.

``equicover web demo`` (see :mod:`equicover.web.cli`) runs it on the configured database and
prints the accounts; ``equicover serve`` then opens onto a populated application.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import equicover
from equicover.admin.service import create_user
from equicover.auth.roles import Role
from equicover.auth.service import generate_password
from equicover.claims.bulk import load_settled_claims
from equicover.claims.models import Claim as StoredClaim
from equicover.providers.models import Provider
from equicover.registry.dedupe import refresh_name_forms
from equicover.registry.models import Location
from equicover.settlement.loader import load_policy
from equicover.synth import parameters as synth_parameters
from equicover.synth.service import generate
from equicover.verification.service import draw_sample

DEMO_POLICY = Path(equicover.__file__).resolve().parents[1] / "policies" / "cn-yaan-2018.toml"
ACTOR = "web-demo"


@dataclass
class DemoAccounts:
    usernames: dict[Role, str] = field(default_factory=dict)  # role -> username
    passwords: dict[Role, str] = field(default_factory=dict)  # role -> password, random unless one was given
    district_code: str = ""
    provider_code: str = ""
    year: int = 2018
    claims: int = 0
    sampled: int = 0


def _busiest_district(session: Session) -> Location:
    """The district with the most facilities (the demo clerk, registrar and verifier work there)."""
    district_id = session.scalar(
        select(Location.district_id)
        .join(Provider, Provider.location_id == Location.id)
        .where(Location.district_id.is_not(None))
        .group_by(Location.district_id)
        .order_by(func.count(Provider.id).desc(), Location.district_id)
        .limit(1)
    )
    district = session.get(Location, district_id)
    assert district is not None, "the province has no facility"
    return district


def seed_web_demo(
    *,
    session: Session,
    people: int = 5_000,
    seed: int = 1,
    policy_path: Path = DEMO_POLICY,
    password: str | None = None,
    languages: dict[str, str] | None = None,
    sample_size: int = 40,
    work_dir: Path | None = None,
) -> DemoAccounts:
    """Generate a province and its year of claims, then :func:`prepare_web_demo`. Never commits."""
    policy = load_policy(policy_path)
    with tempfile.TemporaryDirectory(dir=work_dir) as folder:
        claims_path = Path(folder) / "claims.csv"
        generate(people=people, seed=seed, year=policy.effective_from.year, session=session, claims_path=claims_path)
        session.flush()
        return prepare_web_demo(
            session=session,
            policy_path=policy_path,
            claims_path=claims_path,
            password=password,
            languages=languages,
            sample_size=sample_size,
            seed=seed,
        )


def prepare_web_demo(
    *,
    session: Session,
    claims_path: Path,
    policy_path: Path = DEMO_POLICY,
    password: str | None = None,
    languages: dict[str, str] | None = None,
    sample_size: int = 40,
    seed: int = 1,
    claims_stored: bool = False,
) -> DemoAccounts:
    """On a database holding a generated province: settle and store its claims (unless
    ``claims_stored``: an earlier step of the demo stored them), draw a
    verification sample in the busiest district, and create one account per role (clerk at that
    district's county hospital, registrar and verifier of that district), each with a random
    password of its own unless ``password`` is given for all. Never commits."""
    policy = load_policy(policy_path)
    year = policy.effective_from.year
    languages = languages or {}
    if claims_stored:
        stored_claims = session.scalar(select(func.count()).select_from(StoredClaim)) or 0
    else:
        stored_claims = load_settled_claims(
            session=session,
            policy=policy,
            claims_path=claims_path,
            scheme_code=synth_parameters.SCHEME_CODE,
            actor=ACTOR,
        ).claims
    # The window's name search reads each person's romanised name forms (pinyin for Han names).
    refresh_name_forms(session=session)
    district = _busiest_district(session)
    district_locations = select(Location.id).where(Location.district_id == district.id)
    provider = session.scalar(
        select(Provider)
        .where(Provider.location_id.in_(district_locations), Provider.level == "county")
        .order_by(Provider.code)
        .limit(1)
    ) or session.scalar(
        select(Provider).where(Provider.location_id.in_(district_locations)).order_by(Provider.code).limit(1)
    )
    assert provider is not None
    sample = draw_sample(
        session=session,
        period_starts=dt.date(year, 1, 1),
        period_ends=dt.date(year, 12, 31),
        random_count=sample_size // 2,
        risk_count=sample_size - sample_size // 2,
        seed=seed,
        provider_ids=list(session.scalars(select(Provider.id).where(Provider.location_id.in_(district_locations)))),
        actor=ACTOR,
    )
    accounts = DemoAccounts(district_code=district.code, provider_code=provider.code, year=year)
    for role, options in (
        (Role.CLERK, {"provider_code": provider.code}),
        (Role.REGISTRAR, {"area_code": district.code}),
        (Role.VERIFIER, {"area_code": district.code}),
        (Role.FUND_MANAGER, {}),
        (Role.ANALYST, {}),
        (Role.ADMIN, {}),
    ):
        username = role.replace("_", "-")
        accounts.passwords[role] = password or generate_password()
        create_user(
            session=session,
            username=username,
            password=accounts.passwords[role],
            role=role,
            language=languages.get(role, "en"),
            actor=ACTOR,
            **options,
        )
        accounts.usernames[role] = username
    accounts.claims = stored_claims
    accounts.sampled = sample.random_count + sample.risk_count
    return accounts
